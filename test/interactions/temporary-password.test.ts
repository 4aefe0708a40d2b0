// A password an administrator sets (`users create`, `users set-password`) is temporary unless they say --permanent:
// the sign-in with it leads to a page where the user chooses their own, and completes only then. The relying party
// sees an ordinary sign-in; the temporary password stops working; the page's form is used once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { PASSWORD_CHANGES } from '../../src/interactions/password-change.ts';

const OWN_PASSWORD = 'lantern orchard velvet compass';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

const admin = (args: string[], input = '') => runAdmin(server.dbUri, [...args, '--json'], { input });
const stored = async (username: string) => (await server.connection.db!.collection<User>('users').findOne({ username }))!;

async function createdByAdmin(username: string, extra: string[] = []): Promise<User> {
  const run = await admin(['users', 'create', '--username', username, '--email', `${username}@example.test`, '--password-stdin', ...extra], `${PASSWORD}\n`);
  expect(run.code).toBe(0);
  return stored(username);
}

/** The sign-in page of a fresh authorization request, and the password posted on it (the answer, not followed). */
async function signIn(username: string, password = PASSWORD) {
  const browser = new Browser();
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  const form = findForm(await openLoginPage(browser, start.url), '/login');
  const answer = await browser.post(form.action, { ...form.fields, login: username, password });
  return { browser, start, answer };
}

const postNewPassword = (browser: Browser, page: Page, password: string, confirm = password) =>
  browser.post(findForm(page, '/password').action, { ...findForm(page, '/password').fields, password, confirm });

describe('a temporary password', () => {
  it('signs in only to the page where the user chooses their own; the sign-in then completes, and the temporary one stops working', async () => {
    const user = await createdByAdmin('tina');
    expect(user.passwordChangeRequired).toBe(true);
    const { browser, start, answer } = await signIn('tina');
    expect(answer.status).toBe(303);
    expect(new URL(answer.headers.get('location')!, answer.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    let page = await browser.follow(answer);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['password_change.heading', 'password_change.intro', 'password.rules_title']));

    // Refused with the reason, each time on the same page, by a redirect to it (a reload posts no password again): two
    // that differ, the temporary one again, a predictable one.
    for (const [password, confirm, error] of [
      [OWN_PASSWORD, `${OWN_PASSWORD}!`, 'recover.password_mismatch'],
      [PASSWORD, PASSWORD, 'password.reused'],
      ['Password123456789', 'Password123456789', 'password.predictable'],
    ] as const) {
      const refused = await postNewPassword(browser, page, password, confirm);
      expect(refused.status).toBe(303);
      expect(refused.headers.get('location')).toBe(new URL(page.url).pathname);
      page = await browser.follow(refused);
      expect(messageIds(page)).toContain(error);
      expect(page.body).toContain(`Support code: ${refused.headers.get('x-request-id')}`); // the refused post's
      expect((await stored('tina')).passwordHash).toBe(user.passwordHash);
    }
    // Reloaded, the page is the form again: the refusal was said once.
    const reloaded = await browser.get(page.url);
    expect(messageIds(reloaded)).toContain('password_change.heading');
    expect(messageIds(reloaded)).not.toContain('password.predictable');

    const accepted = await postNewPassword(browser, page, OWN_PASSWORD);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toContain('/oidc/auth/');
    const afterConsent = await browser.follow(accepted, rp.redirect_uris[0]!);
    const consent = findForm(afterConsent, '/confirm');
    const callback = new URL((await browser.follow(await browser.post(consent.action, consent.fields), rp.redirect_uris[0]!)).url);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    expect(tokens.claims()!.sub).toBe(user._id);

    expect((await stored('tina')).passwordChangeRequired).toBeUndefined();
    const recorded = await server.connection.db!.collection(AUDIT_COLLECTION).findOne({ type: 'password.changed', accountId: user._id });
    expect(recorded).toMatchObject({ reason: 'temporary', ip: expect.any(String) });
    expect((await server.latchkey.accounts.signIn('tina', PASSWORD)).ok).toBe(false);
    expect((await server.latchkey.accounts.signIn('tina', OWN_PASSWORD)).ok).toBe(true);

    // The same form once more: the sign-in it belonged to is over, nothing changes.
    const replay = await postNewPassword(browser, page, 'another lantern for the orchard');
    expect(replay.status).toBe(400);
    expect(messageIds(replay)).toContain('error.interaction_expired');
    expect((await server.latchkey.accounts.signIn('tina', OWN_PASSWORD)).ok).toBe(true);
  });

  /** The tokens the application gets once the browser follows `answer` (a resume of the provider) to the end. */
  async function tokensAfter(browser: Browser, answer: Page, start: Awaited<ReturnType<typeof authorizationUrl>>) {
    const consentPage = await browser.follow(answer, rp.redirect_uris[0]!);
    const consent = findForm(consentPage, '/confirm');
    const callback = new URL((await browser.follow(await browser.post(consent.action, consent.fields), rp.redirect_uris[0]!)).url);
    return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  }
  const changesAudited = async (user: User) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'password.changed', accountId: user._id });
  const leadsOn = (answer: Page) => answer.status === 303 && (answer.headers.get('location') ?? '').includes('/oidc/auth/');

  it('is replaced once by a double click; both answers lead on to the application', async () => {
    const user = await createdByAdmin('ursula');
    const { browser, start, answer } = await signIn('ursula');
    const page = await browser.follow(answer);
    const chosen = 'lantern orchard velvet sent twice';
    const answers = await Promise.all([0, 1].map(() => postNewPassword(browser, page, chosen)));
    // One wrote its password and recorded the sign-in; the other (the answer the browser shows) waited for it and
    // sends the browser on to the same resume of the provider, not to the password again.
    expect(answers.map(leadsOn)).toEqual([true, true]);
    expect(await changesAudited(user)).toBe(1);
    expect((await server.latchkey.accounts.signIn('ursula', chosen)).ok).toBe(true);
    expect((await tokensAfter(browser, answers[1]!, start)).claims()!.sub).toBe(user._id);
  });

  it('is replaced by one of two different passwords posted at once; the other post is told which one is in effect, and goes on', async () => {
    const user = await createdByAdmin('uma');
    const { browser, start, answer } = await signIn('uma');
    const page = await browser.follow(answer);
    const choices = ['first lantern orchard velvet', 'second compass harbour tulip'];
    const answers = await Promise.all(choices.map((password) => postNewPassword(browser, page, password)));
    const kept = choices.filter((_, i) => leadsOn(answers[i]!));
    expect(kept).toHaveLength(1);
    expect((await server.latchkey.accounts.signIn('uma', kept[0]!)).ok).toBe(true);
    expect(await changesAudited(user)).toBe(1);
    // The other is not told that its password was saved: it was not.
    const told = answers.find((each) => !leadsOn(each))!;
    expect(told.status).toBe(409);
    expect(messageIds(told)).toEqual(expect.arrayContaining(['password_change.elsewhere_title', 'password_change.elsewhere_body']));
    const onwards = await browser.get(new URL(told.body.match(/href="(\/interaction\/[^"]+)"/)![1]!, told.url).href);
    expect(leadsOn(onwards)).toBe(true);
    expect((await tokensAfter(browser, onwards, start)).claims()!.sub).toBe(user._id);
  });

  it('sent again from the Back button once the answer came: not saved, whatever the password; told which one is in effect, and goes on', async () => {
    const user = await createdByAdmin('ulla');
    const { browser, start, answer } = await signIn('ulla');
    const page = await browser.follow(answer);
    const chosen = 'harbour tulip lantern compass';
    expect(leadsOn(await postNewPassword(browser, page, chosen))).toBe(true);
    for (const password of ['a second thought about the passphrase', chosen]) {
      const again = await postNewPassword(browser, page, password);
      expect(again.status).toBe(409);
      expect(messageIds(again)).toContain('password_change.elsewhere_body');
    }
    expect((await server.latchkey.accounts.signIn('ulla', chosen)).ok).toBe(true);
    expect(await changesAudited(user)).toBe(1);
    const told = await postNewPassword(browser, page, 'one more passphrase for the road');
    const onwards = await browser.get(new URL(told.body.match(/href="(\/interaction\/[^"]+)"/)![1]!, told.url).href);
    expect((await tokensAfter(browser, onwards, start)).claims()!.sub).toBe(user._id);
    expect((await server.latchkey.accounts.signIn('ulla', chosen)).ok).toBe(true);
  });

  it('when the security info page follows: a double click leads both posts there; the form sent again is told which password is in effect', async () => {
    await server.latchkey.policy.save({ registration: { atSignIn: true, reconfirmDays: 180 } });
    try {
      const user = await createdByAdmin('ulrich');
      const { browser, answer } = await signIn('ulrich');
      const page = await browser.follow(answer);
      const chosen = 'velvet harbour lantern twice';
      const answers = await Promise.all([0, 1].map(() => postNewPassword(browser, page, chosen)));
      // Both (the one that saved it, and the other that waited for it) go to the sign-in page, which now asks for the
      // security info: neither is told that its password was not saved.
      for (const each of answers) {
        expect(each.status).toBe(303);
        expect(messageIds(await browser.follow(each))).toContain('security_info.intro_register');
      }
      // The Back button, once that page is up: nothing is saved, whatever the password, and it says so.
      for (const password of ['a different idea for a passphrase', chosen]) {
        const again = await postNewPassword(browser, page, password);
        expect(again.status).toBe(409);
        expect(messageIds(again)).toContain('password_change.elsewhere_body');
      }
      expect(await changesAudited(user)).toBe(1);
      expect((await server.latchkey.accounts.signIn('ulrich', chosen)).ok).toBe(true);
    } finally {
      await server.latchkey.policy.save({});
    }
  });

  it("sent again with its first post's step cookie after an administrator set another password: a guess at that one is answered as any other", async () => {
    await createdByAdmin('umberto');
    const { browser, answer } = await signIn('umberto');
    const page = await browser.follow(answer);
    const stepUrl = findForm(page, '/password').action;
    const stepCookies = (await browser.jar.getCookies(stepUrl)).filter((cookie) => cookie.key.includes('password_change'));
    expect(stepCookies.length).toBeGreaterThan(0);
    expect(leadsOn(await postNewPassword(browser, page, 'harbour tulip lantern umbrella'))).toBe(true);
    const helpdesk = 'the helpdesk passphrase for umberto';
    expect((await admin(['users', 'set-password', 'umberto', '--password-stdin'], `${helpdesk}\n`)).code).toBe(0);
    // The step's cookie sent again (as a double click's other post carries it), with the administrator's password and
    // with a wrong one: the same answer, so the question "is this the password saved?" tests no guess at a newer one.
    const answers: Page[] = [];
    for (const guess of [helpdesk, 'surely not the password at all']) {
      for (const cookie of stepCookies) await browser.jar.setCookie(cookie, stepUrl);
      answers.push(await postNewPassword(browser, page, guess));
    }
    expect(answers.map((each) => each.status)).toEqual([409, 409]);
    expect(answers.map((each) => messageIds(each).includes('password_change.elsewhere_body'))).toEqual([true, true]);
  });

  it.each([
    ['a new temporary password', async (username: string) => admin(['users', 'set-password', username, '--password-stdin'], 'a second helpdesk passphrase\n')],
    ['a disable, undone at once', async (username: string) => {
      await admin(['users', 'disable', username]);
      return admin(['users', 'enable', username]);
    }],
    // Its time taken on a host whose clock is behind, or before the argon2 run that its write landed in: dated before
    // the step began, written after the password was checked. The step still goes.
    ['a new temporary password dated a millisecond before the step began', async (username: string) => {
      const run = await admin(['users', 'set-password', username, '--password-stdin'], 'a third helpdesk passphrase\n');
      const step = (await server.connection.db!.collection<{ accountId: string; startedAt: Date }>(PASSWORD_CHANGES).findOne({ accountId: (await stored(username))._id }))!;
      await server.connection.db!.collection<User>('users').updateOne({ username }, { $set: { revokedAt: new Date(step.startedAt.getTime() - 1) } });
      await server.latchkey.accounts.clearLockdown((await stored(username))._id); // a change through the accounts: caches drop it
      return run;
    }],
  ])('is void once an administrator acts on the account meanwhile: %s', async (_label, act) => {
    const username = `yann${Date.now()}`;
    await createdByAdmin(username);
    const { browser, answer } = await signIn(username);
    const page = await browser.follow(answer);
    expect(messageIds(page)).toContain('password_change.heading');
    expect((await act(username)).code).toBe(0);
    const refused = await postNewPassword(browser, page, PASSWORD);
    // Back to the sign-in page, nothing changed: not even `password.reused`, which would tell whether a guess is the
    // administrator's new password.
    expect(refused.status).toBe(303);
    expect(new URL(refused.headers.get('location')!, refused.url).pathname).toMatch(/^\/interaction\/[^/]+$/);
    expect(messageIds(await browser.follow(refused))).toContain('login.cant_access');
    expect((await stored(username)).passwordChangeRequired).toBe(true);
  });

  it('is not asked for without the right password, nor by another browser', async () => {
    await createdByAdmin('victor');
    const wrong = await signIn('victor', 'not the temporary password');
    expect(messageIds(await wrong.browser.follow(wrong.answer))).toContain('login.invalid');
    const { answer } = await signIn('victor');
    // Another browser at the same address holds neither the interaction nor the change's cookie.
    const elsewhere = await new Browser().get(new URL(answer.headers.get('location')!, answer.url).href);
    expect(elsewhere.status).toBe(400);
    expect(messageIds(elsewhere)).not.toContain('password_change.heading');
  });

  it('is also what users set-password gives, unless --permanent; --permanent at creation signs in at once', async () => {
    const wendy = await createUser(server);
    expect((await admin(['users', 'set-password', wendy.username, '--password-stdin'], 'a helpdesk passphrase for wendy\n')).code).toBe(0);
    const shown = JSON.parse((await admin(['users', 'show', wendy.username])).stdout) as { passwordTemporary: boolean };
    expect(shown.passwordTemporary).toBe(true);
    const asked = await signIn(wendy.username, 'a helpdesk passphrase for wendy');
    expect(messageIds(await asked.browser.follow(asked.answer))).toContain('password_change.heading');

    expect((await admin(['users', 'set-password', wendy.username, '--password-stdin', '--permanent'], 'a permanent passphrase for wendy\n')).code).toBe(0);
    const direct = await signIn(wendy.username, 'a permanent passphrase for wendy');
    expect(direct.answer.status).toBe(303);
    expect(direct.answer.headers.get('location')).toContain('/oidc/auth/');

    await createdByAdmin('xavier', ['--permanent']);
    const xavier = await signIn('xavier');
    expect(xavier.answer.headers.get('location')).toContain('/oidc/auth/');
  });
});
