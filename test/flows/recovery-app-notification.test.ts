// "Approve a notification on my authenticator app": a device enrolled with a one-time link (the admin CLI's
// `users enrol-app`), the reference authenticator (scripts/authenticator.ts) as its app, and the recovery page that
// waits for its signed answer with the number it shows. Walked through HTTP against a running server; the app runs
// as a real child process where the test is about it, and as the script's functions where the test is about what
// the server accepts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { Browser, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { MANY_SIGN_IN_FAILURES, startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin, runScript } from '../helpers/admin-cli.ts';
import { allForms } from '../helpers/browser.ts';
import { formNamed, openSecurityInfoPage, postForm } from '../helpers/account-pages.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, identify, outbox, registerMethods, sendCode, submit, waitFor } from '../helpers/recovery.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { APP_NOTIFICATIONS, type AppNotificationDoc } from '../../src/delivery/app-push.ts';
import { APP_DEVICES, APP_REQUEST_NONCES, DEVICE_REQUESTS_PER_MINUTE, ENROLMENT_SECONDS } from '../../src/methods/app-devices.ts';
import { answer, enrol, pending, signedRequest } from '../../scripts/authenticator.ts';
import type { User } from '../../src/accounts/user-model.ts';

const AUTHENTICATOR = fileURLToPath(new URL('../../scripts/authenticator.ts', import.meta.url));
const GENEROUS = { perDestination10Min: 50, perDestinationHour: 50, perIpHour: 500, perAccountHour: 50, proofAttemptsPerDay: 50, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000, ...MANY_SIGN_IN_FAILURES };

/** `npm run authenticator -- <args>`, as a person runs it. */
const runAuthenticator = (args: string[]) => runScript(AUTHENTICATOR, args);

/** The number the waiting page shows, to enter in the app. */
const shownNumber = (page: Page) => /data-number="(\d+)"/.exec(page.body)?.[1];
const otherNumber = (number: string) => String((Number(number) + 1) % 100).padStart(2, '0');
const answerStatus = async (browser: Browser, page: Page) => JSON.parse((await browser.get(`${page.url.replace(/\?.*$/, '')}/call-status`)).body) as { answered: boolean };
/** The enrolment link "Your security info" shows (beside its QR code). */
const shownLink = (page: Page) => /id="app-device-link"[^>]*>([^<]+)</.exec(page.body)![1]!.replace(/&#x2F;|&#47;/g, '/');

const post = (url: string, form: Record<string, string>) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(form) });

describe('app notifications', () => {
  let server: TestServer;
  /** How far the server's clock runs ahead of the machine's (it runs on: proofs signed now stay fresh). */
  let ahead = 0;
  let dir: string;
  beforeAll(async () => {
    // A clock the tests move: an approval that outlives its number, an enrolment link that outlives its time.
    server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + ahead });
    dir = await mkdtemp(join(tmpdir(), 'latchkey-authenticator-'));
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    ahead = 0;
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ['email', 'sms', 'app_notification', 'totp'], limits: GENEROUS });
  });

  /** A one-time enrolment link for `user`, from the admin CLI. */
  async function enrolmentLink(user: User): Promise<string> {
    const run = await runAdmin(server.dbUri, ['users', 'enrol-app', user.username, '--json']);
    expect(run.code).toBe(0);
    return (JSON.parse(run.stdout) as { link: string }).link;
  }

  /** A user with an enrolled device, whose store file the app functions use. */
  async function userWithDevice(): Promise<{ user: User; store: string }> {
    const user = await createUser(server);
    const store = join(dir, `${user.username}.json`);
    await enrol(await enrolmentLink(user), 'Test phone', store);
    return { user, store };
  }

  /** "Get back into your account" as far as the page that waits for the app, with its number. */
  async function notificationSent(user: User, browser = new Browser(), goal: 'reset' | 'unlock' = 'reset'): Promise<Page> {
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), goal);
    expect(messageIds(methods)).toContain('recover.method_app_notification');
    const chosen = await chooseMethod(browser, methods, 'app_notification');
    // Said for the goal chosen: the reset's words on the unlock branch would promise a new password.
    expect(messageIds(chosen)).toContain(goal === 'unlock' ? 'recover.push_intro_unlock' : 'recover.push_intro');
    expect(chosen.body.includes('to unlock your account.')).toBe(goal === 'unlock');
    const waiting = await sendCode(browser, chosen);
    expect(messageIds(waiting)).toContain('recover.push_placed');
    expect(shownNumber(waiting)).toMatch(/^\d{2}$/);
    return waiting;
  }

  const notificationFor = (store: string) => waitFor(() => pending(store).then((n) => n ?? undefined), 'the app notification');

  it('resets a password with the reference authenticator, enrolled from an admin link, once it approves the number the page shows', async () => {
    const user = await createUser(server);
    const store = join(dir, 'person.json');
    // A name with a right-to-left override (which would make a notice read backwards) is stored without it.
    const enrolled = await runAuthenticator(['enrol', await enrolmentLink(user), '--name', '\u202EAda’s phone', '--store', store]);
    expect(enrolled).toMatchObject({ code: 0, stdout: expect.stringContaining(`Enrolled for ${user.username}`) });
    const stored = await server.connection.db!.collection<User>('users').findOne({ _id: user._id });
    expect(stored?.securityInfo.appDevice).toMatchObject({ name: 'Ada’s phone', id: expect.any(String) });
    expect(await server.connection.db!.collection(APP_DEVICES).countDocuments({ _id: stored!.securityInfo.appDevice!.id } as never)).toBe(1);
    // The owner hears of it on the contacts the account had (its email), with the "This wasn't me" link.
    const told = await waitFor(async () => (await outbox(server)).find((m) => m.to === user.email && m.text.includes('authenticator app enrolled for notifications')), 'the owner told');
    // Without saying who: the link may have been an administrator's or the owner's.
    expect(told.text).toContain('The ways to verify your identity for your account');
    expect(told.text).not.toContain('An administrator');

    const browser = new Browser();
    const waiting = await notificationSent(user, browser);
    const number = shownNumber(waiting)!;
    // Not approved yet: Continue says so, and nothing moves.
    const early = await submit(browser, waiting, '/answered');
    expect(messageIds(early)).toContain('recover.push_not_yet');

    // The number is on the screen of whoever asked, never in the notification: the app's person must read it there.
    const notification = await notificationFor(store);
    expect(Object.keys(notification).sort()).toEqual(['answerUrl', 'createdAt', 'digits', 'expiresAt', 'text']);
    expect(notification).toMatchObject({ digits: 2, text: expect.stringContaining('Latchkey') });
    expect(notification.text).not.toContain(number);
    expect((await runAuthenticator(['pending', '--store', store])).stdout).toContain(notification.text);
    // A wrong number is refused (and counted); the right one approves, and the page moves on.
    expect(await runAuthenticator(['approve', otherNumber(number), '--store', store])).toMatchObject({ code: 1, stdout: expect.stringContaining('Not approved: wrong') });
    expect(await runAuthenticator(['approve', number, '--store', store])).toMatchObject({ code: 0, stdout: expect.stringContaining('Approved.') });
    expect((await runAuthenticator(['pending', '--store', store])).stdout).toContain('Nothing waiting.');
    expect(await answerStatus(browser, waiting)).toEqual({ answered: true });
    const next = await submit(browser, early, '/answered');
    expect(messageIds(next)).toContain('recover.password_heading');
    const audit = await server.connection.db!.collection(AUDIT_COLLECTION).find({ accountId: user._id, method: { $in: ['app_notification', 'appDevice'] } }).toArray();
    expect(audit.map((event) => [event.type, event.reason])).toEqual(
      expect.arrayContaining([
        ['security_info.changed', 'app_enrolled'],
        ['code.failed', 'app_wrong'],
        ['recovery.step', 'app_accepted'],
        ['code.verified', undefined],
      ]),
    );
  });

  it('refuses a denied notification, saying only that it was not approved', async () => {
    const { user, store } = await userWithDevice();
    const browser = new Browser();
    const waiting = await notificationSent(user, browser);
    const { answerUrl } = await notificationFor(store);
    expect(await answer(store, 'deny')).toBe('denied');
    const refused = await submit(browser, waiting, '/answered');
    expect(messageIds(refused)).toContain('recover.push_refused');
    expect(messageIds(refused)).not.toContain('recover.password_heading');
    // Its number is dead: not shown, nothing waited for; Send again is what is left to press.
    expect(shownNumber(refused)).toBeUndefined();
    expect(messageIds(refused)).not.toContain('recover.call_continue');
    expect(refused.body).not.toContain('/call-status');
    expect(messageIds(refused)).toContain('recover.push_again');
    // The app is no longer shown it, and the number can no longer approve it.
    expect(await pending(store)).toBeNull();
    const late = await post(answerUrl, { token: await signedRequest(store, answerUrl, { decision: 'approve', number: shownNumber(waiting)! }) });
    expect(await late.json()).toEqual({ result: 'ended' });
  });

  it('refuses answers signed by another device, replayed, or from a device removed since', async () => {
    const { user, store } = await userWithDevice();
    const other = await userWithDevice();
    const browser = new Browser();
    const waiting = await notificationSent(user, browser);
    const { answerUrl } = await notificationFor(store);
    const number = shownNumber(waiting)!;

    // Another account's device, though its signature is its own: refused, nothing counted.
    const foreign = await post(answerUrl, { token: await signedRequest(other.store, answerUrl, { decision: 'approve', number }) });
    expect(foreign.status).toBe(403);
    // A key nobody enrolled, claiming to be this device.
    const { privateKey } = await generateKeyPair('ES256');
    const device = (await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))!.securityInfo.appDevice!.id;
    const forged = await new SignJWT({ decision: 'approve', number }).setProtectedHeader({ alg: 'ES256' }).setSubject(device).setAudience(answerUrl).setIssuedAt().setJti('a-nonce-of-sixteen-chars').sign(privateKey);
    expect((await post(answerUrl, { token: forged })).status).toBe(403);
    // Signed for another URL (the pending endpoint's audience): refused here.
    expect((await post(answerUrl, { token: await signedRequest(store, `${server.origin}/authenticator/pending`, { decision: 'approve', number }) })).status).toBe(403);
    // The same signed answer twice: the second is a replay.
    const wrong = await signedRequest(store, answerUrl, { decision: 'approve', number: otherNumber(number) });
    expect(await (await post(answerUrl, { token: wrong })).json()).toEqual({ result: 'wrong' });
    expect((await post(answerUrl, { token: wrong })).status).toBe(403);
    // Signed by the device, but neither approving with a number nor denying: the app's mistake, a 400 that counts nothing.
    const undecided = await post(answerUrl, { token: await signedRequest(store, answerUrl, { decision: 'maybe' }) });
    expect(undecided.status).toBe(400);
    expect(await undecided.json()).toMatchObject({ error: 'invalid_request', support_code: expect.any(String) });
    expect(await answerStatus(browser, waiting)).toEqual({ answered: false });

    // Removed by an administrator: its key no longer proves anything, and it is told nothing waits.
    const removed = await runAdmin(server.dbUri, ['users', 'set-methods', user.username, '--remove-app-device', '--json']);
    expect(removed.code).toBe(0);
    expect(JSON.parse(removed.stdout)).toMatchObject({ appDevice: null });
    expect((await post(answerUrl, { token: await signedRequest(store, answerUrl, { decision: 'approve', number }) })).status).toBe(403);
    await expect(pending(store)).rejects.toThrow(/refused this device \(401\)/);
  });

  it('enrols one device per link, and answers one signed request once, however many race', async () => {
    const user = await createUser(server);
    const link = await enrolmentLink(user);
    const racers = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => enrol(link, `Racer ${i}`, join(dir, `${user.username}-race-${i}.json`))));
    expect(racers.filter((racer) => racer.status === 'fulfilled')).toHaveLength(1);
    for (const racer of racers) if (racer.status === 'rejected') expect(String(racer.reason)).toMatch(/enrolment refused \(400\): invalid_token/);
    expect(await server.connection.db!.collection(APP_DEVICES).countDocuments({ accountId: user._id })).toBe(1);
    // The winner's one signed request, posted eight times at once: served once, the replays refused.
    const winner = racers.findIndex((racer) => racer.status === 'fulfilled');
    const url = `${server.origin}/authenticator/pending`;
    const token = await signedRequest(join(dir, `${user.username}-race-${winner}.json`), url);
    const statuses = await Promise.all(Array.from({ length: 8 }, async () => (await post(url, { token })).status));
    expect(statuses.sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
  });

  it('gives one key to one of two accounts racing to enrol it', async () => {
    const enrolUrl = `${server.origin}/authenticator/enrol`;
    for (let round = 0; round < 3; round += 1) {
      const accounts = [await createUser(server), await createUser(server)];
      const tokens = await Promise.all(accounts.map(async (account) => new URL(await enrolmentLink(account)).hash.slice(1)));
      const shared = await generateKeyPair('ES256', { extractable: true });
      const jwk = await exportJWK(shared.publicKey);
      const proofs = await Promise.all(tokens.map((token) => new SignJWT({ token }).setProtectedHeader({ alg: 'ES256', jwk }).setAudience(enrolUrl).setIssuedAt().sign(shared.privateKey)));
      const answers = await Promise.all(tokens.map(async (token, i) => (await post(enrolUrl, { token, proof: proofs[i]! })).json() as Promise<Record<string, unknown>>));
      expect(answers.map((answer) => answer.error ?? 'enrolled').sort()).toEqual(['enrolled', 'invalid_key']);
      const holders = await server.connection.db!.collection<User>('users').countDocuments({ _id: { $in: accounts.map((account) => account._id) }, 'securityInfo.appDevice': { $exists: true } });
      expect(holders).toBe(1);
    }
  });

  it('holds a device to its budget of polls a minute: the one over is a 429 to wait out that stores nothing, and answers still go', async () => {
    const { user, store } = await userWithDevice();
    const url = `${server.origin}/authenticator/pending`;
    for (let i = 0; i < DEVICE_REQUESTS_PER_MINUTE; i += 1) expect((await post(url, { token: await signedRequest(store, url) })).status).toBe(200);
    const token = await signedRequest(store, url);
    const over = await post(url, { token });
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('60');
    expect(await over.json()).toMatchObject({ error: 'too_many_requests', support_code: expect.any(String) });
    const { sub, jti } = decodeJwt(token);
    expect(await server.connection.db!.collection(APP_REQUEST_NONCES).findOne({ _id: `${sub}:${jti}` } as never)).toBeNull();
    await expect(pending(store)).rejects.toThrow(/too many requests from this device/);
    // Its answers are counted apart: polling at the limit, it still approves.
    const waiting = await notificationSent(user);
    const { answerUrl } = await waitFor(() => server.connection.db!.collection<AppNotificationDoc>(APP_NOTIFICATIONS).findOne({ _id: sub! }).then((n) => n ?? undefined), 'the notification stored');
    const approval = await signedRequest(store, answerUrl, { decision: 'approve', number: shownNumber(waiting)! });
    expect(await (await post(answerUrl, { token: approval })).json()).toEqual({ result: 'accepted' });
    // A minute on, it is served again.
    ahead += 61_000;
    const later = await signedRequest(store, url, {}, Math.floor((Date.now() + ahead) / 1000));
    expect((await post(url, { token: later })).status).toBe(200);
  });

  it('refuses an approval once its number has expired, and no longer shows the app its notification', async () => {
    const { user, store } = await userWithDevice();
    const browser = new Browser();
    const waiting = await notificationSent(user, browser, 'unlock');
    const { answerUrl } = await notificationFor(store);
    ahead += 11 * 60_000; // past the number's 10 minutes
    // The app, asking what waits, is shown nothing any more.
    const pendingUrl = `${server.origin}/authenticator/pending`;
    const polled = await post(pendingUrl, { token: await signedRequest(store, pendingUrl, {}, Math.floor((Date.now() + ahead) / 1000)) });
    expect(polled.status).toBe(200);
    expect(await polled.json()).toEqual({ notification: null });
    const late = await signedRequest(store, answerUrl, { decision: 'approve', number: shownNumber(waiting)! }, Math.floor((Date.now() + ahead) / 1000));
    expect(await (await post(answerUrl, { token: late })).json()).toEqual({ result: 'ended' });
    expect(await answerStatus(browser, waiting)).toEqual({ answered: false });
  });

  it('lets the owner enrol an app from "Your security info" with a link shown as a QR code, and then offers it for recovery', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    expect(messageIds(page)).toContain('security_info.appDevice');
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    expect(messageIds(shown)).toEqual(expect.arrayContaining(['security_info.app_device_steps', 'security_info.app_device_link']));
    expect(shown.body).toContain('<svg');
    const link = shownLink(shown);
    expect(link).toMatch(new RegExp(`^${server.origin}/authenticator/enrol#[\\w-]{43}$`));
    // Opened in a browser by mistake, the link says it is the app's, and still works after.
    expect(messageIds(await new Browser().get(link))).toContain('security_info.app_link_page_title');
    // Not enrolled yet: Continue says so, and the link stays on the page.
    const early = await postForm(browser, formNamed(shown, 'verify'));
    expect(messageIds(early)).toEqual(expect.arrayContaining(['security_info.app_not_enrolled', 'security_info.app_device_link']));

    const store = join(dir, `${user.username}-own.json`);
    await enrol(link, 'Pixel', store);
    const saved = await postForm(browser, formNamed(early, 'verify'));
    expect(messageIds(saved)).toContain('security_info.said_saved');
    expect(saved.body).toContain('Pixel');
    // A recovery now offers it, and the app approves.
    const waiting = await notificationSent(user);
    await notificationFor(store);
    expect(await answer(store, { approve: shownNumber(waiting)! })).toBe('accepted');

    // Opened again later, the page is closed to changes until a method is proved, and an app's device cannot be
    // proved here: the password alone changes nothing.
    const again = await openSecurityInfoPage(server, user);
    expect(messageIds(again.page)).toContain('security_info.prove_none');
    expect(allForms(again.page).some((f) => f.action.endsWith('/add'))).toBe(false);
  });

  it('says on "Your security info" when the link shown has expired, and shows it no more', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    const link = shownLink(shown);
    ahead += (ENROLMENT_SECONDS + 60) * 1000;
    const late = await postForm(browser, formNamed(shown, 'verify'));
    expect(messageIds(late)).toContain('security_info.app_link_expired');
    expect(messageIds(late)).not.toContain('security_info.app_not_enrolled');
    expect(messageIds(late)).not.toContain('security_info.app_device_link');
    // "Set it up now" is offered again, for a new link.
    expect(formNamed(late, 'add', 'appDevice')).toBeDefined();
    await expect(enrol(link, 'Late phone', join(dir, `${user.username}-expired.json`))).rejects.toThrow(/enrolment refused \(400\)/);
  });

  it('takes on "Your security info" only the device its own link enrolled, and Back voids that link', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    const link = shownLink(shown);
    // Meanwhile a device enrolls with an administrator's link: not the one this page waits for.
    await enrol(await enrolmentLink(user), 'Admin-given phone', join(dir, `${user.username}-admin.json`));
    const notYet = await postForm(browser, formNamed(shown, 'verify'));
    expect(messageIds(notYet)).toContain('security_info.app_not_enrolled');
    // Back: the link shown no longer enrols anything.
    const continueForm = formNamed(notYet, 'verify');
    const back = await postForm(browser, { ...continueForm, action: continueForm.action.replace(/\/verify$/, '/back') });
    expect(messageIds(back)).not.toContain('security_info.app_device_link');
    await expect(enrol(link, 'Late phone', join(dir, `${user.username}-late.json`))).rejects.toThrow(/enrolment refused \(400\): invalid_token/);
    const stored = await server.connection.db!.collection<User>('users').findOne({ _id: user._id });
    expect(stored?.securityInfo.appDevice?.name).toBe('Admin-given phone');
  });

  it('voids the link shown on "Your security info" when another method is chosen instead', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    const link = shownLink(shown);
    const other = await postForm(browser, formNamed(page, 'add', 'authenticator'));
    expect(messageIds(other)).not.toContain('security_info.app_device_link');
    await expect(enrol(link, 'Late phone', join(dir, `${user.username}-other.json`))).rejects.toThrow(/enrolment refused \(400\): invalid_token/);
  });

  it('voids the link shown on "Your security info" when the owner removes a method or leaves with "Looks good" in another tab', async () => {
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { mobilePhone: '+14155550162', authenticator: true });
    const { browser, page } = await openSecurityInfoPage(server, user);
    const asked = await postForm(browser, formNamed(page, 'prove'), { kind: 'authenticator' });
    const proved = await postForm(browser, formNamed(asked, 'verify'), { code: totp() });
    expect(messageIds(proved)).toContain('security_info.said_proved');
    const shown = await postForm(browser, formNamed(proved, 'add', 'appDevice'));
    const link = shownLink(shown);
    // The page showing the link offers only Continue and Back; the list in another tab still offers the rest.
    const changeOrRemove = formNamed(proved, 'add', 'mobilePhone');
    const removed = await postForm(browser, { ...changeOrRemove, action: changeOrRemove.action.replace(/\/add$/, '/remove') });
    expect(messageIds(removed)).toContain('security_info.said_removed');
    expect(messageIds(removed)).not.toContain('security_info.app_device_link');
    await expect(enrol(link, 'Late phone', join(dir, `${user.username}-removed.json`))).rejects.toThrow(/enrolment refused \(400\): invalid_token/);

    const again = await postForm(browser, formNamed(removed, 'add', 'appDevice'));
    const secondLink = shownLink(again);
    const done = await postForm(browser, formNamed(removed, 'done'));
    expect(messageIds(done)).toContain('security_info.done_body');
    await expect(enrol(secondLink, 'Late phone', join(dir, `${user.username}-done.json`))).rejects.toThrow(/enrolment refused \(400\): invalid_token/);
    expect((await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))?.securityInfo.appDevice).toBeUndefined();
  });

  it('voids a link from "Your security info" with a set-password after it, though the server that made it has a clock ahead', async () => {
    const user = await createUser(server);
    ahead += 10 * 60_000; // the instance that shows the link runs ten minutes ahead of the one the administrator uses
    const { browser, page } = await openSecurityInfoPage(server, user);
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    const link = shownLink(shown);
    expect((await runAdmin(server.dbUri, ['users', 'set-password', user.username, '--password-stdin'], { input: 'a new password of my own choosing\n' })).code).toBe(0);
    // A proof the server takes as fresh (its clock is ahead), so that only the link can be refused.
    const enrolUrl = link.replace(/#.*$/, '');
    const token = new URL(link).hash.slice(1);
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const proof = await new SignJWT({ token }).setProtectedHeader({ alg: 'ES256', jwk: await exportJWK(publicKey) }).setAudience(enrolUrl).setIssuedAt(Math.floor((Date.now() + ahead) / 1000)).sign(privateKey);
    const refused = await post(enrolUrl, { token, name: 'Phone', proof });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: 'invalid_token' });
    expect((await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))?.securityInfo.appDevice).toBeUndefined();
  });

  it('says when the enrolment link shown on "Your security info" has expired', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    const shown = await postForm(browser, formNamed(page, 'add', 'appDevice'));
    ahead += (ENROLMENT_SECONDS + 1) * 1000;
    const expired = await postForm(browser, formNamed(shown, 'verify'));
    expect(messageIds(expired)).toContain('security_info.app_link_expired');
    expect(messageIds(expired)).not.toContain('security_info.app_device_link');
  });

  it('enrols once per link, only with a proof signed by the key it enrols, and not after the link has expired', async () => {
    const user = await createUser(server);
    const link = await enrolmentLink(user);
    const enrolUrl = link.replace(/#.*$/, '');
    const token = new URL(link).hash.slice(1);
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const proof = (claims: Record<string, unknown>, jwk: object = publicJwk, key = privateKey) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', jwk: jwk as never }).setAudience(enrolUrl).setIssuedAt().sign(key);
    const enrolWith = async (form: Record<string, string>) => {
      const response = await post(enrolUrl, form);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    // A key in the header that did not sign; a private key in the header; a proof for another token.
    const stranger = await generateKeyPair('ES256', { extractable: true });
    expect(await enrolWith({ token, proof: await proof({ token }, publicJwk, stranger.privateKey) })).toMatchObject({ status: 400, body: { error: 'invalid_proof', support_code: expect.any(String) } });
    expect(await enrolWith({ token, proof: await proof({ token }, await exportJWK(privateKey)) })).toMatchObject({ status: 400, body: { error: 'invalid_key' } });
    expect(await enrolWith({ token, proof: await proof({ token: 'another' }) })).toMatchObject({ status: 400, body: { error: 'invalid_proof' } });
    expect((await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))?.securityInfo.appDevice).toBeUndefined();
    // The right proof enrols, once.
    expect(await enrolWith({ token, name: 'Phone', proof: await proof({ token }) })).toMatchObject({ status: 200, body: { account: user.username } });
    expect(await enrolWith({ token, name: 'Phone', proof: await proof({ token }) })).toMatchObject({ status: 400, body: { error: 'invalid_token' } });
    // The same key for another account, while this one has it: refused (one key serves one account).
    const other = await createUser(server);
    const otherToken = new URL(await enrolmentLink(other)).hash.slice(1);
    expect(await enrolWith({ token: otherToken, proof: await proof({ token: otherToken }) })).toMatchObject({ status: 400, body: { error: 'invalid_key' } });
    // A disabled account enrols nothing, whatever link it was given before.
    const disabled = await createUser(server);
    const disabledToken = new URL(await enrolmentLink(disabled)).hash.slice(1);
    expect((await runAdmin(server.dbUri, ['users', 'disable', disabled.username])).code).toBe(0);
    expect(await enrolWith({ token: disabledToken, proof: await proof({ token: disabledToken }) })).toMatchObject({ status: 400, body: { error: 'invalid_token' } });
    expect((await server.connection.db!.collection<User>('users').findOne({ _id: disabled._id }))?.securityInfo.appDevice).toBeUndefined();
    // Nor does a link made before a "This wasn't me" lockdown, or before a new password ended every session's access.
    const lockedDown = await createUser(server);
    const lockedDownToken = new URL(await enrolmentLink(lockedDown)).hash.slice(1);
    await server.latchkey.accounts.lockDown(lockedDown._id);
    expect(await enrolWith({ token: lockedDownToken, proof: await proof({ token: lockedDownToken }) })).toMatchObject({ status: 400, body: { error: 'invalid_token' } });
    const passwordSet = await createUser(server);
    const passwordSetToken = new URL(await enrolmentLink(passwordSet)).hash.slice(1);
    expect((await runAdmin(server.dbUri, ['users', 'set-password', passwordSet.username, '--password-stdin'], { input: 'a new password of my own choosing\n' })).code).toBe(0);
    expect(await enrolWith({ token: passwordSetToken, proof: await proof({ token: passwordSetToken }) })).toMatchObject({ status: 400, body: { error: 'invalid_token' } });
    // A link made after the new password works: the account itself can still enrol.
    await enrol(await enrolmentLink(passwordSet), 'Phone', join(dir, `${passwordSet.username}.json`));
    expect((await server.connection.db!.collection<User>('users').findOne({ _id: passwordSet._id }))?.securityInfo.appDevice?.name).toBe('Phone');
    // A link past its time enrols nothing.
    const late = await enrolmentLink(user);
    ahead += (ENROLMENT_SECONDS + 60) * 1000;
    const lateToken = new URL(late).hash.slice(1);
    const lateProof = await new SignJWT({ token: lateToken }).setProtectedHeader({ alg: 'ES256', jwk: publicJwk }).setAudience(enrolUrl).setIssuedAt(Math.floor((Date.now() + ahead) / 1000)).sign(privateKey);
    expect(await enrolWith({ token: lateToken, proof: lateProof })).toMatchObject({ status: 400, body: { error: 'invalid_token' } });
  });
});
