// "Can't access your account?" walked through HTTP against the real database, a real SMTP server (started here)
// and the development outbox for text messages: reset with one method and with two, unlock, each method, the decoy
// flow of an unknown identifier, and what a reset does to the relying party's sessions and tokens.
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signedInWithTokens, silentAuthorization, submitLogin } from '../helpers/rp.ts';
import { MANY_SIGN_IN_FAILURES, type TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';
import {
  CAPTCHA_ANSWER,
  chooseGoal,
  chooseMethod,
  emailedCode,
  enterCode,
  identify,
  outbox,
  registerMethods,
  sendCode,
  startRecoveryServer,
  submit,
  submitRefused,
  textedCode,
  waitFor,
} from '../helpers/recovery.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { OUTBOX_COLLECTION } from '../../src/delivery/outbox.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { EPOCHS } from '../../src/db/epoch-cache.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { recoveryAccounts } from '../../src/flows/recovery/accounts.ts';
import { createLockdowns, LOCKDOWN_TOKENS } from '../../src/flows/recovery/lockdown.ts';
import { AccountChangedError } from '../../src/accounts/users.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';

// Every character a person may type goes through as typed (NIST SP 800-63B-4: quotes, markup, a backslash, an emoji,
// a space), from the new-password form to the sign-in form.
const NEW_PASSWORD = 'a brand "new" <pass>phrase & \\ for latchkey\u{1F98A}';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;
let config: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer());
  config = await discover(server, await createClient(server));
  await setPolicy({});
});
afterAll(() => close());
// A test that changed the policy and failed half-way leaves the next ones the usual policy all the same.
afterEach(() => setPolicy({}));

let phoneCounter = 0;
/** A user with every method registered, each with its own destination. */
async function userWithMethods(): Promise<{ user: User; alternateEmail: string; mobilePhone: string; totp: (epoch?: number) => string }> {
  const user = await createUser(server);
  phoneCounter += 1;
  const alternateEmail = `alt-${user.username}@example.net`;
  const mobilePhone = `+1415555${String(1000 + phoneCounter).padStart(4, '0')}`;
  const { totp } = await registerMethods(server, user, { alternateEmail, mobilePhone, authenticator: true });
  return { user, alternateEmail, mobilePhone, totp };
}

/**
 * Stored through the server's own policy store, so it applies at once (other instances: within seconds). Every
 * request here comes from 127.0.0.1, so the per-address budgets are raised for the whole file (recovery-limits.test.ts
 * tests them), and so are the sign-in challenge's (its wrong passwords lock accounts).
 */
const PER_ADDRESS = { flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, perIpHour: 1000, ...MANY_SIGN_IN_FAILURES };
async function setPolicy(overrides: Record<string, unknown>) {
  await server.latchkey.policy.save({ ...overrides, limits: { ...PER_ADDRESS, ...(overrides.limits as object | undefined) } });
}

const sessionAndTokens = (user: User) => signedInWithTokens(config, redirectUri(), user.username);
const silent = (browser: Browser) => silentAuthorization(config, redirectUri(), browser);

/** Up to the new-password page of a reset, with one text message. */
async function atPasswordPage(user: User, mobilePhone: string): Promise<{ browser: Browser; passwordPage: Page }> {
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone });
  return { browser, passwordPage: await enterCode(browser, sent, await textedCode(server, mobilePhone)) };
}

describe('reset with one method', () => {
  it('returns to the same relying-party sign-in, which then works with the new password; the old sessions and tokens are dead', async () => {
    const { user, alternateEmail, mobilePhone } = await userWithMethods();
    await setPolicy({});
    const before = await sessionAndTokens(user);

    // The person is at the RP's sign-in page and follows "Can't access your account?".
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri());
    const loginPage = await openLoginPage(browser, start.url);
    const recoverLink = /href="([^"]*\/recover)"/.exec(loginPage.body)![1]!;
    const whoAreYou = await browser.follow(await browser.get(new URL(recoverLink, loginPage.url).href));
    expect(messageIds(whoAreYou)).toEqual(expect.arrayContaining(['recover.identify_intro', 'captcha.picture']));
    const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.email, captcha: CAPTCHA_ANSWER, action: 'next' });
    expect(messageIds(goal)).toContain('recover.goal_heading');

    const methods = await chooseGoal(browser, goal, 'reset');
    expect(messageIds(methods)).toEqual(expect.arrayContaining(['recover.choose_first', 'recover.method_email', 'recover.method_sms', 'recover.method_totp']));
    const emailPanel = await chooseMethod(browser, methods, 'email');
    expect(emailPanel.body).toContain('a*****@e*****.net');
    // The mailbox alone cannot finish for this account: the progress shows a second step as soon as it is chosen.
    expect(messageIds(emailPanel)).toContain('recover.crumb_step2');
    const sent = await sendCode(browser, emailPanel);
    expect(messageIds(sent)).toContain('recover.code_sent_email');
    const mailed = await emailedCode(sink, alternateEmail);

    // An email alone is not enough for an account that has a phone or an authenticator: step 2 asks for one.
    const step2 = await enterCode(browser, sent, mailed);
    expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.choose_second', 'recover.second_why']));
    expect(messageIds(step2)).not.toContain('recover.method_email');
    const smsPanel = await chooseMethod(browser, step2, 'sms');
    expect(messageIds(smsPanel)).toContain('recover.sms_intro');
    expect(smsPanel.body).toContain(`*****${mobilePhone.slice(-2)}`);
    // The number typed the way people write it; it matches once both are normalised.
    const texted = await sendCode(browser, smsPanel, { phone: `(415) 555-${mobilePhone.slice(-4)}` });
    const smsCode = await textedCode(server, mobilePhone);
    const passwordPage = await enterCode(browser, texted, smsCode);
    expect(messageIds(passwordPage)).toEqual(expect.arrayContaining(['recover.password_heading', 'password.rule_length', 'recover.crumb_step2']));
    // Both fields are for a password manager's new password; the guidance comes only with a refusal.
    expect(passwordPage.body.match(/type="password" autocomplete="new-password"/g)).toHaveLength(2);
    expect(messageIds(passwordPage)).not.toContain('password.guidance');

    const weak = await submitRefused(browser, passwordPage, '/password', { password: 'password', confirm: 'password' });
    expect(messageIds(weak)).toEqual(expect.arrayContaining(['password.too_short', 'password.guidance']));
    expect(weak.body).toContain('Your password must have at least 15 characters.');
    // Fourteen characters are one too few, counted by code point (an emoji is one).
    const fourteen = await submitRefused(browser, weak, '/password', { password: 'ab<>&"\\ 🔑 défg', confirm: 'ab<>&"\\ 🔑 défg' });
    expect(messageIds(fourteen)).toContain('password.too_short');
    const done = await submit(browser, fourteen, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');

    // Back to the same sign-in of the same RP request, and the new password works there.
    const backLink = /href="(\/interaction\/[^"]+)"/.exec(done.body)![1]!;
    const again = await browser.follow(await browser.get(new URL(backLink, done.url).href));
    expect(again.status).toBe(200);
    const callback = await browser.follow(await submitLogin(browser, again, user.username, NEW_PASSWORD), redirectUri());
    const afterConsent = callback.url.startsWith(redirectUri()) ? callback : await browser.follow(await browser.post(findForm(callback, '/confirm').action, findForm(callback, '/confirm').fields), redirectUri());
    const tokens = await client.authorizationCodeGrant(config, new URL(afterConsent.url), { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    expect(tokens.claims()?.sub).toBe(user._id);

    // What was issued before the reset is dead; the old password no longer works.
    expect((await client.tokenIntrospection(config, before.tokens.access_token)).active).toBe(false);
    await expect(client.refreshTokenGrant(config, before.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await silent(before.browser)).get('error')).toBe('login_required');
    const stranger = new Browser();
    const oldPassword = await submitLogin(stranger, await openLoginPage(stranger, (await authorizationUrl(config, redirectUri())).url), user.username, PASSWORD);
    expect(oldPassword.status).toBe(200);
    expect(messageIds(oldPassword)).toContain('login.invalid');

    // Every contact is told, with a "This wasn't me" link.
    const notices = await waitFor(() => {
      const found = sink.received.filter((m) => m.subject === 'Your password was reset');
      return found.length >= 2 ? found : undefined;
    }, 'reset notices');
    expect(notices.map((m) => JSON.stringify(m.to)).join()).toContain(user.email);
    expect(notices[0]!.text).toMatch(/\/recover\/lockdown\/[\w-]{43}/);
    // Every email says which service wrote it: the code and the notices end with the product name.
    const codeMail = sink.received.find((m) => m.subject === 'Your verification code' && JSON.stringify(m.to).includes(alternateEmail))!;
    for (const mail of [codeMail, notices[0]!]) expect(mail.text!.trimEnd()).toMatch(/— Latchkey$/);
    // Both wear the brand in HTML too: logo (an absolute address) and name at the top, the accent colour, the code.
    for (const mail of [codeMail, notices[0]!]) {
      expect(mail.html).toContain(`<img src="${new URL(server.issuer).origin}/static/logo.svg"`);
      expect(mail.html).toContain('border-top:4px solid #0b5cad');
      expect(mail.html).toMatch(/<p style="[^"]*">— Latchkey<\/p><\/div><\/body><\/html>$/);
    }
    expect(codeMail.html).toContain(/\b(\d{6,8})\b/.exec(codeMail.text!)![1]!);
    expect(notices[0]!.html).toMatch(/<a style="color:#0b5cad" href="[^"]+\/recover\/lockdown\/[\w-]{43}">/);
    const audit = await server.connection.db!.collection(AUDIT_COLLECTION).find({ accountId: user._id, type: 'password.reset' }).toArray();
    expect(audit).toHaveLength(1);
  });
});

describe('"Can\'t access your account?" after typing a login', () => {
  /** The sign-in page's link to the recovery, followed to "Who are you?". */
  async function followRecoverLink(browser: Browser, loginPage: Page): Promise<Page> {
    const recoverLink = /href="([^"]*\/recover)"/.exec(loginPage.body)![1]!;
    return browser.follow(await browser.get(new URL(recoverLink, loginPage.url).href));
  }
  const identifierValue = (page: Page) => /<input id="identifier"[^>]*\bvalue="([^"]*)"/s.exec(page.body)?.[1];
  const loginValue = (page: Page) => /<input id="login"[^>]*\bvalue="([^"]*)"/s.exec(page.body)?.[1];

  it('starts "Who are you?" with the login the refused sign-in kept, in that sign-in\'s recovery only, and forgets it once the recovery starts', async () => {
    const { user } = await userWithMethods();
    const browser = new Browser();
    const refused = await submitLogin(browser, await openLoginPage(browser, (await authorizationUrl(config, redirectUri())).url), user.email, 'not the password at all');
    expect(messageIds(refused)).toContain('login.invalid');

    const whoAreYou = await followRecoverLink(browser, refused);
    expect(identifierValue(whoAreYou)).toBe(user.email);
    // A recovery opened any other way, in the same browser, starts empty: no sign-in, or another one.
    expect(identifierValue(await browser.get(`${server.origin}/recover`))).toBe('');
    const otherSignIn = await openLoginPage(browser, (await authorizationUrl(config, redirectUri())).url);
    expect(identifierValue(await followRecoverLink(browser, otherSignIn))).toBe('');
    // The login is handed over in a cookie, never in an address.
    expect(whoAreYou.url).not.toContain(encodeURIComponent(user.email));

    const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.email, captcha: CAPTCHA_ANSWER, action: 'next' });
    expect(messageIds(goal)).toContain('recover.goal_heading');
    expect(identifierValue(await followRecoverLink(browser, refused))).toBe('');
  });

  it('starts it empty once the sign-in page shows an emptied login, or the sign-in was cancelled', async () => {
    const browser = new Browser();
    const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri(), { login_hint: 'hinted.person@example.com' })).url);
    const emptied = await submitLogin(browser, loginPage, '', 'whatever it was');
    expect(messageIds(emptied)).toContain('login.missing');
    expect(identifierValue(await followRecoverLink(browser, emptied))).toBe('');

    const other = new Browser();
    const refused = await submitLogin(other, await openLoginPage(other, (await authorizationUrl(config, redirectUri())).url), 'typed.person@example.com', 'not the password at all');
    const cancel = findForm(refused, '/abort');
    await other.post(cancel.action, cancel.fields);
    expect(identifierValue(await other.get(`${server.origin}/recover?from=${/\/interaction\/([\w-]+)/.exec(refused.url)![1]}`))).toBe('');
  });

  it('brings the login typed on "Who are you?" back to the sign-in the recovery started from, and to no other', async () => {
    const { user } = await userWithMethods();
    const browser = new Browser();
    const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri(), { login_hint: 'hinted.person@example.com' })).url);
    const whoAreYou = await followRecoverLink(browser, loginPage);
    const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
    expect(messageIds(goal)).toContain('recover.goal_heading');

    // The recovery's "Sign in" (or the Back button) returns there: the login typed last wins over the hint.
    const signInAgain = await browser.get(loginPage.url);
    expect(loginValue(signInAgain)).toBe(user.username);
    // Another sign-in in the same browser starts as its relying party asked.
    expect(loginValue(await openLoginPage(browser, (await authorizationUrl(config, redirectUri())).url))).toBe('');
  });

  it('fills in no login_hint its form would refuse: broken UTF-8, a control character, one too long', async () => {
    for (const hint of ['%FF', 'ada%00', 'a'.repeat(321)]) {
      const browser = new Browser();
      const { url } = await authorizationUrl(config, redirectUri());
      const loginPage = await openLoginPage(browser, new URL(`${url.href}&login_hint=${hint}`));
      expect(loginValue(loginPage)).toBe('');
      expect(identifierValue(await followRecoverLink(browser, loginPage))).toBe('');
      // Nor an application's link to the account pages.
      expect(loginValue(await browser.get(`${server.origin}/account/password?login_hint=${hint}`))).toBe('');
    }
  });

  it("starts it with the relying party's login_hint, as the sign-in page did", async () => {
    const browser = new Browser();
    const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri(), { login_hint: 'hinted.person@example.com' })).url);
    expect(identifierValue(await followRecoverLink(browser, loginPage))).toBe('hinted.person@example.com');
  });
});

describe('a reset that meets a failure', () => {
  /** Runs `step` while the server's accounts fail at `operation` with `error` (a fault, injected for this step only). */
  async function whileFailing<T>(operation: 'revokeAccess' | 'preparePassword', error: Error, step: () => Promise<T>): Promise<T> {
    const accounts = server.latchkey.accounts;
    const original = accounts[operation];
    accounts[operation] = async () => {
      throw error;
    };
    try {
      return await step();
    } finally {
      accounts[operation] = original as never;
    }
  }

  it('after the new password is written, a failure to delete the old sessions neither revives them nor loses the notice or the done page', async () => {
    const { user, mobilePhone } = await userWithMethods();
    const before = await sessionAndTokens(user);
    // Token times have one-second resolution: what was issued in the reset's own second is for the deletions to end
    // (users.ts isAccessCurrent). A person takes longer than that; here the clock must be made to.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    const done = await whileFailing('revokeAccess', new Error('the database went away for a moment'), () =>
      submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }),
    );
    expect(done.status).toBe(200);
    expect(messageIds(done)).toContain('recover.done_reset');
    // Nothing issued before the new password was written is honoured: that same write revoked it.
    expect((await client.tokenIntrospection(config, before.tokens.access_token)).active).toBe(false);
    await expect(client.refreshTokenGrant(config, before.tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect((await silent(before.browser)).get('error')).toBe('login_required');
    // What came after the failed step still happened: the audit event and the owner's notice.
    const audit = server.connection.db!.collection(AUDIT_COLLECTION);
    expect(await audit.countDocuments({ type: 'password.reset', accountId: user._id })).toBe(1);
    await waitFor(() => sink.received.find((m) => m.subject === 'Your password was reset' && JSON.stringify(m.to).includes(user.email)), 'the reset notice');
    expect(server.logs.some((line) => line.includes('"event":"recovery.follow_up_failed"') && line.includes('"task":"revocation"'))).toBe(true);
  });

  it('a failure to tell the other instances, just after the new password is written, neither hides the change nor loses its notice', async () => {
    const { user, mobilePhone } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    // Every announcement to the other instances (db/epoch-cache.ts) fails while the new password is sent.
    // (The driver makes a collection object per use: the fault goes on their shared prototype, for that collection.)
    const collections = Object.getPrototypeOf(server.connection.db!.collection(EPOCHS)) as { replaceOne: (this: { collectionName: string }, ...args: unknown[]) => unknown };
    const replaceOne = collections.replaceOne;
    collections.replaceOne = function (...args) {
      return this.collectionName === EPOCHS ? Promise.reject(new Error('the database blinked')) : replaceOne.apply(this, args);
    };
    let done: Page;
    try {
      done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    } finally {
      collections.replaceOne = replaceOne;
    }
    expect(done.status).toBe(200);
    expect(messageIds(done)).toContain('recover.done_reset');
    expect((await server.latchkey.accounts.findById(user._id))!.passwordHash).not.toBe(user.passwordHash);
    const audit = server.connection.db!.collection(AUDIT_COLLECTION);
    expect(await audit.countDocuments({ type: 'password.reset', accountId: user._id })).toBe(1);
    await waitFor(() => sink.received.find((m) => m.subject === 'Your password was reset' && JSON.stringify(m.to).includes(user.email)), 'the reset notice');
  });

  it('when the new password cannot be hashed now (argon2 busy), nothing is spent: the same page can be sent again', async () => {
    const { user, mobilePhone } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    const busy = await whileFailing('preparePassword', new ServiceUnavailableError('password work queue is full'), () =>
      submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }),
    );
    const accounts = server.latchkey.accounts;
    expect(busy.status).toBe(503);
    expect(messageIds(busy)).toContain('error.unavailable');
    const hash = (await accounts.findById(user._id))!.passwordHash;
    expect(hash).toBe(user.passwordHash);

    const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
    expect((await accounts.findById(user._id))!.passwordHash).not.toBe(hash);
  });
});

describe('reset with exactly one method', () => {
  it('resets after one emailed code when the mailbox is the only method registered', async () => {
    const user = await createUser(server);
    const alternateEmail = `only-${user.username}@example.net`;
    await registerMethods(server, user, { alternateEmail });
    const browser = new Browser();
    // Opened at its own address (the home page's link), not from an application's sign-in: Cancel leaves the flow.
    const start = await browser.get(`${server.origin}/recover`);
    expect(/href="([^"]*)" data-message-id="recover.cancel"/.exec(start.body)?.[1]).toBe('/');
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
    expect(messageIds(methods)).not.toContain('recover.crumb_step2');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
    const passwordPage = await enterCode(browser, sent, await emailedCode(sink, alternateEmail));
    // A password manager saves the new password under the account's name.
    expect(findForm(passwordPage, '/password').fields.username).toBe(user.username);
    const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toEqual(expect.arrayContaining(['recover.done_reset', 'recover.done_no_app'])); // no dead end
    expect((await server.latchkey.accounts.signIn(user.username, NEW_PASSWORD)).ok).toBe(true);
  });
});

describe('a code typed as people type it', () => {
  /** Full-width digits, as a Japanese or Chinese keyboard types them. */
  const fullWidth = (digits: string) => [...digits].map((digit) => String.fromCharCode(0xff10 + Number(digit))).join('');

  it.each([
    ['with a dash', (code: string) => `${code.slice(0, 3)}-${code.slice(3)}`],
    ['with a space', (code: string) => `${code.slice(0, 3)} ${code.slice(3)}`],
    ['in full-width digits, with a full-width dash', (code: string) => `${fullWidth(code.slice(0, 3))}－${fullWidth(code.slice(3))}`],
  ])('accepts an emailed code %s', async (_, typed) => {
    await setPolicy({});
    const user = await createUser(server);
    const alternateEmail = `typed-${user.username}@example.net`;
    await registerMethods(server, user, { alternateEmail });
    const browser = new Browser();
    const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'email'));
    const answer = await enterCode(browser, sent, typed(await emailedCode(sink, alternateEmail)));
    expect(messageIds(answer)).toContain('recover.password_heading');
  });

  it("accepts an authenticator's code in full-width digits, with a dash", async () => {
    await setPolicy({});
    const user = await createUser(server);
    const { totp } = await registerMethods(server, user, { authenticator: true });
    const browser = new Browser();
    const atTotp = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'totp');
    const code = totp();
    const answer = await enterCode(browser, atTotp, `${fullWidth(code.slice(0, 3))}-${fullWidth(code.slice(3))}`);
    expect(messageIds(answer)).toContain('recover.password_heading');
  });
});

describe('reset with two methods (policy), and each method', () => {
  it('needs two different methods when the policy says 2, and accepts an authenticator code', async () => {
    await setPolicy({ methodsRequired: 2 });
    const { user, mobilePhone, totp } = await userWithMethods();
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
    expect(messageIds(methods)).toEqual(expect.arrayContaining(['recover.crumb_step1', 'recover.crumb_step2', 'recover.crumb_password']));
    const totpPanel = await chooseMethod(browser, methods, 'totp');
    expect(messageIds(totpPanel)).toContain('recover.totp_intro');
    expect(totpPanel.body).toContain('autocomplete="one-time-code"');
    expect(totpPanel.body).toContain('inputmode="numeric"');
    const step2 = await enterCode(browser, totpPanel, totp());
    expect(messageIds(step2)).toContain('recover.choose_second');
    expect(messageIds(step2)).not.toContain('recover.method_totp');
    const sent = await sendCode(browser, await chooseMethod(browser, step2, 'sms'), { phone: mobilePhone });
    const passwordPage = await enterCode(browser, sent, await textedCode(server, mobilePhone));
    const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
    expect((await server.latchkey.accounts.signIn(user.username, NEW_PASSWORD)).ok).toBe(true);
    await setPolicy({});
  });

  it('ends a text message with the origin-bound line, without a trailing newline', async () => {
    const { user, mobilePhone } = await userWithMethods();
    const browser = new Browser();
    const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
    await sendCode(browser, panel, { phone: mobilePhone });
    const code = await textedCode(server, mobilePhone);
    const [text] = (await outbox(server)).filter((m) => m.to === mobilePhone);
    expect(text!.text.endsWith(`\n@${new URL(server.issuer).hostname} #${code}`)).toBe(true);
    // Who sends it, first: a text's sender is no name the person can trust.
    expect(text!.text.startsWith(`${server.config.brand.name}: your verification code is ${code}.`)).toBe(true);
    // As phones read it (Chromium's parser, content/browser/sms/sms_parser.cc): the domain has no port.
    const autofill = /(?:^|\s)@([a-zA-Z0-9.-]+) #([^#\s]+)$/.exec(text!.text.split('\n').at(-1)!);
    expect(autofill?.slice(1)).toEqual([new URL(server.issuer).hostname, code]);
  });
});

describe('how long a sent code lasts, as the message says it', () => {
  it.each([
    [600, 'It expires in 10 minutes.'],
    [90, 'It expires in 1 minute.'],
    [30, 'It expires in 30 seconds.'],
  ])('a lifetime of %i seconds: %j', async (lifetimeSeconds, sentence) => {
    await setPolicy({ codes: { lifetimeSeconds } });
    try {
      const { user, mobilePhone } = await userWithMethods();
      const browser = new Browser();
      const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
      await sendCode(browser, panel, { phone: mobilePhone });
      await textedCode(server, mobilePhone);
      const [text] = (await outbox(server)).filter((m) => m.to === mobilePhone);
      expect(text!.text).toContain(sentence);
    } finally {
      await setPolicy({});
    }
  });
});

describe('unlock', () => {
  it('keeps the password and clears the lockout, after a proof', async () => {
    const { user, mobilePhone } = await userWithMethods();
    await setPolicy({ lockout: { threshold: 3, initialSeconds: 3600 } });
    for (let i = 0; i < 3; i += 1) await server.latchkey.accounts.signIn(user.username, `wrong password number ${i}`);
    expect(await server.latchkey.accounts.isLocked(user._id)).toBe(true);
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
    // The owner is told, once an hour at most, that nobody got in; with no "This wasn't me" link: anyone can cause a
    // lockout, and a lockdown would shut the owner out of their own browser too. Its text has no link either.
    const lockedNotice = (m: { subject?: string; to?: unknown }) => m.subject === 'Your account was locked' && JSON.stringify(m.to).includes(user.email);
    const notice = await waitFor(() => sink.received.find(lockedNotice), 'the lockout notice');
    expect(notice.text).toContain('Whoever made them did not get in, and nothing in your account changed.');
    expect(notice.text).not.toMatch(/\/recover\/lockdown\//);
    expect(notice.html).not.toMatch(/\/recover\/lockdown\//);
    const lockoutText = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'sms' && m.to === mobilePhone && m.text.includes('Your account was locked')), 'the lockout text');
    expect(lockoutText.text).toContain('Nobody got in');
    expect(lockoutText.text).not.toMatch(/\/recover\/lockdown\//);

    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, user.email), 'unlock');
    expect(messageIds(methods)).toContain('recover.crumb_unlock');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone });
    const unlockPage = await enterCode(browser, sent, await textedCode(server, mobilePhone));
    expect(messageIds(unlockPage)).toContain('recover.unlock_intro');
    const done = await submit(browser, unlockPage, '/unlock');
    expect(messageIds(done)).toContain('recover.done_unlock');
    expect(await server.latchkey.accounts.isLocked(user._id)).toBe(false);
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(true);
    await waitFor(() => sink.received.find((m) => m.subject === 'Your account was unlocked' && JSON.stringify(m.to).includes(user.email)), 'the unlock notice');
    // Locked again within the hour: no second lockout notice.
    for (let i = 0; i < 3; i += 1) await server.latchkey.accounts.signIn(user.username, `another wrong password ${i}`);
    expect(await server.latchkey.accounts.isLocked(user._id)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(sink.received.filter(lockedNotice)).toHaveLength(1);
    await setPolicy({});
  });
});

describe('notices the policy turns off', () => {
  it('tells the owner nothing of a lockout or a reset while notify.onLockout and notify.onReset are off, and of an unlock while notify.onUnlock is on', async () => {
    const { user, mobilePhone } = await userWithMethods();
    await setPolicy({ lockout: { threshold: 3, initialSeconds: 3600 }, notify: { onReset: false, onUnlock: true, onLockout: false } });
    try {
      const lockOut = async () => {
        for (let i = 0; i < 3; i += 1) await server.latchkey.accounts.signIn(user.username, `wrong password number ${i}`);
        expect(await server.latchkey.accounts.isLocked(user._id)).toBe(true);
      };
      await lockOut();
      const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
      expect(messageIds(await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }))).toContain('recover.done_reset');
      await lockOut();
      const unlocking = new Browser();
      const methods = await chooseGoal(unlocking, await identify(server, unlocking, user.username), 'unlock');
      const sent = await sendCode(unlocking, await chooseMethod(unlocking, methods, 'sms'), { phone: mobilePhone });
      const unlockPage = await enterCode(unlocking, sent, await textedCode(server, mobilePhone, 1));
      expect(messageIds(await submit(unlocking, unlockPage, '/unlock'))).toContain('recover.done_unlock');

      // The notice still on arrives, after everything the others would have said.
      const toOwner = () => sink.received.filter((m) => JSON.stringify(m.to).includes(user.email));
      await waitFor(() => toOwner().find((m) => m.subject === 'Your account was unlocked'), 'the unlock notice');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(toOwner().map((m) => m.subject)).toEqual(['Your account was unlocked']);
      const texts = (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === mobilePhone).map((m) => m.text);
      expect(texts.some((text) => text.includes('Your account was unlocked'))).toBe(true);
      expect(texts.filter((text) => /Your account was locked|Your password was reset/.test(text))).toEqual([]);
    } finally {
      await setPolicy({});
    }
  });
});

describe('an unknown identifier', () => {
  it('fails even the code of its own pretended send, as a wrong one: a lucky guess shows nothing', async () => {
    await setPolicy({ methodsEnabled: ['email'] });
    try {
      const browser = new Browser();
      const methods = await chooseGoal(browser, await identify(server, browser, `nobody-${Date.now()}@example.org`), 'reset');
      const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
      // The decoy's message is stored (never sent) with a code like any other: the one a lucky guess would hit.
      const stored = await waitFor(() => server.connection.db!.collection(OUTBOX_COLLECTION).findOne({ status: 'decoy' }, { sort: { createdAt: -1 } }).then((doc) => doc ?? undefined), 'the decoy message');
      const code = /\b(\d{6,8})\b/.exec(configuredSecretBox(server.config).open(String(stored.text)))![1]!; // sealed while it waits
      const answer = await enterCode(browser, sent, code);
      expect(answer.status).toBe(200);
      expect(messageIds(answer)).toContain('recover.code_wrong');
      expect(messageIds(answer)).not.toContain('recover.password_heading');
      // And the code stays as a real account's wrong one does: the next guess is wrong too, not expired.
      expect(messageIds(await enterCode(browser, answer, '000000'))).toContain('recover.code_wrong');
    } finally {
      await setPolicy({});
    }
  });

  it('answers a typed phone number exactly as a real account whose number it is not', async () => {
    await setPolicy({ methodsEnabled: ['sms'] }); // so that the decoy pretends to have a phone, like the account
    try {
      await phoneAnswersAlike();
    } finally {
      await setPolicy({});
    }
  });

  async function phoneAnswersAlike() {
    const user = await createUser(server);
    await registerMethods(server, user, { mobilePhone: '+14155550142' });
    const phonePanel = async (identifier: string) => {
      const browser = new Browser();
      return { browser, panel: await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, identifier), 'reset'), 'sms') };
    };
    const real = await phonePanel(user.username);
    const decoy = await phonePanel(`nobody-${Date.now()}@example.org`);
    // Garbage, too short, a national number (a real account's country must not show), another country's number,
    // and a complete number that is not the account's.
    for (const phone of ['abc', '12', '4155550000', '0612345678', '+33612345678', '+14155550000']) {
      const answers = await Promise.all([real, decoy].map(({ browser, panel }) => submit(browser, panel, '/send', { phone })));
      const alerts = answers.map((page) => ({ status: page.status, ids: messageIds(page).filter((id) => /^recover\.phone_(invalid|mismatch|country)$/.test(id)) }));
      expect(alerts[1]).toEqual(alerts[0]);
      expect(alerts[0]!.ids).toHaveLength(1);
      for (const page of answers) expect(page.body).not.toMatch(/\{\w+\}/); // no placeholder left unfilled
    }
    // The owner may type the number as they dial it at home.
    const sent = await submit(real.browser, real.panel, '/send', { phone: '(415) 555-0142' });
    expect(messageIds(sent)).toContain('recover.code_sent_sms');
  }

  /** The structure of a page: status, message ids, form actions with the flow id blanked, field names. */
  const shape = (page: Page) => ({
    status: page.status,
    ids: messageIds(page).filter((id) => id !== 'recover.method_totp' && id !== 'recover.method_sms' && id !== 'recover.method_email'),
    actions: [...page.body.matchAll(/action="([^"]*)"/g)].map((m) => m[1]!.replace(/\/recover\/[\w-]{16,}/, '/recover/FLOW')),
    fields: [...new Set([...page.body.matchAll(/name="([^"]+)"/g)].map((m) => m[1]))].sort(),
  });

  /** A decoy flow at its first verification page whose pretended methods pass `wanted` (identifiers tried in turn). */
  async function decoyWith(wanted: (methods: string[]) => boolean) {
    for (let i = 0; i < 24; i += 1) {
      const browser = new Browser();
      const identifier = `nobody-${Date.now()}-${i}@example.org`;
      const goal = await identify(server, browser, identifier);
      const methods = await chooseGoal(browser, goal, 'reset');
      const pretended = messageIds(methods).filter((id) => id.startsWith('recover.method_'));
      if (wanted(pretended)) return { browser, identifier, goal, methods, pretended };
    }
    throw new Error('no decoy with the wanted methods among 24 identifiers');
  }

  it('pretends any mix of methods, not always the alternate email', async () => {
    const { pretended } = await decoyWith((methods) => !methods.includes('recover.method_email'));
    expect(pretended.length).toBeGreaterThan(0);
  });

  it("shows an admin's first verification page as a decoy's with the same methods: two steps appear after the first proof", async () => {
    await setPolicy({ methodsEnabled: ['email', 'sms'] });
    try {
      const admin = await createUser(server, { roles: ['admin'] });
      const mobilePhone = '+14155550191';
      await registerMethods(server, admin, { alternateEmail: `alt-${admin.username}@example.net`, mobilePhone });
      const real = new Browser();
      const realMethods = await chooseGoal(real, await identify(server, real, admin.username), 'reset');
      const decoy = await decoyWith((methods) => methods.join() === 'recover.method_email,recover.method_sms');
      expect(shape(decoy.methods)).toEqual(shape(realMethods));
      // And once a method is chosen (a phone, which finishes alone for an account that needs one proof).
      const realPanel = await chooseMethod(real, realMethods, 'sms');
      expect(shape(await chooseMethod(decoy.browser, decoy.methods, 'sms'))).toEqual(shape(realPanel));
      const step2 = await enterCode(real, await sendCode(real, realPanel, { phone: mobilePhone }), await textedCode(server, mobilePhone));
      expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.method_email']));
    } finally {
      await setPolicy({});
    }
  });

  it('walks a decoy flow identical in structure to a real one, with stable hints, sends nothing, and every code fails', async () => {
    // The decoy pretends to be an account with some of the methods (fixed by a hash of the identifier); a real
    // account that registered the same ones must look the same at every step.
    const { browser: decoy, identifier: unknown, goal: decoyGoal, methods: decoyMethods, pretended } = await decoyWith((methods) => methods.includes('recover.method_email'));
    const user = await createUser(server);
    await registerMethods(server, user, {
      alternateEmail: `alt-${user.username}@example.net`,
      ...(pretended.includes('recover.method_sms') && { mobilePhone: '+14155559999' }),
      authenticator: pretended.includes('recover.method_totp'),
    });
    const real = new Browser();
    const realGoal = await identify(server, real, user.username);
    expect(shape(decoyGoal)).toEqual(shape(realGoal));
    const realMethods = await chooseGoal(real, realGoal, 'reset');
    expect(messageIds(realMethods).filter((id) => id.startsWith('recover.method_'))).toEqual(pretended);
    expect(shape(decoyMethods)).toEqual(shape(realMethods));
    const outboxBefore = (await outbox(server)).length;

    const realEmail = await chooseMethod(real, realMethods, 'email');
    const decoyEmail = await chooseMethod(decoy, decoyMethods, 'email');
    expect(shape(decoyEmail)).toEqual(shape(realEmail));
    // Any hint a real address can give (mask.ts): a first character a-z, 0-9 or *, and maybe no ending.
    const hint = /\(([a-z0-9*]\*{5}@[a-z0-9*]\*{5}(?:\.[a-z]+)?)\)/.exec(decoyEmail.body)![1]!;
    // The same identifier always shows the same hint.
    const again = new Browser();
    expect(await chooseMethod(again, await chooseGoal(again, await identify(server, again, unknown.toUpperCase()), 'reset'), 'email')).toMatchObject({ body: expect.stringContaining(hint) });

    const decoySent = await sendCode(decoy, decoyEmail);
    expect(shape(decoySent)).toEqual(shape(await sendCode(real, realEmail)));
    const wrong = await enterCode(decoy, decoySent, '123456');
    expect(wrong.status).toBe(200);
    expect(messageIds(wrong)).toContain('recover.code_wrong');
    await new Promise((resolve) => setTimeout(resolve, 300)); // give a (wrong) send time to show up
    expect(sink.received.filter((m) => JSON.stringify(m.to).includes('nobody-'))).toHaveLength(0);
    expect((await outbox(server)).length).toBe(outboxBefore);
  });
});


describe("This wasn't me", () => {
  it('a GET only asks; the POST locks the account down once: everything revoked, sign-in refused, recovery needs two methods', async () => {
    const { user, alternateEmail, mobilePhone } = await userWithMethods();
    const { browser: signedIn } = await sessionAndTokens(user);
    // An unlock sends a notice with the link.
    const browser = new Browser();
    const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'unlock'), 'sms'), { phone: mobilePhone });
    await submit(browser, await enterCode(browser, sent, await textedCode(server, mobilePhone)), '/unlock');
    const notice = await waitFor(() => sink.received.find((m) => m.subject === 'Your account was unlocked' && JSON.stringify(m.to).includes(alternateEmail)), 'the unlock notice');
    const link = /(http:\/\/[^\s]+\/recover\/lockdown\/[\w-]{43})/.exec(notice.text!)![1]!.replace(new URL(server.issuer).origin, server.origin);

    const owner = new Browser();
    const asked = await owner.get(link);
    expect(asked.status).toBe(200);
    expect(messageIds(asked)).toEqual(expect.arrayContaining(['lockdown.account', 'lockdown.intro', 'lockdown.was_me']));
    expect(asked.body).toContain(`Account: ${user.username}`); // which account the link secures
    expect((await silent(signedIn)).get('code')).toBeTruthy(); // a GET changed nothing
    const done = await owner.post(link, findForm(asked, '/lockdown/').fields);
    expect(messageIds(done)).toEqual(expect.arrayContaining(['lockdown.done', 'login.cant_access', 'error.home'])); // and a way on
    // "…or contact your administrator": with the way to (or, without a helpdesk, the support code to give).
    expect(messageIds(done)).toEqual(expect.arrayContaining([expect.stringMatching(/^recover\.(contact_admin|support_none)$/)]));
    expect((await silent(signedIn)).get('error')).toBe('login_required');
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
    const used = await owner.post(link, findForm(asked, '/lockdown/').fields);
    expect(used.status).toBe(410);
    expect(messageIds(used)).toEqual(expect.arrayContaining(['lockdown.invalid', 'login.cant_access']));
    // The link's token never reaches the log; the request lines show the path without it, also for the link with a
    // trailing slash (which routing serves) or anything after it (a 404).
    expect((await owner.get(`${link}/`)).status).toBe(410);
    expect((await owner.get(`${link}/more`)).status).toBe(404);
    expect((await owner.get(link.replace('/recover/lockdown/', '/Recover/LOCKDOWN/'))).status).toBe(410); // routing ignores case
    const token = link.slice(link.lastIndexOf('/') + 1);
    expect(server.logs.filter((line) => line.includes(token))).toEqual([]);
    expect(server.logs.filter((line) => line.includes('"path":"/recover/lockdown/…"')).length).toBeGreaterThanOrEqual(6);

    // Getting back in now takes two methods, even though the policy asks for one: the first proof leads to a second.
    const again = new Browser();
    const methods = await chooseGoal(again, await identify(server, again, user.username), 'unlock');
    const sentAgain = await sendCode(again, await chooseMethod(again, methods, 'sms'), { phone: mobilePhone });
    const step2 = await enterCode(again, sentAgain, await textedCode(server, mobilePhone, 1));
    expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.method_email']));
  });

  it('a link is good for a week, and only through its own page\'s form (its CSRF token): otherwise nothing is locked down', async () => {
    const user = await createUser(server);
    const token = await createLockdowns(server.connection).issue(user._id);
    const link = `${server.origin}/recover/lockdown/${token}`;
    const owner = new Browser();
    const asked = await owner.get(link);
    expect(asked.status).toBe(200);
    const form = findForm(asked, '/lockdown/');
    const forged = await owner.post(link, { ...form.fields, csrf: 'forged' });
    expect(forged.status).toBe(403);
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();

    // A week on (its expiry moved back to now), the link is dead: its page says so, and its form does nothing.
    const id = createHash('sha256').update(token).digest('base64url');
    const stored = server.connection.db!.collection<{ _id: string; expiresAt: Date }>(LOCKDOWN_TOKENS);
    expect((await stored.findOne({ _id: id }))!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 7 * 86_400_000 - 60_000);
    await stored.updateOne({ _id: id }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    const late = await owner.get(link);
    expect(late.status).toBe(410);
    expect(messageIds(late)).toContain('lockdown.invalid');
    expect((await owner.post(link, form.fields)).status).toBe(410);
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();
  });

  it('a flow begun before the lockdown needs the second method too: one proof leads to step 2, not to the new password', async () => {
    const { user, alternateEmail, mobilePhone } = await userWithMethods();
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
    expect(messageIds(methods)).not.toContain('recover.crumb_step2'); // one method is enough, so far
    await server.latchkey.accounts.lockDown(user._id); // the owner follows "This wasn't me" meanwhile

    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone });
    const step2 = await enterCode(browser, sent, await textedCode(server, mobilePhone));
    expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.method_email']));
    expect(messageIds(step2)).not.toContain('recover.password_heading');
    const passwordPage = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, step2, 'email')), await emailedCode(sink, alternateEmail));
    const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();
  });

  it('a lockdown that lands just as a one-proof recovery finishes holds: the password judged before it is not written, and only the full method count ends it', async () => {
    const { user } = await userWithMethods();
    const recovery = recoveryAccounts(server.latchkey.accounts);
    const prepared = await recovery.preparePassword(user, NEW_PASSWORD);
    await server.latchkey.accounts.lockDown(user._id);
    await expect(recovery.replacePassword(prepared, user)).rejects.toBeInstanceOf(AccountChangedError);
    expect((await server.latchkey.accounts.findById(user._id))!.passwordHash).toBe(user.passwordHash);
    // Had the write got in first, the clear-up after it would still not end the lockdown.
    await recovery.replacePassword(prepared, (await server.latchkey.accounts.findById(user._id))!);
    await recovery.clearAfterReset(user, 1);
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
    // The unlock branch never ends one, whatever its proofs: it keeps the password in place.
    await recovery.unlock(user);
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
    await recovery.clearAfterReset(user, 2);
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();
  });

  it("\"I know my password\" on a locked-down account leads, once both proofs are in, to a new password: the one in place may be the intruder's", async () => {
    const { user, alternateEmail, mobilePhone } = await userWithMethods();
    // Whoever was "not me" knows PASSWORD (they set it, say, with the SIM they took); the owner locks the account down.
    await server.latchkey.accounts.lockDown(user._id);
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'unlock');
    expect(messageIds(methods)).toContain('recover.crumb_unlock'); // nothing tells of the lockdown before a proof
    const step2 = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone }), await textedCode(server, mobilePhone));
    // One proof in: still nothing (whoever holds one factor must not learn that the account is locked down).
    expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.crumb_unlock']));
    expect(messageIds(step2)).not.toContain('recover.crumb_password');
    const passwordPage = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, step2, 'email')), await emailedCode(sink, alternateEmail));
    expect(messageIds(passwordPage)).toEqual(expect.arrayContaining(['recover.password_heading', 'recover.lockdown_new_password', 'recover.crumb_password']));
    expect(messageIds(passwordPage)).not.toContain('recover.unlock_intro');
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
    // The password in place cannot be chosen again: the page said it would no longer work.
    const same = await submitRefused(browser, passwordPage, '/password', { password: PASSWORD, confirm: PASSWORD });
    expect(messageIds(same)).toEqual(expect.arrayContaining(['password.unchanged', 'recover.password_heading']));
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);

    const done = await submit(browser, same, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
    expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
    expect((await server.latchkey.accounts.signIn(user.username, NEW_PASSWORD)).ok).toBe(true);
  });

  it('a lockdown that lands on the unlock page (both proofs in) voids both: its Next leads back to verification; nothing is unlocked', async () => {
    await setPolicy({ methodsRequired: 2 });
    try {
      const { user, mobilePhone, totp } = await userWithMethods();
      const browser = new Browser();
      const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'unlock');
      const step2 = await enterCode(browser, await chooseMethod(browser, methods, 'totp'), totp());
      const unlockPage = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, step2, 'sms'), { phone: mobilePhone }), await textedCode(server, mobilePhone));
      expect(messageIds(unlockPage)).toContain('recover.unlock_intro');
      await server.latchkey.accounts.lockDown(user._id);

      // Proofs made before the lockdown may be whoever was "not me"'s: they no longer count.
      const back = await submit(browser, unlockPage, '/unlock');
      expect(messageIds(back)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_sms', 'recover.method_totp']));
      expect(messageIds(back)).not.toContain('recover.unlock_intro');
      expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
      expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
      // The unlock page's form again (a replay) is out of date.
      expect((await browser.post(findForm(unlockPage, '/unlock').action, findForm(unlockPage, '/unlock').fields)).status).toBe(409);
      expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
    } finally {
      await setPolicy({});
    }
  });

  it('a lockdown while the new password is being chosen voids the proof made before it: both methods are needed now; nothing changes', async () => {
    const { user, alternateEmail, mobilePhone } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    expect(messageIds(passwordPage)).toContain('recover.password_heading');
    await server.latchkey.accounts.lockDown(user._id);
    const before = await server.latchkey.accounts.findById(user._id);

    const refused = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_sms', 'recover.method_email']));
    const after = await server.latchkey.accounts.findById(user._id);
    expect(after!.passwordHash).toBe(before!.passwordHash);
    expect(after!.lockedDownAt).toEqual(before!.lockedDownAt);
    // The password page's form again (a replay) is out of date; two proofs made now lead on.
    expect((await browser.post(findForm(passwordPage, '/password').action, { ...findForm(passwordPage, '/password').fields, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).status).toBe(409);
    const step2 = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, refused, 'sms'), { phone: mobilePhone }), await textedCode(server, mobilePhone, 1));
    expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.method_email']));
    const again = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, step2, 'email')), await emailedCode(sink, alternateEmail));
    expect(messageIds(again)).toContain('recover.password_heading');
  });
});

describe('a proof whose authenticator changes before the end', () => {
  /** A reset flow whose code has just been texted to the registered mobile phone. */
  async function textedResetCode() {
    const { user, mobilePhone } = await userWithMethods();
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone });
    return { user, mobilePhone, browser, sent, code: await textedCode(server, mobilePhone) };
  }

  it('a code sent to a number replaced before it is typed proves nothing: it is answered as expired', async () => {
    const { user, browser, sent, code } = await textedResetCode();
    // Whoever holds the old SIM has the code; the owner reports the swap and the helpdesk registers the new number.
    await server.latchkey.accounts.setSecurityInfo(user._id, { mobilePhone: `+1415557${String(1000 + phoneCounter).padStart(4, '0')}` });
    const answer = await enterCode(browser, sent, code);
    expect(messageIds(answer)).toContain('recover.code_expired');
    expect(messageIds(answer)).not.toContain('recover.password_heading');
    const audit = server.connection.db!.collection(AUDIT_COLLECTION);
    expect(await audit.findOne({ type: 'code.failed', accountId: user._id }, { sort: { at: -1 } })).toMatchObject({ reason: 'destination_changed' });
  });

  it('"Try again" after the number is replaced texts no number typed here: the flow asks for the complete number again', async () => {
    const { user, mobilePhone, browser, sent, code: oldCode } = await textedResetCode();
    const newPhone = `+1415558${String(1000 + phoneCounter).padStart(4, '0')}`;
    await server.latchkey.accounts.setSecurityInfo(user._id, { mobilePhone: newPhone });
    const textsTo = async (to: string) => (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === to).length;

    const form = findForm(sent, '/code');
    const again = await browser.follow(await browser.post(form.action.replace(/\/code$/, '/resend'), form.fields));
    expect(messageIds(again)).toEqual(expect.arrayContaining(['recover.out_of_date', 'recover.sms_intro']));
    expect(again.body).toContain('name="phone"');
    expect(await textsTo(newPhone)).toBe(0);
    expect(await textsTo(mobilePhone)).toBe(1);
    // The code sent before is void, and the new number, once typed, gets one.
    expect(messageIds(await enterCode(browser, sent, oldCode))).not.toContain('recover.password_heading');
    const passwordPage = await enterCode(browser, await sendCode(browser, again, { phone: newPhone }), await textedCode(server, newPhone));
    expect(messageIds(passwordPage)).toContain('recover.password_heading');
  });

  it('no longer counts once the policy stops offering its method: the flow asks for a proof again, and nothing changes', async () => {
    const { user, mobilePhone, totp } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    // An administrator turns texts off (a carrier's SMS pumping, say) while the new password is being chosen.
    await setPolicy({ methodsEnabled: ['email', 'totp'] });
    try {
      const before = await server.latchkey.accounts.findById(user._id);
      const refused = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_email', 'recover.method_totp']));
      expect(messageIds(refused)).not.toContain('recover.method_sms');
      expect((await server.latchkey.accounts.findById(user._id))!.passwordHash).toBe(before!.passwordHash);
      const again = await enterCode(browser, await chooseMethod(browser, refused, 'totp'), totp());
      expect(messageIds(again)).toContain('recover.password_heading');
    } finally {
      await setPolicy({});
    }
  });

  it.each([
    ['the policy asks for two methods', (_user: User) => setPolicy({ methodsRequired: 2 })],
    ['the account is made an administrator', (user: User) => server.latchkey.accounts.setRoles(user._id, ['admin'])],
  ])('asks for one more proof once %s meanwhile, and nothing changes until it is given', async (_case, raise) => {
    const { user, mobilePhone, totp } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    expect(messageIds(passwordPage)).toContain('recover.password_heading');
    await raise(user);
    try {
      const before = await server.latchkey.accounts.findById(user._id);
      const refused = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      expect(messageIds(refused)).toContain('recover.more_proof');
      expect(messageIds(refused)).not.toContain('recover.done_reset');
      // The second step offers what the first did not use: the phone's text is spent.
      expect(messageIds(refused)).toContain('recover.method_totp');
      expect(messageIds(refused)).not.toContain('recover.method_sms');
      expect((await server.latchkey.accounts.findById(user._id))!.passwordHash).toBe(before!.passwordHash);
      const again = await enterCode(browser, await chooseMethod(browser, refused, 'totp'), totp());
      expect(messageIds(again)).toContain('recover.password_heading');
      expect(messageIds(await submit(browser, again, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }))).toContain('recover.done_reset');
    } finally {
      await setPolicy({});
    }
  });

  it('no longer counts once the phone it was made with is replaced: the flow asks for a proof again, and nothing changes', async () => {
    const { user, mobilePhone, totp } = await userWithMethods();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    expect(messageIds(passwordPage)).toContain('recover.password_heading');
    // The owner reports a SIM swap meanwhile, and the helpdesk registers their new number.
    await server.latchkey.accounts.setSecurityInfo(user._id, { mobilePhone: `+1415556${String(1000 + phoneCounter).padStart(4, '0')}` });
    const before = await server.latchkey.accounts.findById(user._id);

    const refused = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_sms', 'recover.method_totp']));
    expect((await server.latchkey.accounts.findById(user._id))!.passwordHash).toBe(before!.passwordHash);
    // A method registered now proves it again.
    const again = await enterCode(browser, await chooseMethod(browser, refused, 'totp'), totp());
    expect(messageIds(again)).toContain('recover.password_heading');
    const done = await submit(browser, again, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
  });
});
