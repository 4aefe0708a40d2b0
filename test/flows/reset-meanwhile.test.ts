// A password reset, a lockdown or any other revocation of an account that lands while a recovery or a temporary
// password's change is under way ends what that flow had proved: an older flow cannot finish after it and replace
// the newer password (a code intercepted or seen over a shoulder must not outlive the reset that answered it).
// Argon2 is slowed here (ARGON2_TIME_COST) so that a change can land while a new password is being hashed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, submit, textedCode, waitFor } from '../helpers/recovery.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const ADMIN_PASSWORD = 'harbor pepper glacier tundra';
const FLOW_PASSWORD = 'nimbus cobalt saffron otter';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  // Each hash takes several hundred milliseconds (about 25 ms at the default cost).
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, ARGON2_TIME_COST: '60' });
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

const stored = async (id: string) => (await server.connection.db!.collection<User>('users').findOne({ _id: id }))!;
const signsInWith = async (user: User, password: string) => (await server.latchkey.accounts.signIn(user.username, password)).ok;
/** Runs `change` once the server is hashing a password (an argon2 run has begun): it lands during that run. */
async function whileHashing(change: () => Promise<unknown>): Promise<void> {
  await waitFor(() => (server.latchkey.passwordWork().running > 0 ? true : undefined), 'an argon2 run');
  await change();
}

let phones = 0;
async function userWithPhone(): Promise<{ user: User; mobilePhone: string }> {
  const user = await createUser(server);
  phones += 1;
  const mobilePhone = `+1415555${String(2000 + phones).padStart(4, '0')}`;
  await registerMethods(server, user, { mobilePhone });
  return { user, mobilePhone };
}

/** A reset flow that has proved the mobile phone (the policy's one method) and shows "choose a new password". */
async function atPasswordPage(user: User, mobilePhone: string): Promise<{ browser: Browser; passwordPage: Page }> {
  const browser = new Browser();
  const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms'), { phone: mobilePhone });
  const passwordPage = await enterCode(browser, sent, await textedCode(server, mobilePhone));
  expect(messageIds(passwordPage)).toContain('recover.password_heading');
  return { browser, passwordPage };
}

const choosePassword = (browser: Browser, page: Page, password: string) => submit(browser, page, '/password', { password, confirm: password });

describe('a recovery under way when the account is reset elsewhere', () => {
  it("cannot finish after an administrator's reset: its proof no longer counts, and proving again leads on", async () => {
    const { user, mobilePhone } = await userWithPhone();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    await server.latchkey.accounts.resetPassword(user._id, ADMIN_PASSWORD, { temporary: true }); // `users set-password`

    const refused = await choosePassword(browser, passwordPage, FLOW_PASSWORD);
    expect(refused.status).toBe(200);
    expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_sms']));
    expect(messageIds(refused)).not.toContain('recover.password_heading');
    expect(await signsInWith(user, ADMIN_PASSWORD)).toBe(true);
    expect(await signsInWith(user, FLOW_PASSWORD)).toBe(false);
    expect((await stored(user._id)).passwordChangeRequired).toBe(true);

    // Whoever still holds the phone proves it again, and the flow goes on from there.
    const again = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, refused, 'sms'), { phone: mobilePhone }), await textedCode(server, mobilePhone, 1));
    expect(messageIds(again)).toContain('recover.password_heading');
    expect(messageIds(await choosePassword(browser, again, FLOW_PASSWORD))).toContain('recover.done_reset');
    expect(await signsInWith(user, FLOW_PASSWORD)).toBe(true);
  });

  it("cannot finish after another recovery's reset: the older flow does not undo the owner's new password", async () => {
    const { user, mobilePhone } = await userWithPhone();
    const older = await atPasswordPage(user, mobilePhone);
    const owner = new Browser();
    const sent = await sendCode(owner, await chooseMethod(owner, await chooseGoal(owner, await identify(server, owner, user.username), 'reset'), 'sms'), { phone: mobilePhone });
    const ownerPage = await enterCode(owner, sent, await textedCode(server, mobilePhone, 1));
    expect(messageIds(await choosePassword(owner, ownerPage, ADMIN_PASSWORD))).toContain('recover.done_reset');

    expect(messageIds(await choosePassword(older.browser, older.passwordPage, FLOW_PASSWORD))).toContain('recover.verify_again');
    expect(await signsInWith(user, ADMIN_PASSWORD)).toBe(true);
    expect(await signsInWith(user, FLOW_PASSWORD)).toBe(false);
  });

  it('a proof made before the reset does not join one made after it: the flow asks for it again, before any new password', async () => {
    await server.latchkey.policy.save({ methodsRequired: 2 }); // (the phone alone would do otherwise)
    try {
      const { user, mobilePhone } = await userWithPhone();
      const alternateEmail = `alt-${user.username}@example.net`;
      await registerMethods(server, user, { alternateEmail, mobilePhone });
      const browser = new Browser();
      const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'email'));
      const mailed = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'email' && m.to === alternateEmail), 'the code email');
      const step2 = await enterCode(browser, sent, /\b(\d{6})\b/.exec(mailed.text)![1]!);
      expect(messageIds(step2)).toEqual(expect.arrayContaining(['recover.crumb_step2', 'recover.method_sms']));
      await server.latchkey.accounts.revokeAccess(user._id); // an administrator ends every session, say

      const again = await enterCode(browser, await sendCode(browser, await chooseMethod(browser, step2, 'sms'), { phone: mobilePhone }), await textedCode(server, mobilePhone));
      expect(messageIds(again)).toEqual(expect.arrayContaining(['recover.verify_again', 'recover.method_email']));
      expect(messageIds(again)).not.toContain('recover.password_heading');
    } finally {
      await server.latchkey.policy.save({});
    }
  });

  it('a code texted before the reset and typed after it is void', async () => {
    const { user, mobilePhone } = await userWithPhone();
    const browser = new Browser();
    const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms'), { phone: mobilePhone });
    const code = await textedCode(server, mobilePhone);
    await server.latchkey.accounts.resetPassword(user._id, ADMIN_PASSWORD);

    const page = await enterCode(browser, sent, code);
    expect(messageIds(page)).toContain('recover.code_expired');
    expect(messageIds(page)).not.toContain('recover.password_heading');
  });

  it('a revocation that lands while the new password is hashed is seen before anything is written', async () => {
    const { user, mobilePhone } = await userWithPhone();
    const { browser, passwordPage } = await atPasswordPage(user, mobilePhone);
    const before = await stored(user._id);
    const [answer] = await Promise.all([
      choosePassword(browser, passwordPage, FLOW_PASSWORD),
      // While the new password is hashed (the post's one argon2 run), after the checks before it.
      whileHashing(() => server.latchkey.accounts.revokeAccess(user._id)),
    ]);
    expect(messageIds(answer)).toContain('recover.verify_again');
    expect((await stored(user._id)).passwordHash).toBe(before.passwordHash);
    expect(await signsInWith(user, PASSWORD)).toBe(true);
  });
});

describe('a temporary password being replaced at sign-in', () => {
  it("when the administrator sets a new temporary password meanwhile (the first leaked), theirs holds: the change goes back to the sign-in page", async () => {
    const user = await createUser(server);
    await server.latchkey.accounts.resetPassword(user._id, PASSWORD, { temporary: true });
    const browser = new Browser();
    const start = await authorizationUrl(config, rp.redirect_uris[0]!);
    const form = findForm(await openLoginPage(browser, start.url), '/login');
    const changePage = await browser.follow(await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD }));
    const change = findForm(changePage, '/password');
    expect(messageIds(changePage)).toContain('password_change.heading');

    // The post verifies the temporary password, then hashes the new one (two argon2 runs, one after the other); the
    // administrator's new password, started with the first, is written after one run of its own: between them.
    const [answer] = await Promise.all([
      browser.post(change.action, { ...change.fields, password: FLOW_PASSWORD, confirm: FLOW_PASSWORD }),
      whileHashing(() => server.latchkey.accounts.resetPassword(user._id, ADMIN_PASSWORD, { temporary: true })),
    ]);
    expect(answer.status).toBe(303);
    expect(new URL(answer.headers.get('location')!, answer.url).pathname).toBe(new URL(changePage.url).pathname);
    expect(messageIds(await browser.follow(answer))).toContain('login.cant_access'); // the sign-in page
    expect(await signsInWith(user, ADMIN_PASSWORD)).toBe(true);
    expect(await signsInWith(user, FLOW_PASSWORD)).toBe(false);
    expect((await stored(user._id)).passwordChangeRequired).toBe(true);
  });
});
