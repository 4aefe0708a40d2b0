// Accounts on the real database: unique login names under races, argon2id storage, password handling.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createUser, openedHash, PASSWORD } from '../helpers/factories.ts';
import { createAccounts } from '../../src/accounts/users.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { configuredSecretBox, createSecretBox, keyBeyondDatabase } from '../../src/security/encryption.ts';
import { sharedSecret } from '../../src/db/secrets.ts';
import { LIMITS } from '../../src/security/limits.ts';
import { createHmac } from 'node:crypto';
import { createPolicyStore } from '../../src/policy/store.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('creating users', () => {
  it('gives ids an operator can type as an argument: never starting with "-" (which would read as an option)', async () => {
    const users = await Promise.all(Array.from({ length: 4 }, (_, i) => createUser(server, { username: `idshape${i}`, email: `idshape${i}@example.test` })));
    for (const user of users) expect(user._id).toMatch(/^u[\w-]{22}$/);
  });

  it('lets exactly one of 10 parallel creations with the same username succeed', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => createUser(server, { username: 'racer', email: `racer${i}@example.test` })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const winner = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ email: string }>).value;
    // The losers released the email aliases they had claimed: those addresses are free again.
    const loserEmails = Array.from({ length: 10 }, (_, i) => `racer${i}@example.test`).filter((e) => e !== winner.email);
    await expect(createUser(server, { username: 'racer-late', email: loserEmails[0]! })).resolves.toBeTruthy();
  });

  it('refuses an email already used by someone else, whatever its case, and keeps the first owner', async () => {
    const first = await createUser(server, { email: 'Owner@Example.test' });
    await expect(createUser(server, { email: 'owner@example.TEST' })).rejects.toMatchObject({ code: 'login_taken' });
    expect((await server.latchkey.accounts.findByLogin('OWNER@example.test'))!._id).toBe(first._id);
  });

  it('refuses invalid usernames, emails and too-short passwords', async () => {
    await expect(createUser(server, { username: 'has space' })).rejects.toMatchObject({ code: 'invalid_username' });
    await expect(createUser(server, { email: 'not-an-email' })).rejects.toMatchObject({ code: 'invalid_email' });
    await expect(createUser(server, { password: 'short' })).rejects.toMatchObject({ code: 'invalid_password' });
  });

  it('applies the password rules with the reason: too short for the policy, common, built from the names', async () => {
    const refusal = (reason: string) => ({ status: 400, code: 'invalid_password', reason, messageId: reason });
    await expect(createUser(server, { password: 'fourteen chars' })).rejects.toMatchObject(refusal('password.too_short'));
    await expect(createUser(server, { password: '1234567890qwerty' })).rejects.toMatchObject(refusal('password.common'));
    await expect(createUser(server, { username: 'katherine', password: 'Katherine-2024!!' })).rejects.toMatchObject(refusal('password.identifier'));
    await expect(createUser(server, { name: 'Dorothy Vaughan', password: 'dorothy vaughan 1910' })).rejects.toMatchObject(refusal('password.identifier'));
    expect(await server.latchkey.accounts.findByLogin('katherine')).toBeNull(); // nothing claimed
  });

  it("takes the minimum from the stored policy (admin's `policy set`), without a restart", async () => {
    const policies = createPolicyStore(server.connection);
    await policies.save({ passwordMinLength: 20 });
    try {
      // The server's copy is cached for POLICY_CACHE_SECONDS; a fresh accounts instance reads it at once.
      const accounts = createAccounts(server.connection, await createPasswordHasher(server.config.argon2, { box: configuredSecretBox(server.config) }), async () => {});
      const input = (password: string) => ({ username: `min${password.length}`, email: `min${password.length}@example.test`, password });
      await expect(accounts.create(input('nineteen characters'))).rejects.toMatchObject({ reason: 'password.too_short' });
      await expect(accounts.create(input('twenty characters ok'))).resolves.toBeTruthy();
    } finally {
      await policies.save({});
    }
  });
});

describe('password storage', () => {
  it('stores argon2id at or above the OWASP minimum, salted per user', async () => {
    const a = await createUser(server);
    const b = await createUser(server);
    for (const user of [a, b]) {
      const hash = openedHash(server, user.passwordHash);
      expect(hash).toMatch(/^\$argon2id\$v=19\$/);
      expect(hash).toMatch(/m=19456/);
      expect(hash).toMatch(/t=2/);
    }
    expect(openedHash(server, a.passwordHash)).not.toBe(openedHash(server, b.passwordHash));
    const stored = await server.connection.db!.collection('users').findOne({ _id: a._id as never });
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);
  });

  it('seals each hash with DATA_ENCRYPTION_KEY (a keyed step, NIST SP 800-63B-4): a copy of the database alone has nothing to guess against', async () => {
    const user = await createUser(server);
    const stored = (await server.connection.db!.collection('users').findOne({ _id: user._id as never }))!.passwordHash as string;
    expect(stored).not.toContain('argon2');
    expect(createSecretBox(Buffer.alloc(32, 9)).opens(stored)).toBe(false); // another key does not open it
    expect(openedHash(server, stored)).toMatch(/^\$argon2id\$v=19\$/);
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(true);
    expect((await server.connection.db!.collection('users').findOne({ _id: user._id as never }))!.passwordHash).toBe(stored); // current: not rewritten
  });

  it('remembers recent wrong passwords under a key the database alone does not give (no near-misses to guess from)', async () => {
    const user = await createUser(server);
    const nearMiss = `${PASSWORD}!`;
    expect((await server.latchkey.accounts.signIn(user.username, nearMiss)).ok).toBe(false);
    const databaseSecret = await sharedSecret(server.connection, 'signin-wrong-password-key');
    const remembered = (key: string) => createHmac('sha256', key).update(`${user._id}\u0000${nearMiss}`).digest('base64url').slice(0, 22);
    const limits = JSON.stringify(await server.connection.db!.collection(LIMITS).find({}).toArray());
    expect(limits).toContain(remembered(keyBeyondDatabase(server.config.dataEncryptionKey, databaseSecret, 'sign-in wrong passwords')));
    expect(limits).not.toContain(remembered(databaseSecret));
  });

  it('checks the whole password: no truncation, no case folding', async () => {
    const user = await createUser(server);
    for (const wrong of [PASSWORD + 'x', PASSWORD.slice(0, -1), PASSWORD.toUpperCase()]) {
      expect((await server.latchkey.accounts.signIn(user.username, wrong)).ok).toBe(false);
    }
    expect((await server.latchkey.accounts.signIn(user.username, PASSWORD)).ok).toBe(true);
  });

  it('treats composed and decomposed Unicode the same (NFKC), and accepts 64+ characters and symbols', async () => {
    const password = `caf\u00e9 <"quoted"> & \\ 😀 ${'long '.repeat(12)}`;
    const user = await createUser(server, { password });
    expect((await server.latchkey.accounts.signIn(user.email, password.replace('\u00e9', 'e\u0301'))).ok).toBe(true);
  });

  it('refuses a password over 1024 code points without hashing it', async () => {
    const user = await createUser(server);
    expect((await server.latchkey.accounts.signIn(user.username, 'x'.repeat(1025))).ok).toBe(false);
  });
});
