// The lockout as the recovery flow and the owner's notice use it (accounts/lockout.ts, through accounts): the
// onLocked callback runs once per lockout however many tries race, clearLockout and resetPassword end a lockout
// without reusing its slots, and device tokens are only honoured when genuine, current and for their account.
// Sign-in through the pages is test/interactions/lockout.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createUser, PASSWORD } from '../helpers/factories.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createAccounts, type Accounts } from '../../src/accounts/users.ts';
import { createLockout, DEVICE_TOKEN_MAX_AGE_SECONDS, lockDuration, MAX_CONSECUTIVE_FAILURES } from '../../src/accounts/lockout.ts';
import { waitFor } from '../helpers/recovery.ts';
import { LIMITS } from '../../src/security/limits.ts';
import { PasswordRejectedError } from '../../src/accounts/password-rules.ts';
import { createPolicyStore } from '../../src/policy/store.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import type { User } from '../../src/accounts/user-model.ts';

const DAY = 86_400_000;
const { threshold, initialSeconds, maxSeconds, growth } = DEFAULT_POLICY.lockout;

let server: TestServer;
let accounts: Accounts;
const locked: string[] = [];
/** The accounts told that one browser's password sign-in was turned off (onLocked's 'device_disabled'). */
const devicesDisabled: string[] = [];
/** The accounts told that their own password sign-in was turned off (onLocked's 'account_disabled'). */
const accountsDisabled: string[] = [];
// Midday of a fixed day, moved by the tests.
let now = Math.floor(Date.now() / DAY) * DAY + DAY / 2;
const clock = () => now;

beforeAll(async () => {
  server = await startTestServer();
  const hasher = await createPasswordHasher(server.config.argon2, { box: configuredSecretBox(server.config) });
  accounts = createAccounts(server.connection, hasher, async () => {}, {
    clock,
    onLocked: async (accountId, what) => {
      ({ account: locked, account_disabled: accountsDisabled, device_disabled: devicesDisabled })[what].push(accountId);
    },
  });
});
afterAll(() => server.close());

const wrong = (i: number) => `wrong password ${i} ${Math.random()}`;

async function failSequentially(user: User, count: number): Promise<void> {
  for (let i = 0; i < count; i += 1) expect((await accounts.signIn(user.username, wrong(i))).ok).toBe(false);
}

describe('onLocked', () => {
  it('is called once per lockout of the account, even with 20 wrong passwords at once', async () => {
    const user = await createUser(server);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.signIn(user.username, wrong(i))));
    expect(results.every((r) => !r.ok)).toBe(true);
    expect(locked.filter((id) => id === user._id)).toHaveLength(1);

    now += initialSeconds * 1000 + 1000;
    await Promise.all(Array.from({ length: 20 }, (_, i) => accounts.signIn(user.username, wrong(100 + i))));
    expect(locked.filter((id) => id === user._id)).toHaveLength(2);
  });

  it('is not called when only a device locks itself', async () => {
    const user = await createUser(server);
    const signedIn = await accounts.signIn(user.username, PASSWORD);
    if (!signedIn.ok) throw new Error('sign-in failed');
    for (let i = 0; i < threshold + 2; i += 1) await accounts.signIn(user.username, wrong(i), { deviceToken: signedIn.deviceToken });
    expect((await accounts.signIn(user.username, PASSWORD, { deviceToken: signedIn.deviceToken })).ok).toBe(false);
    expect(locked).not.toContain(user._id);
    expect(devicesDisabled).not.toContain(user._id);
    expect(await accounts.isLocked(user._id)).toBe(false);
  });

  it(`is called once, for the device, when one browser's own wrong passwords reach ${MAX_CONSECUTIVE_FAILURES} in a row and turn its password sign-in off`, async () => {
    const user = await createUser(server);
    const signedIn = await accounts.signIn(user.username, PASSWORD);
    if (!signedIn.ok) throw new Error('sign-in failed');
    const device = { deviceToken: signedIn.deviceToken };
    const rounds = MAX_CONSECUTIVE_FAILURES / threshold;
    for (let round = 1; round <= rounds; round += 1) {
      for (let i = 0; i < threshold; i += 1) await accounts.signIn(user.username, wrong(round * threshold + i), device);
      if (round < rounds) expect(devicesDisabled).not.toContain(user._id); // its shorter locks are its own business
      now += maxSeconds * 1000 + 1000;
    }
    await waitFor(() => devicesDisabled.find((id) => id === user._id), 'the device_disabled call');
    expect(devicesDisabled.filter((id) => id === user._id)).toHaveLength(1);
    expect((await accounts.signIn(user.username, PASSWORD, device)).ok).toBe(false);
    expect(locked).not.toContain(user._id);
  });

  it(`says, of the lock that brings the account's wrong passwords in a row to ${MAX_CONSECUTIVE_FAILURES}, that it turned password sign-in off`, async () => {
    const user = await createUser(server);
    const rounds = MAX_CONSECUTIVE_FAILURES / threshold;
    for (let round = 1; round <= rounds; round += 1) {
      await failSequentially(user, threshold);
      await waitFor(() => (locked.filter((id) => id === user._id).length + accountsDisabled.filter((id) => id === user._id).length >= round ? true : undefined), `lock ${round}`);
      now += maxSeconds * 1000 + 1000;
    }
    expect(locked.filter((id) => id === user._id)).toHaveLength(rounds - 1);
    expect(accountsDisabled.filter((id) => id === user._id)).toHaveLength(1);
    expect(await accounts.lockoutState(user._id)).toMatchObject({ disabled: true });
  });
});

describe('successful sign-ins', () => {
  it('all succeed when several of one account run at once (fewer than the threshold), and each clears the count', async () => {
    const user = await createUser(server);
    await failSequentially(user, 2);
    const results = await Promise.all(Array.from({ length: 6 }, () => accounts.signIn(user.username, PASSWORD)));
    expect(results.map((r) => r.ok)).toEqual(Array(6).fill(true));
    expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0 });
  });
});

describe('ending a lockout', () => {
  it('clearLockout lets the right password in at once, and new failures never reuse the old slots', async () => {
    const user = await createUser(server);
    await failSequentially(user, threshold);
    expect(await accounts.isLocked(user._id)).toBe(true);
    const limits = server.connection.db!.collection(LIMITS);
    const mine = { _id: { $regex: `^signin:fail:a:${user._id}:` } as never };
    const before = (await limits.find(mine).toArray()).map((d) => String(d._id));
    expect(before).toHaveLength(threshold);

    await accounts.clearLockout(user._id);
    expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0, lockouts: 0 });
    await failSequentially(user, 1);
    const after = (await limits.find(mine).toArray()).map((d) => String(d._id));
    expect(after).toHaveLength(threshold + 1);
    expect(after.filter((id) => !before.includes(id))).toHaveLength(1); // a slot of the new epoch, not an old one again
    expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(true);
  });

  it('resetPassword applies the rules, replaces the password and clears the lockout', async () => {
    const user = await createUser(server);
    await failSequentially(user, threshold);
    const attempt = accounts.resetPassword(user._id, 'passwordpassword');
    await expect(attempt).rejects.toBeInstanceOf(PasswordRejectedError);
    await expect(attempt).rejects.toMatchObject({ status: 400, code: 'invalid_password', reason: 'password.common', messageId: 'password.common' });
    await expect(accounts.resetPassword(user._id, `${user.username}!!`.repeat(2))).rejects.toMatchObject({ reason: 'password.identifier' });
    expect(await accounts.isLocked(user._id)).toBe(true); // refused resets change nothing

    const fresh = 'a new and rather long passphrase';
    await accounts.resetPassword(user._id, fresh);
    expect(await accounts.isLocked(user._id)).toBe(false);
    expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
    expect((await accounts.signIn(user.username, fresh)).ok).toBe(true);
  });
});

describe('lockout lengths', () => {
  it(`start at ${initialSeconds} s, grow ${growth}× per lockout, and stop at ${maxSeconds} s`, () => {
    expect(lockDuration(DEFAULT_POLICY.lockout, 0)).toBe(initialSeconds);
    expect(lockDuration(DEFAULT_POLICY.lockout, 1)).toBe(initialSeconds * growth);
    expect(lockDuration(DEFAULT_POLICY.lockout, 2)).toBe(initialSeconds * growth * growth);
    expect(lockDuration(DEFAULT_POLICY.lockout, 30)).toBe(maxSeconds);
  });

  it('a lockout that reaches past midnight still holds on the new day, and the next one is longer', async () => {
    const user = await createUser(server);
    const saved = now;
    now = Math.floor(now / DAY) * DAY + DAY - 10_000; // 10 s before midnight
    try {
      await failSequentially(user, threshold);
      now += 30_000; // 20 s into the new day, 30 s into a 60 s lockout
      expect(await accounts.isLocked(user._id)).toBe(true);
      expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
      now += 31_000;
      expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0, lockouts: 1 });
      await failSequentially(user, threshold);
      const state = await accounts.lockoutState(user._id);
      expect(state).toMatchObject({ locked: true, lockouts: 2 });
      expect(state.lockedUntil!.getTime() - now).toBe(initialSeconds * growth * 1000);
    } finally {
      now = saved + 2 * DAY;
    }
  });
});

describe('wrong passwords in a row', () => {
  it('are not forgotten at midnight: a few a day add up to a lockout', async () => {
    const user = await createUser(server);
    const saved = now;
    try {
      await failSequentially(user, threshold - 1);
      now += DAY;
      expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: threshold - 1 });
      await failSequentially(user, 1);
      expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: true, lockouts: 1 });
      expect(locked.filter((id) => id === user._id)).toHaveLength(1);
    } finally {
      now = saved + 2 * DAY;
    }
  });

  it('count from the first lock on after an upgrade from rounds per day, whose old lock hint still holds until its time', async () => {
    const user = await createUser(server);
    const limits = server.connection.db!.collection(LIMITS);
    // What the version with rounds per day left: the account's third lockout of an earlier day, in its first epoch.
    const oldLock = { epoch: '0', day: Math.floor(now / DAY) - 5, round: 3, until: new Date(now + 60_000) };
    await limits.insertOne({ _id: `signin:epoch:${user._id}`, epoch: '0', lock: oldLock, expiresAt: new Date('9999-12-31T00:00:00Z') } as never);
    expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(false); // that lock holds until its time
    now += 61_000;
    await failSequentially(user, threshold);
    expect(await accounts.lockoutState(user._id)).toMatchObject({ locked: true, lockouts: 1 });
    expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(false);
  });

  it('leave nothing behind for long when the password was right', async () => {
    const user = await createUser(server);
    expect((await accounts.signIn(user.username, PASSWORD)).ok).toBe(true);
    await failSequentially(user, 1);
    const limits = server.connection.db!.collection(LIMITS);
    const slots = await limits.find({ _id: { $regex: `^signin:fail:a:${user._id}:` } as never }).toArray();
    const lifeDays = slots.map((slot) => Math.round(((slot.expiresAt as Date).getTime() - now) / DAY)).sort((a, b) => a - b);
    expect(lifeDays).toEqual([1, 365]); // the right password's try is swept in a day; the wrong one is kept a year
  });
});

describe('device tokens', () => {
  it('are honoured only when genuine, current and for the same account', async () => {
    const lockout = createLockout({ connection: server.connection, policy: createPolicyStore(server.connection, clock), clock });
    const token = await lockout.issueDeviceToken('account-a');
    expect(await lockout.verifyDeviceToken(token, 'account-a')).toMatch(/^[\w-]{22}$/);
    expect(await lockout.verifyDeviceToken(token, 'account-b')).toBeUndefined();
    const parts = token.split('.');
    const swapped = [parts[0], Buffer.from('account-b').toString('base64url'), ...parts.slice(2)].join('.');
    expect(await lockout.verifyDeviceToken(swapped, 'account-b')).toBeUndefined();
    expect(await lockout.verifyDeviceToken(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, 'account-a')).toBeUndefined();
    expect(await lockout.verifyDeviceToken(undefined, 'account-a')).toBeUndefined();
    expect(await lockout.verifyDeviceToken('garbage', 'account-a')).toBeUndefined();

    now += DEVICE_TOKEN_MAX_AGE_SECONDS * 1000 - 60_000;
    expect(await lockout.verifyDeviceToken(token, 'account-a')).toBeDefined();
    now += 120_000;
    expect(await lockout.verifyDeviceToken(token, 'account-a')).toBeUndefined();
  });

  it('stores no password: only keyed hashes of recent wrong ones', async () => {
    const user = await createUser(server);
    await accounts.signIn(user.username, 'a memorable wrong password');
    const limits = server.connection.db!.collection(LIMITS);
    const everything = JSON.stringify(await limits.find({ _id: { $regex: user._id } } as never).toArray());
    expect(everything).toContain('hashes');
    expect(everything).not.toContain('memorable');
  });
});
