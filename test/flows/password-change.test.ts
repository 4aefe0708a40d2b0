// "Change your password" (ASVS 6.2.2 / 6.2.3) at /account/password: the current password is required and checked as at
// sign-in (one answer for an unknown login and a wrong password, counted by the lockout, the address's CAPTCHA past
// its failures); the new one meets the rules; the change ends every session and token of the account, is audited,
// and is told to the owner with "This wasn't me". Anything refused changes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, outbox, waitFor } from '../helpers/recovery.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { collectionName } from '../../src/oidc/adapter.ts';
import type { User } from '../../src/accounts/user-model.ts';

const NEW_PASSWORD = 'lantern orchard velvet compass';

let server: TestServer;
let config: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  // Behind a proxy, so that a test can come from an address of its own (X-Forwarded-For), whose failures count alone.
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, TRUST_PROXY: 'true' });
  config = await discover(server, await createClient(server));
});
afterAll(() => server.close());

const stored = async (user: User) => (await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))!;
const storedFor = (model: string, accountId: string) => server.connection.db!.collection(collectionName(model)).countDocuments({ 'payload.accountId': accountId });
const passwordWorks = async (user: User, password: string) => (await server.latchkey.accounts.signIn(user.username, password)).ok;

async function openForm(browser: Browser): Promise<Page> {
  const page = await browser.get(`${server.origin}/account/password`);
  expect(page.status).toBe(200);
  return page;
}

/**
 * Posts the change form of `page` with these fields over its own. A refusal is a redirect to the form (so that a
 * reload posts no password again), followed here to the form saying why.
 */
async function post(browser: Browser, page: Page, fields: Record<string, string>): Promise<Page> {
  return (await answered(browser, page, fields)).page;
}

/** The post's own answer, and the page it leads to when it is a refusal (else the answer itself). */
async function answered(browser: Browser, page: Page, fields: Record<string, string>): Promise<{ answer: Page; page: Page }> {
  const form = findForm(page, '/account/password');
  const answer = await browser.post(form.action, { ...form.fields, ...fields });
  const refused = answer.status === 303 && answer.headers.get('location') === '/account/password';
  return { answer, page: refused ? await browser.follow(answer) : answer };
}

const change = (user: User, current: string, password = NEW_PASSWORD, confirm = password) => ({ login: user.username, current, password, confirm });

describe('a change of password by its owner', () => {
  it('needs the current password, then ends every session and token, is audited and told to the owner', async () => {
    const user = await createUser(server);
    // Signed in at a relying party before the change, in another browser.
    const other = new Browser();
    const start = await authorizationUrl(config, redirectUri());
    const callback = await signInAndConsent(other, start, user.username, redirectUri());
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    expect(await storedFor('RefreshToken', user._id)).toBe(1);

    const browser = new Browser();
    const form = await openForm(browser);
    expect(messageIds(form)).toEqual(expect.arrayContaining(['change_password.title', 'change_password.current', 'password.rules_title', 'change_password.forgot']));
    const noticesBefore = (await outbox(server)).filter((m) => m.to === user.email).length;
    const posted = await post(browser, form, change(user, PASSWORD));
    expect(posted.status).toBe(303);
    expect(posted.headers.get('location')).toBe('/account/password/done');
    const done = await browser.follow(posted);
    expect(done.status).toBe(200);
    expect(messageIds(done)).toEqual(expect.arrayContaining(['change_password.done_title', 'change_password.done_body']));
    expect(done.body).toContain(user.username);
    // Shown once: a reload, or the next person at this browser, gets the form.
    const again = await browser.get(`${server.origin}/account/password/done`);
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/account/password');

    expect(await passwordWorks(user, PASSWORD)).toBe(false);
    expect(await passwordWorks(user, NEW_PASSWORD)).toBe(true);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const silent = await authorizationUrl(config, redirectUri(), { prompt: 'none', scope: 'openid' });
    const landed = await other.follow(await other.get(silent.url.href), redirectUri());
    expect(new URL(landed.url).searchParams.get('error')).toBe('login_required');
    // Not only refused: deleted.
    for (const model of ['Session', 'Grant', 'AccessToken', 'RefreshToken']) expect(await storedFor(model, user._id)).toBe(0);

    const recorded = await server.connection.db!.collection(AUDIT_COLLECTION).findOne({ type: 'password.changed', accountId: user._id });
    expect(recorded).toMatchObject({ reason: 'self', ip: expect.any(String), supportCode: expect.any(String) });
    const notice = await waitFor(async () => (await outbox(server)).filter((m) => m.to === user.email)[noticesBefore], 'the change notice');
    expect(notice.subject).toBe('Your password was changed');
    expect(notice.text).toMatch(/\/recover\/lockdown\/[\w-]{43}/); // "This wasn't me"
  });

  it('answers both posts of a double click with the done page, and changes the password once', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const form = await openForm(browser);
    // Both check the current password before either writes; the one written second finds the account changed.
    const both = await Promise.all([1, 2].map(() => answered(browser, form, change(user, PASSWORD))));
    for (const { answer } of both) expect(answer.headers.get('location')).toBe('/account/password/done');
    expect(messageIds(await browser.follow(both[1]!.answer))).toContain('change_password.done_title');
    expect(await passwordWorks(user, NEW_PASSWORD)).toBe(true);
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'password.changed', accountId: user._id })).toBe(1);
  });

  it('answers the same form posted again after the change (a slower double click) with the done page, counting no wrong password', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const form = await openForm(browser);
    const first = await answered(browser, form, change(user, PASSWORD));
    expect(first.answer.headers.get('location')).toBe('/account/password/done');
    // Its current password is no longer the account's, but it is this browser's form again, choosing what was saved.
    const again = await answered(browser, form, change(user, PASSWORD));
    expect(again.answer.headers.get('location')).toBe('/account/password/done');
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 0 });
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'password.changed', accountId: user._id })).toBe(1);
    // Another browser's form with the old password is refused as a wrong password, as ever.
    const other = new Browser();
    expect(messageIds(await post(other, await openForm(other), change(user, PASSWORD, 'yet another long passphrase')))).toContain('login.invalid');
    // And this browser's form with any other field is a post of its own: a guess at the new password is no twin.
    expect(messageIds(await post(browser, form, change(user, 'not the current password at all', NEW_PASSWORD)))).toContain('login.invalid');
  });

  it('after a refused try, answers the corrected form posted twice with the done page twice', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const form = await openForm(browser);
    expect(messageIds(await post(browser, form, change(user, 'a mistyped current password')))).toContain('login.invalid');
    for (let time = 0; time < 2; time += 1) expect((await answered(browser, form, change(user, PASSWORD))).answer.headers.get('location')).toBe('/account/password/done');
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'password.changed', accountId: user._id })).toBe(1);
  });

  it('answers an unknown login and a wrong current password alike, whatever the new one, counts the wrong one for the lockout, and changes nothing', async () => {
    const user = await createUser(server);
    const before = await stored(user);
    const browser = new Browser();
    const wrong = await answered(browser, await openForm(browser), change(user, 'not the right password at all'));
    const unknown = await answered(browser, await openForm(browser), { ...change(user, PASSWORD), login: 'nobody-by-this-name@example.test' });
    // A new password the rules refuse is not judged before the current one is proven: it would tell the account exists.
    const wrongAndWeak = await answered(browser, await openForm(browser), change(user, 'not the right password either', user.username.repeat(3)));
    const cookieNames = (page: Page) => page.headers.getSetCookie().map((cookie) => cookie.split('=')[0]);
    for (const { answer, page } of [wrong, unknown, wrongAndWeak]) {
      // The same redirect to the form, with the same cookie (what it says next), then the same page.
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe('/account/password');
      expect(cookieNames(answer)).toEqual(['lk_password_retry', 'lk_password_retry.sig']);
      expect(page.status).toBe(200);
      expect(messageIds(page)).toEqual(messageIds(wrong.page));
      expect(messageIds(page)).toContain('login.invalid');
      expect(findForm(page, '/account/password').fields.current).toBe(''); // no password is sent back
      expect(cookieNames(page)).toEqual(cookieNames(wrong.page));
      // With the refused post's support code, which its request line in the log has, not the page's own.
      expect(page.body).toContain(`Support code: ${answer.headers.get('x-request-id')}`);
    }
    expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(2);
    expect((await stored(user)).passwordHash).toBe(before.passwordHash);
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'password.changed', accountId: user._id })).toBe(0);
  });

  it('asks for the current password when it is left empty, counting no wrong password', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const empty = await post(browser, await openForm(browser), change(user, ''));
    expect(messageIds(empty)).toContain('login.missing');
    expect(findForm(empty, '/account/password').fields.login).toBe(user.username);
    expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(0);
    expect(await passwordWorks(user, PASSWORD)).toBe(true);
  });

  it('refuses a new password that differs from its confirmation, is the current one, or breaks the rules, with the reason', async () => {
    const user = await createUser(server);
    const before = await stored(user);
    const browser = new Browser();
    for (const [fields, error] of [
      [change(user, PASSWORD, NEW_PASSWORD, `${NEW_PASSWORD}!`), 'recover.password_mismatch'],
      [change(user, PASSWORD, PASSWORD), 'change_password.same'],
      [change(user, PASSWORD, 'Password123456789'), 'password.predictable'],
      [change(user, PASSWORD, 'short'), 'password.too_short'],
    ] as const) {
      const page = await post(browser, await openForm(browser), fields);
      expect(page.status).toBe(200);
      expect(messageIds(page)).toContain(error);
      expect(page.body).toMatch(/id="password"[^>]*aria-invalid="true"|id="confirm"[^>]*aria-invalid="true"/);
    }
    expect((await stored(user)).passwordHash).toBe(before.passwordHash);
    expect(await passwordWorks(user, PASSWORD)).toBe(true);
  });

  it('refuses a form without its CSRF token, and a locked-down or disabled account like a wrong password', async () => {
    const user = await createUser(server);
    const before = await stored(user);
    const browser = new Browser();
    const forged = await browser.post(`${server.origin}/account/password`, change(user, PASSWORD));
    expect(forged.status).toBe(403);
    expect(messageIds(forged)).toContain('error.csrf');
    expect((await stored(user)).passwordHash).toBe(before.passwordHash);

    for (const [command, undo] of [['lock-down', 'unlock'], ['disable', 'enable']] as const) {
      expect((await runAdmin(server.dbUri, ['users', command, user.username])).code).toBe(0);
      const refused = await post(browser, await openForm(browser), change(user, PASSWORD));
      expect(messageIds(refused)).toContain('login.invalid');
      expect((await stored(user)).passwordHash).toBe(before.passwordHash);
      expect((await runAdmin(server.dbUri, ['users', undo, user.username])).code).toBe(0);
    }
  });

  it("asks for the CAPTCHA once the address is past the sign-in's failures, and checks it before the password", async () => {
    const user = await createUser(server);
    const { signInFailuresPerIpHour } = (await server.latchkey.policy.current()).limits;
    await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 1 } });
    try {
      // An address of its own, whose one failure is on the sign-in page: the two pages share one count.
      const browser = new Browser({ publicOrigin: server.origin, serverOrigin: server.origin, headers: { 'x-forwarded-for': '192.0.2.77' } });
      expect(messageIds(await openForm(browser))).not.toContain('change_password.captcha_intro');
      const signInPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri())).url);
      const signIn = findForm(signInPage, '/login');
      await browser.post(signIn.action, { ...signIn.fields, login: user.username, password: 'a wrong guess at the password' });
      const failures = (await server.latchkey.accounts.lockoutState(user._id)).failures;

      const challenged = await openForm(browser);
      expect(messageIds(challenged)).toContain('change_password.captcha_intro');
      const refused = await post(browser, challenged, { ...change(user, PASSWORD), captcha: 'WRONG1' });
      expect(messageIds(refused)).toContain('login.captcha_wrong');
      // Not checked: the password neither changed nor counted (a wrong one would have been).
      const wrongPassword = await post(browser, refused, { ...change(user, 'another wrong guess'), captcha: 'WRONG2' });
      expect(messageIds(wrongPassword)).toContain('login.captcha_wrong');
      expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(failures);
      expect(await passwordWorks(user, PASSWORD)).toBe(true);

      const accepted = await post(browser, wrongPassword, { ...change(user, PASSWORD), captcha: CAPTCHA_ANSWER });
      expect(accepted.status).toBe(303);
      expect(await passwordWorks(user, NEW_PASSWORD)).toBe(true);
    } finally {
      await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour } });
    }
  });
});

it('says a refusal once, after a redirect: a reload shows the form afresh and posts nothing again', async () => {
  const user = await createUser(server);
  const browser = new Browser();
  const form = findForm(await openForm(browser), '/account/password');
  const answer = await browser.post(form.action, { ...form.fields, ...change(user, 'not the right password') });
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toBe('/account/password');
  const refused = await browser.follow(answer);
  expect(messageIds(refused)).toContain('login.invalid');
  expect(findForm(refused, '/account/password').fields.login).toBe(user.username);
  const reloaded = await openForm(browser);
  expect(messageIds(reloaded)).not.toContain('login.invalid');
  expect(findForm(reloaded, '/account/password').fields.login).toBe('');
  expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(1);
});

it("opens with the login an application's link gives, at the current password", async () => {
  const page = await new Browser().get(`${server.origin}/account/password?login_hint=${encodeURIComponent('ada@example.test')}`);
  expect(findForm(page, '/account/password').fields.login).toBe('ada@example.test');
  expect(page.body).toMatch(/<input id="current"[^>]*autofocus/);
  const tooLong = await new Browser().get(`${server.origin}/account/password?login_hint=${'a'.repeat(1000)}`);
  expect(findForm(tooLong, '/account/password').fields.login).toBe('');
});

it('is linked from the home page', async () => {
  const home = await new Browser().get(`${server.origin}/`);
  expect(home.body).toMatch(/<a href="\/account\/password" data-message-id="home.change_password">/);
});
