// Security info at sign-in (policy `registration`): a sign-in whose account could not recover by itself stops, after
// its right password, at a page where the person registers verification methods, each proved as it is added (a code
// emailed or texted to it, a code from the new authenticator app); one whose info was confirmed too long ago stops
// to have it confirmed. Only then does the relying party get its sign-in. Every change is told to the owner and
// audited; the page's forms need the step its password began, in the same browser.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { generateSync } from 'otplib';
import { allForms, Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage } from '../helpers/rp.ts';
import { chooseGoal, chooseMethod, emailedCode, enterCode, identify, outbox, registerMethods, sendCode, startRecoveryServer, textedCode, waitFor } from '../helpers/recovery.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { maskEmail, maskPhone } from '../../src/methods/mask.ts';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;
let rp: ClientMetadata;
let config: client.Configuration;
const DAY_MS = 24 * 3600_000;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer());
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => close());
beforeEach(async () => {
  await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, limits: { perIpHour: 1000, perAccountHour: 100 } });
});

const stored = async (id: string) => (await server.connection.db!.collection<User>('users').findOne({ _id: id }))!;

/** The sign-in page of a fresh authorization request, and the answer to the right password, followed. */
async function signIn(user: User, browser = new Browser()) {
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  const form = findForm(await openLoginPage(browser, start.url), '/login');
  const answer = await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD });
  return { browser, start, answer, page: await browser.follow(answer, rp.redirect_uris[0]!) };
}

/** The page's form for `kind` (each method's row has its own): "Set it up now" or "Change". */
function rowForm(page: Page, kind: string) {
  const form = allForms(page).find((f) => f.action.endsWith('/security-info/add') && f.fields.kind === kind);
  if (!form) throw new Error(`no form for ${kind}:\n${page.body.slice(0, 3000)}`);
  return form;
}

/** Whether the row of `kind` offers Remove (its form's second button). */
const offersRemove = (page: Page, kind: string) => new RegExp(`<li data-kind="${kind}">(?:(?!</li>)[\\s\\S])*formaction="[^"]*/security-info/remove"`).test(page.body);

/** The row's Remove button, pressed (the same fields, posted to its formaction). */
const removeForm = (page: Page, kind: string) => {
  const form = rowForm(page, kind);
  return { ...form, action: form.action.replace(/\/add$/, '/remove') };
};

const post = async (browser: Browser, form: { action: string; fields: Record<string, string> }, fields: Record<string, string> = {}) =>
  browser.follow(await browser.post(form.action, { ...form.fields, ...fields }), rp.redirect_uris[0]!);

/** "Set it up now" for `kind`, then the address or number typed and sent. */
async function addContact(browser: Browser, page: Page, kind: 'alternateEmail' | 'mobilePhone', value: string): Promise<Page> {
  const typing = await post(browser, rowForm(page, kind));
  expect(messageIds(typing)).toContain(kind === 'alternateEmail' ? 'security_info.email_label' : 'security_info.phone_label');
  // A phone comes with its risks told (SIM swaps, porting: NIST SP 800-63B-4's PSTN notice); an address does not.
  expect(messageIds(typing).includes('security_info.phone_risk')).toBe(kind === 'mobilePhone');
  return post(browser, findForm(typing, '/security-info/add'), { value });
}

const verify = (browser: Browser, page: Page, code: string) => post(browser, findForm(page, '/security-info/verify'), { code });
const looksGood = (browser: Browser, page: Page) => browser.post(findForm(page, '/security-info/done').action, findForm(page, '/security-info/done').fields);

/** Proves a registered method: its button pressed, then the code `codeOf` reads (once it was sent) entered. */
async function proveWith(browser: Browser, page: Page, kind: string, codeOf: () => Promise<string>): Promise<Page> {
  const asked = await post(browser, findForm(page, '/security-info/prove'), { kind });
  expect(messageIds(asked)).toContain('security_info.proving');
  const proved = await verify(browser, asked, await codeOf());
  expect(messageIds(proved)).toContain('security_info.said_proved');
  return proved;
}

/** A form of the page posted as an earlier page (or a made-up one) would: the step's path, its CSRF token. */
function pageForm(page: Page, path: string, fields: Record<string, string>) {
  const done = findForm(page, '/security-info/done');
  return { action: done.action.replace(/\/security-info\/done$/, path), fields: { csrf: done.fields.csrf!, ...fields } };
}

const auditedCount = async (accountId: string, type: string, reason?: string) =>
  server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId, type, ...(reason && { reason }) });

/** Follows a completed sign-in through consent to the relying party's tokens. */
async function tokensAfter(browser: Browser, done: Page, start: Awaited<ReturnType<typeof authorizationUrl>>) {
  expect(done.status).toBe(303);
  expect(done.headers.get('location')).toContain('/oidc/auth/');
  return tokensVia(browser, done, start);
}

/** Follows an answer's redirects to the consent page, and consent to the relying party's tokens. */
async function tokensVia(browser: Browser, answer: Page, start: Awaited<ReturnType<typeof authorizationUrl>>) {
  const consentPage = await browser.follow(answer, rp.redirect_uris[0]!);
  const consent = findForm(consentPage, '/confirm');
  const callback = new URL((await browser.follow(await browser.post(consent.action, consent.fields), rp.redirect_uris[0]!)).url);
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
}

describe('registering security info at sign-in', () => {
  it('stops a sign-in without methods at the page; an alternate email registers once its emailed code is entered, the owner is told, and the sign-in then completes', async () => {
    const user = await createUser(server);
    const { browser, start, answer, page } = await signIn(user);
    expect(answer.status).toBe(303);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.heading', 'security_info.intro_register', 'security_info.need_one', 'security_info.not_set']));

    // Not yet: nothing is registered.
    const early = await browser.post(findForm(page, '/security-info/done').action, findForm(page, '/security-info/done').fields);
    expect(early.status).toBe(200);
    expect(messageIds(early)).toContain('security_info.not_enough');

    const address = `${user.username}@home.example.test`;
    const sent = await addContact(browser, page, 'alternateEmail', address);
    expect(messageIds(sent)).toContain('security_info.code_sent_alternateEmail');
    const code = await emailedCode(sink, address);
    const wrong = await verify(browser, sent, code === '000000' ? '111111' : '000000');
    expect(wrong.status).toBe(200);
    expect(messageIds(wrong)).toContain('security_info.code_wrong');
    expect((await stored(user._id)).securityInfo.alternateEmail).toBeUndefined();

    const listed = await verify(browser, wrong, code);
    expect(listed.status).toBe(200);
    expect(messageIds(listed)).toContain('security_info.said_saved');
    // Listed as a hint, as the recovery pages show it.
    expect(listed.body).toContain(maskEmail(address));
    expect(listed.body).not.toContain(address);
    expect((await stored(user._id)).securityInfo.alternateEmail).toBe(address);
    // Told on the contact registered before: the sign-in address.
    const notice = await waitFor(() => sink.received.find((m) => JSON.stringify(m.to).includes(user.email)), 'the notice of the change');
    expect(notice.subject).toBeTruthy();
    expect(notice.text).toContain('/recover/lockdown/');
    const audited = await server.connection.db!.collection(AUDIT_COLLECTION).findOne({ type: 'security_info.changed', accountId: user._id });
    expect(audited).toMatchObject({ reason: 'owner', method: 'alternateEmail' });

    const tokens = await tokensAfter(browser, await looksGood(browser, listed), start);
    expect(tokens.claims()!.sub).toBe(user._id);
    expect((await stored(user._id)).securityInfo.confirmedAt).toBeInstanceOf(Date);
  });

  it('registers a mobile phone by a texted code, and refuses a number that is not complete, whose country the policy does not text, or that is the office phone', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, allowedCountryCodes: ['1'], limits: { perIpHour: 1000, perAccountHour: 100 } });
    const user = await createUser(server);
    // An office phone an administrator registered: not a mobile phone as well.
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { 'securityInfo.officePhone': '+14155550149' } });
    const { browser, page } = await signIn(user);
    for (const [typed, error] of [
      ['555 0100', 'security_info.phone_invalid'],
      ['+33 6 12 34 56 78', 'security_info.phone_country'],
      ['+1 415 555 0149', 'security_info.phone_is_office'],
    ] as const) {
      const refused = await addContact(browser, page, 'mobilePhone', typed);
      expect(refused.status).toBe(200);
      expect(messageIds(refused)).toContain(error);
      // The field's hint names the countries texts go to, rather than an example number from elsewhere.
      expect(messageIds(refused)).toContain('security_info.phone_hint_countries');
      expect(refused.body).toContain('Text messages go only to numbers starting with +1.');
    }
    const number = '+14155550142';
    const sent = await addContact(browser, page, 'mobilePhone', '+1 415 555 0142');
    expect(messageIds(sent)).toContain('security_info.code_sent_mobilePhone');
    const listed = await verify(browser, sent, await textedCode(server, number));
    expect((await stored(user._id)).securityInfo.mobilePhone).toBe(number);
    expect(messageIds(listed)).toContain('security_info.looks_good');
  });

  it('registers an authenticator app from its QR code page once a code from it is right; its seed is stored sealed', async () => {
    const user = await createUser(server);
    const { browser, start, page } = await signIn(user);
    const app = await post(browser, rowForm(page, 'authenticator'));
    expect(messageIds(app)).toEqual(expect.arrayContaining(['security_info.app_steps', 'security_info.app_key']));
    expect(app.body).toContain('<svg');
    const secret = /<code id="app-key"[^>]*>([A-Z2-7 ]+)<\/code>/.exec(app.body)![1]!.replace(/ /g, '');
    const wrong = await verify(browser, app, generateSync({ secret, epoch: Math.floor(Date.now() / 1000) - 600 }));
    expect(messageIds(wrong)).toContain('security_info.app_code_wrong');
    const listed = await verify(browser, wrong, generateSync({ secret, epoch: Math.floor(Date.now() / 1000) }));
    expect(messageIds(listed)).toContain('security_info.app_registered');
    const seed = (await stored(user._id)).securityInfo.authenticator?.totpSecret;
    expect(seed).toBeDefined();
    expect(seed).not.toContain(secret);
    const tokens = await tokensAfter(browser, await looksGood(browser, listed), start);
    expect(tokens.claims()!.sub).toBe(user._id);
  });

  it('lists an office phone an administrator registered as a hint, with nothing to change it by', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, methodsEnabled: ['email', 'sms', 'call_office', 'totp'], limits: { perIpHour: 1000, perAccountHour: 100 } });
    const user = await createUser(server);
    const office = '+33142685300';
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { 'securityInfo.officePhone': office } });
    const { page } = await signIn(user);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.intro_reconfirm', 'security_info.officePhone', 'security_info.office_by_admin']));
    expect(page.body).toContain(maskPhone(office));
    expect(page.body).not.toContain(office);
    expect(allForms(page).some((f) => f.fields.kind === 'officePhone')).toBe(false);
  });

  it('asks an administrator for two methods even when the policy requires one', async () => {
    const admin = await createUser(server, { roles: ['admin'] });
    await registerMethods(server, admin, { alternateEmail: `${admin.username}@home.example.test` });
    const { browser, page } = await signIn(admin);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.intro_register', 'security_info.need_two']));
    const early = await looksGood(browser, page);
    expect(early.status).toBe(200);
    expect(messageIds(early)).toContain('security_info.not_enough');
  });

  it('voids a code after the policy\'s tries: the right one is refused then, nothing registered', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const address = `${user.username}@tries.example.test`;
    let current = await addContact(browser, page, 'alternateEmail', address);
    const code = await emailedCode(sink, address);
    for (let i = 0; i < DEFAULT_POLICY.codes.maxTries; i += 1) current = await verify(browser, current, code === '000000' ? '111111' : '000000');
    const usedUp = await verify(browser, current, code);
    expect(messageIds(usedUp)).toContain('security_info.code_used_up');
    expect((await stored(user._id)).securityInfo.alternateEmail).toBeUndefined();
  });

  it('removes a method unless the account needs it to recover', async () => {
    const user = await createUser(server);
    const number = '+14155550143';
    await registerMethods(server, user, { alternateEmail: `${user.username}@a.example.test`, mobilePhone: number });
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { 'securityInfo.confirmedAt': new Date(Date.now() - 200 * DAY_MS) } });
    const { browser, page: locked } = await signIn(user);
    expect(messageIds(locked)).toContain('security_info.intro_reconfirm');
    const page = await proveWith(browser, locked, 'mobilePhone', () => textedCode(server, number));
    // Both may go while the other is left; once one is gone, the last is needed and has no Remove.
    expect(offersRemove(page, 'mobilePhone') && offersRemove(page, 'alternateEmail')).toBe(true);
    const removed = await post(browser, removeForm(page, 'mobilePhone'));
    expect((await stored(user._id)).securityInfo.mobilePhone).toBeUndefined();
    expect(messageIds(removed)).toEqual(expect.arrayContaining(['security_info.said_removed', 'security_info.looks_good']));
    expect(offersRemove(removed, 'alternateEmail')).toBe(false);
    // Posted all the same (an old page): refused, nothing removed.
    const refused = await post(browser, removeForm(page, 'alternateEmail'));
    expect(refused.status).toBe(200);
    expect(messageIds(refused)).toContain('security_info.remove_refused');
    expect((await stored(user._id)).securityInfo.alternateEmail).toBeDefined();
  });
});

describe('removing down to what the page cannot prove', () => {
  it('keeps a method the page can verify with: an app notification device alone would leave the owner only an administrator', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, methodsEnabled: ['email', 'sms', 'totp', 'app_notification'], limits: { perIpHour: 1000, perAccountHour: 100 } });
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { authenticator: true });
    await server.latchkey.accounts.setSecurityInfo(user._id, { appDevice: { id: `device-of-${user.username}`, name: 'Phone' } });
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { 'securityInfo.confirmedAt': new Date(Date.now() - 200 * DAY_MS) } });
    const { browser, page: locked } = await signIn(user);
    const page = await proveWith(browser, locked, 'authenticator', async () => totp());
    // Recovery would still work with the app's notifications, but this page cannot prove them: no Remove.
    expect(offersRemove(page, 'authenticator')).toBe(false);
    const refused = await post(browser, removeForm(page, 'authenticator'));
    expect(messageIds(refused)).toContain('security_info.remove_strands');
    expect((await stored(user._id)).securityInfo.authenticator).toBeDefined();
    // The device itself may go: the authenticator stays, which the page can prove.
    expect(offersRemove(page, 'appDevice')).toBe(true);
  });
});

describe('changing what is registered', () => {
  it('takes more than the password: nothing registered changes until one of the registered methods is proved; a replaced number hears of it', async () => {
    const user = await createUser(server);
    const old = '+14155550150';
    const replacement = '+14155550151';
    await registerMethods(server, user, { mobilePhone: old });
    const { browser, page } = await signIn(user);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.prove_heading', 'security_info.prove_mobilePhone']));
    expect(page.body).toContain(maskPhone(old));
    expect(page.body).not.toContain(old);
    expect(allForms(page).some((f) => f.action.endsWith('/security-info/add'))).toBe(false);
    expect(offersRemove(page, 'mobilePhone')).toBe(false);

    // Posted all the same (made up from the page's token): refused, nothing sent, nothing changed.
    for (const [path, fields] of [
      ['/security-info/add', { kind: 'mobilePhone', value: replacement }],
      ['/security-info/add', { kind: 'authenticator' }],
      ['/security-info/remove', { kind: 'mobilePhone' }],
    ] as const) {
      const refused = await post(browser, pageForm(page, path, fields));
      expect(refused.status).toBe(200);
      expect(messageIds(refused)).toContain('security_info.prove_first');
    }
    expect((await outbox(server)).filter((m) => m.to === replacement)).toHaveLength(0);
    expect((await stored(user._id)).securityInfo).toMatchObject({ mobilePhone: old });
    expect((await stored(user._id)).securityInfo.authenticator).toBeUndefined();

    // A code texted to the registered number opens them.
    const open = await proveWith(browser, page, 'mobilePhone', () => textedCode(server, old));
    expect(await auditedCount(user._id, 'code.verified', 'security_info_proof')).toBe(1);
    const sent = await addContact(browser, open, 'mobilePhone', replacement);
    const changed = await verify(browser, sent, await textedCode(server, replacement));
    expect(messageIds(changed)).toContain('security_info.said_saved');
    expect((await stored(user._id)).securityInfo.mobilePhone).toBe(replacement);
    // The number it replaced is told, with "This wasn't me".
    await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'sms' && m.to === old && m.text.includes('/recover/lockdown/')), 'the notice on the replaced number');
  });

  it('takes a registered authenticator app\'s code too; wrong ones come out of the account\'s daily budget of proofs, and then even a right one is refused', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, limits: { perIpHour: 1000, perAccountHour: 100, proofAttemptsPerDay: 2 } });
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { authenticator: true });
    const { browser, page } = await signIn(user);
    const asked = await post(browser, findForm(page, '/security-info/prove'), { kind: 'authenticator' });
    expect(messageIds(asked)).toEqual(expect.arrayContaining(['security_info.proving', 'security_info.proving_app']));
    const late = totp(Math.floor(Date.now() / 1000) - 600);
    let current = asked;
    for (let i = 0; i < 2; i += 1) {
      current = await verify(browser, current, late);
      expect(messageIds(current)).toContain('security_info.app_code_wrong');
    }
    const spent = await verify(browser, current, totp());
    expect(messageIds(spent)).toEqual(expect.arrayContaining(['security_info.proofs_used_up', 'security_info.prove_heading']));
    // Asked again: refused before any code is awaited.
    const again = await post(browser, findForm(spent, '/security-info/prove'), { kind: 'authenticator' });
    expect(again.status).toBe(429);
    expect(messageIds(again)).toContain('security_info.proofs_used_up');
    expect(messageIds(again)).not.toContain('security_info.proving');
    expect(await auditedCount(user._id, 'code.failed', 'security_info_proof')).toBe(2);
    expect(await auditedCount(user._id, 'code.verified', 'security_info_proof')).toBe(0);
  });

  it('refuses a code for an app that wrong codes elsewhere turned off before it spends any of the day\'s proofs: the phone still proves', async () => {
    const ceiling = 100; // wrong proofs in a row with one authenticator (security/proof-ceiling.ts)
    // The day's budget holds the hundred wrong codes and one proof more.
    await server.latchkey.policy.save({
      registration: { atSignIn: true, reconfirmDays: 180 },
      limits: { perIpHour: 1000, perAccountHour: 100, proofAttemptsPerDay: ceiling + 1, proofAttemptsPerIpHour: 100_000, flowsPerIpHour: 500 },
    });
    const user = await createUser(server);
    const phone = '+14155550152';
    const { totp } = await registerMethods(server, user, { mobilePhone: phone, authenticator: true });
    const { browser, page } = await signIn(user);
    const asked = await post(browser, findForm(page, '/security-info/prove'), { kind: 'authenticator' });
    expect(messageIds(asked)).toContain('security_info.proving_app');

    // Meanwhile a hundred wrong app codes in a recovery turn the app off as a proof.
    const recovery = new Browser();
    let codePage = await chooseMethod(recovery, await chooseGoal(recovery, await identify(server, recovery, user.username), 'reset'), 'totp');
    const valid = () => [totp(), totp(Math.floor(Date.now() / 1000) - 30)];
    for (let i = 1, n = 100_000; i <= ceiling; i += 1, n += 7919) {
      while (valid().includes(String(n))) n += 1;
      codePage = await enterCode(recovery, codePage, String(n));
    }
    expect(messageIds(codePage)).toContain('recover.method_disabled');

    // The app's right code, from the page opened before: refused as turned off, without spending the last proof.
    const refused = await verify(browser, asked, totp());
    expect(messageIds(refused)).toContain('security_info.method_disabled');
    expect(messageIds(refused)).not.toContain('security_info.said_proved');
    await proveWith(browser, refused, 'mobilePhone', () => textedCode(server, phone));
    expect(await auditedCount(user._id, 'code.verified', 'security_info_proof')).toBe(1);
  });

  it('answers a wrong code by a redirect, so that reloading what it shows posts no code again and spends nothing more', async () => {
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { authenticator: true });
    const { browser, page } = await signIn(user);
    const asked = await post(browser, findForm(page, '/security-info/prove'), { kind: 'authenticator' });
    const form = findForm(asked, '/security-info/verify');
    const answer = await browser.post(form.action, { ...form.fields, code: totp(Math.floor(Date.now() / 1000) - 600) });
    expect(answer.status).toBe(303);
    const said = await browser.follow(answer);
    expect(messageIds(said)).toEqual(expect.arrayContaining(['security_info.app_code_wrong', 'security_info.proving_app', 'error.support_code']));
    // The support code is the wrong code's post's: its request line in the log says what happened.
    expect(said.body).toContain(`Support code: ${answer.headers.get('x-request-id')}`);
    // Reloaded: the same step, said once, and no code posted.
    const reloaded = await browser.get(said.url);
    expect(messageIds(reloaded)).toContain('security_info.proving_app');
    expect(messageIds(reloaded)).not.toContain('security_info.app_code_wrong');
    expect(messageIds(reloaded)).not.toContain('error.support_code');
    expect(await auditedCount(user._id, 'code.failed', 'security_info_proof')).toBe(1);
  });

  it('counts a right app code posted twice at once as one proof: neither answer says it was wrong', async () => {
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { authenticator: true });
    const { browser, page } = await signIn(user);
    const asked = await post(browser, findForm(page, '/security-info/prove'), { kind: 'authenticator' });
    const form = findForm(asked, '/security-info/verify');
    const code = totp();
    const answers = await Promise.all([post(browser, form, { code }), post(browser, form, { code })]);
    for (const answer of answers) {
      expect(messageIds(answer)).not.toContain('security_info.app_code_wrong');
      expect(messageIds(answer)).toContain('security_info.looks_good');
    }
    expect(await auditedCount(user._id, 'code.verified', 'security_info_proof')).toBe(1);
    expect(await auditedCount(user._id, 'code.failed', 'security_info_proof')).toBe(0);
  });

  it('answers a send the limits refuse with 429 and sends nothing', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, limits: { perIpHour: 1000, perAccountHour: 1 } });
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const first = await addContact(browser, page, 'alternateEmail', `${user.username}@one.example.test`);
    expect(messageIds(first)).toContain('security_info.code_sent_alternateEmail');
    const code = findForm(first, '/security-info/verify');
    const back = await post(browser, { ...code, action: code.action.replace(/\/verify$/, '/back') });
    const typing = await post(browser, rowForm(back, 'alternateEmail'));
    const refused = await browser.post(findForm(typing, '/security-info/add').action, { ...findForm(typing, '/security-info/add').fields, value: `${user.username}@two.example.test` });
    expect(refused.status).toBe(429);
    expect(messageIds(refused)).toContain('security_info.send_refused');
    expect(await auditedCount(user._id, 'code.sent')).toBe(1);
    expect(await auditedCount(user._id, 'code.refused')).toBe(1);
    // Once the limits allow it again, the same form sends.
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, limits: { perIpHour: 1000, perAccountHour: 100 } });
    const sent = await post(browser, findForm(refused, '/security-info/add'), { value: `${user.username}@two.example.test` });
    expect(messageIds(sent)).toContain('security_info.code_sent_alternateEmail');
  });

  it("keeps the budget of an address typed in apart from its registered one's: typing someone's address tells nothing of the account that has it", async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, limits: { perIpHour: 1000, perAccountHour: 100, perDestination10Min: 1, perDestinationHour: 1 } });
    const owner = await createUser(server);
    const address = `${owner.username}@owner.example.test`;
    await registerMethods(server, owner, { alternateEmail: address, authenticator: true });
    // Someone signing in to another account types the owner's address to add it: the one code its budget allows goes.
    const { browser, page } = await signIn(await createUser(server));
    expect(messageIds(await addContact(browser, page, 'alternateEmail', address))).toContain('security_info.code_sent_alternateEmail');
    // The owner's recovery still emails its code (shared, the budget would refuse it, and so tell that person this
    // account has that address); its own budget holds: a "Try again" is refused.
    const recovery = new Browser();
    const sent = await sendCode(recovery, await chooseMethod(recovery, await chooseGoal(recovery, await identify(server, recovery, owner.username), 'reset'), 'email'));
    expect(messageIds(sent)).toContain('recover.code_sent_email');
    const codeForm = findForm(sent, '/code');
    const again = await recovery.post(codeForm.action.replace(/\/code$/, '/resend'), codeForm.fields);
    expect(again.status).toBe(429);
    expect(messageIds(again)).toContain('recover.send_limited');
    expect(await auditedCount(owner._id, 'code.refused', 'limit_destination')).toBe(1);
  });

  it('refuses the sign-in address as the alternate one', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const refused = await addContact(browser, page, 'alternateEmail', ` ${user.email.toUpperCase()} `);
    expect(messageIds(refused)).toContain('security_info.email_same');
    expect(await auditedCount(user._id, 'code.sent')).toBe(0);
  });

  it('registers a right code once, however often it is posted: a second click or a replay shows the list', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const address = `${user.username}@twice.example.test`;
    const sent = await addContact(browser, page, 'alternateEmail', address);
    const form = findForm(sent, '/security-info/verify');
    const code = await emailedCode(sink, address);
    const answers = await Promise.all([post(browser, form, { code }), post(browser, form, { code })]);
    for (const answer of [...answers, await post(browser, form, { code })]) {
      expect(answer.status).toBe(200);
      expect(messageIds(answer)).toContain('security_info.looks_good');
      expect(messageIds(answer)).not.toContain('security_info.code_expired');
    }
    // What was added still counts as proved: the methods stay open to changes.
    expect(rowForm(await browser.get(form.action.replace(/\/security-info\/verify$/, '')), 'mobilePhone').fields.kind).toBe('mobilePhone');
    expect((await stored(user._id)).securityInfo.alternateEmail).toBe(address);
    expect(await auditedCount(user._id, 'security_info.changed')).toBe(1);
  });
});

describe('after a temporary password', () => {
  it('comes once the person has chosen their own password', async () => {
    const user = await createUser(server);
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { passwordChangeRequired: true } });
    const { browser, page } = await signIn(user);
    expect(messageIds(page)).toContain('password_change.heading');
    const own = findForm(page, '/password');
    const next = await post(browser, own, { password: 'lantern orchard velvet compass', confirm: 'lantern orchard velvet compass' });
    expect(messageIds(next)).toContain('security_info.intro_register');
    expect((await stored(user._id)).passwordChangeRequired).toBeUndefined();
  });
});

describe('confirming security info', () => {
  it('asks again once it was confirmed longer ago than reconfirmDays, and not before', async () => {
    const user = await createUser(server);
    await registerMethods(server, user, { alternateEmail: `${user.username}@b.example.test` });
    const users = server.connection.db!.collection('users');
    await users.updateOne({ _id: user._id } as never, { $set: { 'securityInfo.confirmedAt': new Date(Date.now() - 181 * DAY_MS) } });
    const { browser, start, page } = await signIn(user);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.intro_reconfirm', 'security_info.looks_good']));
    await tokensAfter(browser, await looksGood(browser, page), start);
    const confirmedAt = (await stored(user._id)).securityInfo.confirmedAt!;
    expect(Date.now() - confirmedAt.getTime()).toBeLessThan(60_000);

    // Confirmed now: the next sign-in goes straight on.
    const again = await signIn(user);
    expect(again.answer.headers.get('location')).toContain('/oidc/auth/');
  });

  it('never asks again when reconfirmDays is 0', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 0 } });
    const user = await createUser(server);
    await registerMethods(server, user, { alternateEmail: `${user.username}@never.example.test` });
    const { answer } = await signIn(user);
    expect(answer.headers.get('location')).toContain('/oidc/auth/');
  });

  it('does not stop a sign-in it could not help: methods registered that the page can neither prove nor change', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 }, allowedCountryCodes: ['44'] });
    const user = await createUser(server);
    await registerMethods(server, user, { mobilePhone: '+14155550148' }); // a country the policy no longer texts
    const { answer } = await signIn(user);
    expect(answer.headers.get('location')).toContain('/oidc/auth/');
  });

  it('does not stop anyone while the policy does not ask for it', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: false, reconfirmDays: 180 } });
    const user = await createUser(server);
    const { answer } = await signIn(user);
    expect(answer.headers.get('location')).toContain('/oidc/auth/');
  });
});

describe('the page\'s forms', () => {
  it('need the step this browser\'s right password began: another browser gets nothing', async () => {
    const user = await createUser(server);
    await registerMethods(server, user, { alternateEmail: `${user.username}@c.example.test` });
    const { page } = await signIn(user);
    const done = findForm(page, '/security-info/done');
    // Another browser with the form's fields: no step of its own.
    const stranger = await new Browser().post(done.action, done.fields);
    expect(stranger.status).toBeGreaterThanOrEqual(400);
    expect((await stored(user._id)).securityInfo?.confirmedAt).toBeUndefined();
  });

  it('take a double click on Looks good once, and both answers lead on to the application (the browser shows the last)', async () => {
    const user = await createUser(server);
    await registerMethods(server, user, { alternateEmail: `${user.username}@d.example.test` });
    const { browser, start, page } = await signIn(user);
    const done = findForm(page, '/security-info/done');
    const answers = await Promise.all([browser.post(done.action, done.fields), browser.post(done.action, done.fields)]);
    // One records the sign-in and answers with the provider's resume; the other waits for it and answers the same.
    for (const each of answers) {
      expect(each.status).toBe(303);
      expect(each.headers.get('location')).toContain('/oidc/auth/');
    }
    // The interaction's own page, reloaded now (a wait that ran out went back to it), resumes the recorded sign-in.
    const reloaded = await browser.get(new URL(done.action.replace(/\/security-info\/done$/, ''), server.origin).href);
    expect(reloaded.status).toBe(303);
    expect(reloaded.headers.get('location')).toBe(answers[0]!.headers.get('location'));
    const tokens = await tokensVia(browser, answers[1]!, start);
    expect(tokens.claims()!.sub).toBe(user._id);
    expect((await stored(user._id)).securityInfo.confirmedAt).toBeInstanceOf(Date);
  });

  it('Cancel tells the application access_denied, and the sign-in is not recorded', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const done = findForm(page, '/security-info/done');
    const cancelled = await browser.follow(await browser.post(done.action.replace(/\/security-info\/done$/, '/abort'), done.fields), rp.redirect_uris[0]!);
    expect(new URL(cancelled.url).searchParams.get('error')).toBe('access_denied');
    expect((await stored(user._id)).securityInfo?.confirmedAt).toBeUndefined();
  });

  it('need the step\'s own cookie: without it, the forms go back to the sign-in page and change nothing', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    const stepUrl = findForm(page, '/security-info/done').action;
    const names = (await browser.cookieNames(stepUrl)).filter((name) => name.includes('lk_security_info'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) await browser.jar.setCookie(`${name}=; Path=${new URL(stepUrl).pathname.replace(/\/security-info\/done$/, '')}; Max-Age=0`, stepUrl);
    const refused = await browser.post(stepUrl, findForm(page, '/security-info/done').fields);
    expect(refused.status).toBe(303);
    expect(messageIds(await browser.follow(refused))).toContain('login.cant_access');
    expect((await stored(user._id)).securityInfo?.confirmedAt).toBeUndefined();
  });

  it('stop counting once an administrator acts on the account meanwhile: back to the sign-in page, nothing changed', async () => {
    const user = await createUser(server);
    const { browser, page } = await signIn(user);
    await server.latchkey.accounts.setStatus(user._id, 'disabled');
    await server.latchkey.accounts.setStatus(user._id, 'active');
    const refused = await browser.post(rowForm(page, 'alternateEmail').action, { ...rowForm(page, 'alternateEmail').fields, value: 'x@y.example.test' });
    expect(refused.status).toBe(303);
    const signInPage = await browser.follow(refused);
    expect(messageIds(signInPage)).toContain('login.cant_access');
  });
});
