// Account-level revocation: once an account is disabled, signed out or locked down, nothing issued to it before works
// again, not even after it is enabled: introspection, refresh, userinfo and the browser session all refuse.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signedInWithTokens, silentAuthorization, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { outbox, registerMethods, waitFor } from '../helpers/recovery.ts';
import { accountIndexPlaces, collectionName } from '../../src/oidc/adapter.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { PASSWORD_CHECKED_AT_MS } from '../../src/oidc/account.ts';
import { createAccessRevoker } from '../../src/oidc/revocation.ts';
import { changeSettled, EPOCHS } from '../../src/db/epoch-cache.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let config: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  server = await startTestServer();
  config = await discover(server, await createClient(server));
});
afterAll(() => server.close());

/** A browser signed in to the account, and the tokens its sign-in gave the RP. */
const signIn = (user: User) => signedInWithTokens(config, redirectUri(), user.username);
const silentSignIn = (browser: Browser) => silentAuthorization(config, redirectUri(), browser);

async function storedFor(model: string, accountId: string): Promise<number> {
  return server.connection.db!.collection(collectionName(model)).countDocuments({ 'payload.accountId': accountId });
}

/** The sessions and grants the account's index lists (oidc/account-access.ts). */
async function indexEntries(user: User): Promise<string[]> {
  const docs = await Promise.all(accountIndexPlaces(server.connection.db!, user._id).map(({ collection, id }) => collection.findOne({ _id: id })));
  return docs.flatMap((doc) => [...(doc?.sessions ?? []), ...(doc?.grants ?? [])]);
}

async function expectAllDead(user: User, browser: Browser, tokens: client.TokenEndpointResponse) {
  expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
  await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(client.fetchUserInfo(config, tokens.access_token, user._id)).rejects.toMatchObject({
    cause: [expect.objectContaining({ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) })],
  });
  expect((await silentSignIn(browser)).get('error')).toBe('login_required');
}

it('users disable revokes every session, grant and token of the account, and users enable brings none back', async () => {
  const user = await createUser(server);
  const first = await signIn(user);
  const second = await signIn(user); // a second browser and grant chain
  expect((await client.tokenIntrospection(config, first.tokens.refresh_token!)).active).toBe(true);
  expect((await silentSignIn(first.browser)).get('code')).toBeTruthy();

  expect((await runAdmin(server.dbUri, ['users', 'disable', user.username])).code).toBe(0);
  for (const { browser, tokens } of [first, second]) await expectAllDead(user, browser, tokens);
  // Removed from the database, found through the account's index document, not merely hidden.
  for (const model of ['Session', 'Grant', 'AccessToken', 'RefreshToken']) expect(await storedFor(model, user._id)).toBe(0);

  expect((await runAdmin(server.dbUri, ['users', 'enable', user.username])).code).toBe(0);
  for (const { browser, tokens } of [first, second]) await expectAllDead(user, browser, tokens);
  // The account itself works again: a new sign-in gets fresh tokens.
  const again = await signIn(user);
  expect((await client.tokenIntrospection(config, again.tokens.access_token)).active).toBe(true);
});

/** The account's audit events of `type` that an administrator's command recorded. */
const adminEvents = (user: User, type: string) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId: user._id, type, reason: 'admin' });

it('users sign-out revokes every session, grant and token of the account and keeps the password', async () => {
  const user = await createUser(server);
  const first = await signIn(user);
  const second = await signIn(user);
  const run = await runAdmin(server.dbUri, ['users', 'sign-out', user.username]);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('signed out everywhere');
  for (const { browser, tokens } of [first, second]) await expectAllDead(user, browser, tokens);
  for (const model of ['Session', 'Grant', 'AccessToken', 'RefreshToken']) expect(await storedFor(model, user._id)).toBe(0);
  expect(await adminEvents(user, 'account.signed_out')).toBe(1);
  // The same password signs in again at once.
  const again = await signIn(user);
  expect((await client.tokenIntrospection(config, again.tokens.access_token)).active).toBe(true);
});

it('users lock-down revokes everything and refuses the right password like a wrong one, until users unlock', async () => {
  const user = await createUser(server);
  // One method: enough to recover under the default policy, not once locked down (two proofs then).
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net` });
  const { browser, tokens } = await signIn(user);
  const run = await runAdmin(server.dbUri, ['users', 'lock-down', user.username, '--json']);
  expect(run.code).toBe(0);
  expect(JSON.parse(run.stdout)).toMatchObject({ username: user.username, lockedDown: true, ableToRecover: false, notified: 2 });
  expect(run.stdout).not.toContain('alt-'); // nothing of the methods
  // The owner hears of it on both addresses, with the way back in, and no "This wasn't me" link (it is locked down).
  const notices = await waitFor(async () => {
    const told = (await outbox(server)).filter((m) => m.subject === 'Your account was locked by an administrator' && m.text.includes(user.username));
    return told.length === 2 ? told : undefined;
  }, 'the lock-down notices');
  expect(notices.map((m) => m.to).sort()).toEqual([`alt-${user.username}@example.net`, user.email].sort());
  for (const notice of notices) {
    expect(notice.text).toContain('Can’t access your account?');
    expect(notice.text).not.toContain('/recover/lockdown/');
  }
  await expectAllDead(user, browser, tokens);
  expect(await adminEvents(user, 'account.lockdown')).toBe(1);

  const stranger = new Browser();
  const refused = await submitLogin(stranger, await openLoginPage(stranger, (await authorizationUrl(config, redirectUri())).url), user.username);
  expect(refused.status).toBe(200);
  expect(messageIds(refused)).toContain('login.invalid');
  const shown = JSON.parse((await runAdmin(server.dbUri, ['users', 'show', user.username, '--json'])).stdout) as { lockedDownAt?: string };
  expect(shown.lockedDownAt).toBeDefined();

  expect((await runAdmin(server.dbUri, ['users', 'unlock', user.username])).code).toBe(0);
  const back = await signIn(user);
  expect((await client.tokenIntrospection(config, back.tokens.access_token)).active).toBe(true);

  // With two methods the owner can choose a new password alone, and the command says so.
  const prepared = await createUser(server);
  await registerMethods(server, prepared, { alternateEmail: `alt-${prepared.username}@example.net`, mobilePhone: '+14155550142' });
  const told = await runAdmin(server.dbUri, ['users', 'lock-down', prepared.username, '--json']);
  expect(JSON.parse(told.stdout)).toMatchObject({ lockedDown: true, ableToRecover: true, notified: 3 });
  const texted = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'sms' && m.to === '+14155550142'), 'the lock-down text');
  expect(texted.text).toBe(`Security notice for your account ${prepared.username}: Your account was locked by an administrator. To get back in, choose a new password from “Can’t access your account?” on the sign-in page.`);

  // A disabled account's owner is not sent that way back in: recovery shows them nothing until it is enabled.
  const disabled = await createUser(server);
  await registerMethods(server, disabled, { alternateEmail: `alt-${disabled.username}@example.net`, mobilePhone: '+14155550143' });
  await server.latchkey.accounts.setStatus(disabled._id, 'disabled');
  const quiet = await runAdmin(server.dbUri, ['users', 'lock-down', disabled.username, '--json']);
  expect(quiet.code).toBe(0);
  expect(JSON.parse(quiet.stdout)).toMatchObject({ lockedDown: true, notified: 0 });
});

it('refuses what was issued before a revocation even when the index missed it (the revocation time decides)', async () => {
  const user = await createUser(server);
  const { browser, tokens } = await signIn(user);
  // Lose the index entry, as a race between two saves could on a server without atomic $addToSet.
  for (const { collection, id } of accountIndexPlaces(server.connection.db!, user._id)) expect((await collection.deleteOne({ _id: id })).deletedCount).toBeLessThanOrEqual(1);
  // Token times have one-second resolution and same-second issue is allowed: revoke in a later second.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await server.latchkey.accounts.setStatus(user._id, 'disabled');
  await server.latchkey.accounts.setStatus(user._id, 'active');
  await expectAllDead(user, browser, tokens);
});

it("keeps no entry a revocation handled in the account's index, so the next one does not walk them again", async () => {
  const user = await createUser(server);
  await signIn(user);
  await signIn(user);
  const entries = () => indexEntries(user);
  expect((await entries()).length).toBeGreaterThanOrEqual(4); // two sessions and two grants
  await server.latchkey.accounts.revokeAccess(user._id);
  // The second pass starts once every instance has seen the change and prunes what it handled; how long it then
  // takes depends on the machine, so wait for the empty index rather than for a fixed time.
  await changeSettled();
  expect(await waitFor(async () => ((await entries()).length === 0 ? [] : undefined), 'the second pass to prune the index')).toEqual([]);
});

/**
 * A browser whose password was accepted, stopped before following the redirect on to the authorization endpoint
 * (where the session is made and the code issued): an attacker who knows the password can wait there.
 */
async function acceptedButNotFollowed(user: User): Promise<{ browser: Browser; accepted: Page }> {
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri());
  const accepted = await submitLogin(browser, await openLoginPage(browser, start.url), user.username);
  expect(accepted.status).toBe(303);
  expect(accepted.headers.get('location')).toContain('/oidc/auth/');
  return { browser, accepted };
}

/** Following that redirect later: a new sign-in page instead of the relying party's callback with a code. */
async function expectSignInAgain(browser: Browser, accepted: Page) {
  const landed = await browser.follow(accepted, redirectUri());
  expect(landed.url.startsWith(redirectUri())).toBe(false);
  expect(landed.status).toBe(200);
  expect(findForm(landed, '/login').fields).toHaveProperty('csrf');
}

it('a sign-in accepted before a password reset cannot be completed after it', async () => {
  const user = await createUser(server);
  const { browser, accepted } = await acceptedButNotFollowed(user);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await server.latchkey.accounts.resetPassword(user._id, 'a brand new passphrase for recovery 42');
  await server.latchkey.accounts.revokeAccess(user._id); // as the recovery flow's reset does
  await expectSignInAgain(browser, accepted);
});

/** When the sign-in behind `accepted` checked its password, to the millisecond, as its interaction keeps it. */
async function passwordCheckedAt(accepted: Page): Promise<number> {
  const uid = /\/auth\/([^/?#]+)/.exec(accepted.headers.get('location')!)![1]!;
  const interactions = server.connection.db!.collection<{ _id: string; payload: { result?: Record<string, unknown> } }>(collectionName('Interaction'));
  return (await interactions.findOne({ _id: uid }))!.payload.result![PASSWORD_CHECKED_AT_MS] as number;
}

/** Moves the account's revocation to `at` (a moment of our choosing, to the millisecond), for every instance. */
async function revokedAt(user: User, at: number) {
  await server.connection.db!.collection<{ _id: string }>('users').updateOne({ _id: user._id }, { $set: { revokedAt: new Date(at) } });
  await server.latchkey.accounts.clearLockdown(user._id); // a change through the accounts: caches drop the account
}

// Sessions and tokens keep whole seconds; these two put the reset one millisecond after, then before, the password
// check (in the same second unless the check fell on a second's first or last millisecond).
it('a sign-in accepted before a password reset in the same second cannot be completed after it', async () => {
  const user = await createUser(server);
  const { browser, accepted } = await acceptedButNotFollowed(user);
  await server.latchkey.accounts.resetPassword(user._id, 'a brand new passphrase for recovery 42');
  await server.latchkey.accounts.revokeAccess(user._id);
  await revokedAt(user, (await passwordCheckedAt(accepted)) + 1);
  await expectSignInAgain(browser, accepted);
});

it('a sign-in made right after a password reset, in the same second, completes', async () => {
  const user = await createUser(server);
  await server.latchkey.accounts.resetPassword(user._id, PASSWORD);
  await server.latchkey.accounts.revokeAccess(user._id);
  // The reset dated a moment of our choosing: early in the next second, which the password check then follows.
  const browser = new Browser();
  const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri())).url);
  const resetAt = Math.ceil(Date.now() / 1000) * 1000 + 20;
  await revokedAt(user, resetAt);
  await new Promise((resolve) => setTimeout(resolve, resetAt + 2 - Date.now()));
  const accepted = await submitLogin(browser, loginPage, user.username);
  expect(accepted.status).toBe(303);
  const checkedAt = await passwordCheckedAt(accepted);
  expect(checkedAt).toBeGreaterThan(resetAt);
  expect(Math.floor(checkedAt / 1000)).toBe(Math.floor(resetAt / 1000));
  const landed = await browser.follow(accepted, redirectUri());
  expect(findForm(landed, '/confirm').fields).toHaveProperty('csrf'); // consent, on the way to a code
});

it("a sign-in whose password was checked before a reset's write landed cannot be completed after it, though the reset is dated before the check (a clock behind)", async () => {
  const user = await createUser(server);
  const { browser, accepted } = await acceptedButNotFollowed(user);
  // The reset's time was taken (on a host whose clock is behind, or just before its write went out) a millisecond
  // before this password check, which still read the old password: the write landed after it.
  await server.latchkey.accounts.resetPassword(user._id, 'a brand new passphrase for recovery 42');
  await server.latchkey.accounts.revokeAccess(user._id);
  await revokedAt(user, (await passwordCheckedAt(accepted)) - 1);
  await expectSignInAgain(browser, accepted);
});

it('a sign-in accepted before "This wasn\'t me" cannot be completed after it', async () => {
  const user = await createUser(server);
  const { browser, accepted } = await acceptedButNotFollowed(user);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await server.latchkey.accounts.lockDown(user._id);
  await expectSignInAgain(browser, accepted);
});

it('a sign-in accepted a moment ago still completes (the control for the two above)', async () => {
  const user = await createUser(server);
  const { browser, accepted } = await acceptedButNotFollowed(user);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const landed = await browser.follow(accepted, redirectUri());
  // Consent first (a new client for this account), then the callback with a code.
  const consent = findForm(landed, '/confirm');
  const done = await browser.follow(await browser.post(consent.action, consent.fields), redirectUri());
  expect(new URL(done.url).searchParams.get('code')).toBeTruthy();
});

it('ends the lockout budget of device cookies issued before a reset: their failures count for the account again', async () => {
  const user = await createUser(server);
  const NEW = 'a brand new passphrase for recovery 42';
  /** One wrong password from this browser (prompt=login: asked even with a session). */
  const wrongOnce = async (browser: Browser) => {
    const start = await authorizationUrl(config, redirectUri(), { prompt: 'login' });
    const answer = await submitLogin(browser, await openLoginPage(browser, start.url), user.username, `wrong ${Math.random()}`);
    expect(answer.status).toBe(200);
  };
  // Someone who had the old password signed in from this browser and got a device cookie.
  const before = (await acceptedButNotFollowed(user)).browser;
  await new Promise((resolve) => setTimeout(resolve, 1100)); // device tokens carry whole seconds
  await server.latchkey.accounts.resetPassword(user._id, NEW);
  await server.latchkey.accounts.revokeAccess(user._id);
  await wrongOnce(before);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 1 });
  // The control: a device cookie the owner earns after the reset keeps a budget of its own.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const after = new Browser();
  const start = await authorizationUrl(config, redirectUri());
  expect((await submitLogin(after, await openLoginPage(after, start.url), user.username, NEW)).status).toBe(303);
  await wrongOnce(after);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 0 });
});

it("keeps the owner's sign-in made after a reset when the revocation's second pass runs", async () => {
  const user = await createUser(server);
  await server.latchkey.accounts.resetPassword(user._id, PASSWORD);
  await server.latchkey.accounts.revokeAccess(user._id); // the first pass; the second follows by itself later
  const revoked = (await server.latchkey.accounts.findById(user._id))!.revokedAt!;
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the owner signs in, in a later second
  const { browser, tokens } = await signIn(user);
  await createAccessRevoker(server.connection)(user._id, revoked); // the second pass, now
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
  expect((await silentSignIn(browser)).get('code')).toBeTruthy();
  // The first pass's rule (no cutoff) would have taken it.
  await createAccessRevoker(server.connection)(user._id);
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
});

it("keeps the owner's sign-in made after a reset when the second pass runs, by the revocation its password check read, whatever the clocks say; not one that read the account before", async () => {
  const user = await createUser(server);
  await server.latchkey.accounts.resetPassword(user._id, PASSWORD);
  await server.latchkey.accounts.revokeAccess(user._id); // the first pass
  const revoked = (await server.latchkey.accounts.findById(user._id))!.revokedAt!.getTime();
  const { browser, tokens } = await signIn(user);
  const sessions = server.connection.db!.collection<{ _id: string; signedInAtMs?: number; signedInUnderMs?: number }>(collectionName('Session'));
  const stored = async () => (await sessions.findOne({ 'payload.accountId': user._id } as never))!;
  const { _id, signedInUnderMs } = await stored();
  expect(signedInUnderMs).toBe(revoked);
  // As when the reset's time was taken on a clock ahead of the one that checked the password: by the check's time
  // alone, this sign-in would count as before the reset.
  await sessions.updateOne({ _id }, { $set: { signedInAtMs: revoked - 1 } });
  await createAccessRevoker(server.connection)(user._id, new Date(revoked)); // the second pass, now
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
  expect((await silentSignIn(browser)).get('code')).toBeTruthy();
  // Kept as the session is saved again, also under a new id: another app's consent resumes it (resetIdentifier).
  const other = await discover(server, await createClient(server, { client_name: 'Other App' }));
  const consent = await browser.follow(await browser.get((await authorizationUrl(other, redirectUri())).url.href), redirectUri());
  const form = findForm(consent, '/confirm');
  expect(new URL((await browser.follow(await browser.post(form.action, form.fields), redirectUri())).url).searchParams.get('code')).toBeTruthy();
  const saved = await stored();
  expect(saved._id).not.toBe(_id);
  expect(saved.signedInUnderMs).toBe(revoked);
  // A revocation a millisecond later was not the one the password check read: that sign-in goes.
  await createAccessRevoker(server.connection)(user._id, new Date(revoked + 1));
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(false);
});

it("ends at the second pass a sign-in whose password check read the account before the reset, though the check's time is after the reset's (clocks apart)", async () => {
  // As when an instance not yet told of a reset completes a sign-in whose password it checked with the old one: its
  // clock ahead of the resetting host's, the check is dated after the reset. Made here without relying on how long
  // this instance's cache stays stale: the sign-in completes first, then the reset is written, dated a millisecond
  // before that check, and only the second pass (which the first, taking every session, would make moot) runs.
  const user = await createUser(server);
  const { browser, tokens } = await signIn(user);
  const sessions = server.connection.db!.collection<{ _id: string; signedInAtMs?: number }>(collectionName('Session'));
  const { signedInAtMs } = (await sessions.findOne({ 'payload.accountId': user._id } as never))!;
  const resetAt = new Date(signedInAtMs! - 1);
  await server.connection.db!.collection<{ _id: string }>('users').updateOne({ _id: user._id }, { $set: { revokedAt: resetAt } });
  // Nothing refuses it by time: the session and tokens are dated after the reset.
  expect((await client.tokenIntrospection(config, tokens.refresh_token!)).active).toBe(true);
  await createAccessRevoker(server.connection)(user._id, resetAt);
  await expectAllDead(user, browser, tokens);
});

it('revokes all the same when telling the other instances fails, and runs the second pass once their cached copies have aged out', async () => {
  const user = await createUser(server);
  await signIn(user);
  await signIn(user);
  const entries = async () => (await indexEntries(user)).length;
  expect(await entries()).toBeGreaterThanOrEqual(4);
  // The announcement (a write to the accounts' epoch document) fails once.
  const epochs = server.connection.db!.collection(EPOCHS);
  const collections = Object.getPrototypeOf(epochs) as { replaceOne: (this: { collectionName: string }, ...args: unknown[]) => unknown };
  const replaceOne = collections.replaceOne;
  let failed = false;
  collections.replaceOne = function (...args) {
    if (failed || this.collectionName !== EPOCHS) return replaceOne.apply(this, args);
    failed = true;
    return Promise.reject(new Error('the database blinked'));
  };
  try {
    await server.latchkey.accounts.revokeAccess(user._id);
  } finally {
    collections.replaceOne = replaceOne;
  }
  expect(failed).toBe(true);
  expect(await storedFor('Session', user._id)).toBe(0); // the first pass ran
  // Unheard of, the other instances may use their copies until those are 30 seconds old: the second pass (the one
  // that prunes the index) is not over after the usual window, but after that.
  await changeSettled();
  expect(await entries()).toBeGreaterThanOrEqual(4);
  expect(await waitFor(async () => ((await entries()) === 0 ? 0 : undefined), 'the second pass to prune the index', 40_000)).toBe(0);
}, 60_000);

it('deletes what a revocation voided even when its first pass fails: the second pass runs all the same', async () => {
  const user = await createUser(server);
  await signIn(user);
  expect(await storedFor('Session', user._id)).toBe(1);
  // The first pass's first read (the account's index entries) fails once.
  const index = accountIndexPlaces(server.connection.db!, user._id)[0]!.collection;
  const collections = Object.getPrototypeOf(index) as { findOne: (this: { collectionName: string }, ...args: unknown[]) => unknown };
  const findOne = collections.findOne;
  let failed = false;
  collections.findOne = function (...args) {
    if (failed || this.collectionName !== index.collectionName) return findOne.apply(this, args);
    failed = true;
    return Promise.reject(new Error('the database blinked'));
  };
  try {
    await expect(server.latchkey.accounts.revokeAccess(user._id)).rejects.toThrow('the database blinked');
  } finally {
    collections.findOne = findOne;
  }
  expect(await storedFor('Session', user._id)).toBe(1);
  await changeSettled(); // the other instances' trust window, after which the second pass runs
  const stored = async () => (await Promise.all(['Session', 'Grant', 'AccessToken', 'RefreshToken'].map((model) => storedFor(model, user._id)))).reduce((a, b) => a + b);
  expect(await waitFor(async () => ((await stored()) === 0 ? 0 : undefined), 'the second pass to delete what the first missed')).toBe(0);
});
