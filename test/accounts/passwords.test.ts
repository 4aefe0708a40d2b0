// Password length rules at their exact boundaries, counted in Unicode code points (what a person types), not in
// UTF-16 units: the policy's minimum (15 by default) and the maximum of 1024, both when an account is created and
// at sign-in. The other rules (common passwords, the user's own names) are test/accounts/password-rules.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createPasswordHasher, type PasswordHasher } from '../../src/accounts/passwords.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { ValidationError } from '../../src/errors.ts';
import type * as client from 'openid-client';
import type { ClientMetadata } from '../../src/admin/clients.ts';

// The rules as documented (policy.ts passwordMinLength, passwords.ts MAX_PASSWORD_CODE_POINTS). Written out here
// on purpose: a change to either must fail this file.
const MIN = 15;
const MAX = 1024;
/**
 * `length` characters from `pool` in an order that never repeats itself (a pseudo-random walk): a new password must
 * not be a pattern (password-rules.ts), and these are about length only.
 */
function unpatterned(pool: readonly string[], length: number): string {
  let state = 12345;
  return Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return pool[(state >>> 8) % pool.length];
  }).join('');
}
// Letters that spell nothing common and no one's name.
const text = (length: number) => unpatterned([...'qzjvkxwpfbgmhtnd'], length);
/** Emoji, each one code point and two UTF-16 units (U+1F300 onwards). */
const emoji = (length: number) => unpatterned(Array.from({ length: 256 }, (_, i) => String.fromCodePoint(0x1f300 + i)), length);

let server: TestServer;
let hasher: PasswordHasher;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer();
  hasher = await createPasswordHasher(server.config.argon2, { box: configuredSecretBox(server.config) });
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

async function expectRefused(password: string) {
  const attempt = createUser(server, { password });
  await expect(attempt).rejects.toBeInstanceOf(ValidationError);
  await expect(attempt).rejects.toMatchObject({ status: 400, code: 'invalid_password' });
}

async function expectAccepted(password: string) {
  const user = await createUser(server, { password });
  expect((await server.latchkey.accounts.signIn(user.username, password)).ok).toBe(true);
}

describe('the minimum length at account creation', () => {
  it(`refuses ${MIN - 1} characters and accepts ${MIN}`, async () => {
    await expectRefused(text(MIN - 1));
    await expectAccepted(text(MIN));
  });

  it(`counts code points, not UTF-16 units: ${MIN - 1} emoji (${2 * (MIN - 1)} units) are too short, ${MIN} are enough`, async () => {
    expect(emoji(MIN - 1).length).toBeGreaterThanOrEqual(MIN); // long enough if units were counted
    await expectRefused(emoji(MIN - 1));
    await expectAccepted(emoji(MIN));
  });

  it('refuses the empty password', async () => {
    await expectRefused('');
  });
});

describe('the maximum length at account creation', () => {
  it(`accepts ${MAX} code points and refuses ${MAX + 1}`, async () => {
    await expectAccepted(text(MAX));
    await expectRefused(text(MAX + 1));
  });

  it(`accepts ${MAX} emoji (${2 * MAX} UTF-16 units) and refuses ${MAX + 1}`, async () => {
    await expectAccepted(emoji(MAX));
    await expectRefused(emoji(MAX + 1));
  });
});

describe('the maximum length at verification', () => {
  it(`never verifies a password over ${MAX} code points, even against its own hash`, async () => {
    const tooLong = 'x'.repeat(MAX + 1);
    expect(await hasher.verify(await hasher.hash(tooLong), tooLong)).toBe(false);
    const longest = 'x'.repeat(MAX);
    expect(await hasher.verify(await hasher.hash(longest), longest)).toBe(true);
  });

  it('counts code points there too', async () => {
    const tooLong = emoji(MAX + 1);
    expect(await hasher.verify(await hasher.hash(tooLong), tooLong)).toBe(false);
    const longest = emoji(MAX);
    expect(await hasher.verify(await hasher.hash(longest), longest)).toBe(true);
  });

  it('measures after normalising, as the rules do: a password set composed signs in when typed decomposed', async () => {
    const composed = unpatterned([...'àáâãäåèéêëìíîïòóôõöùúûüýÿñç'], 600); // 600 code points (NFC): within the rules
    const decomposed = composed.normalize('NFD'); // the same text, e and its accent apart: 1200 code points
    expect([...decomposed].length).toBeGreaterThan(MAX);
    const user = await createUser(server, { password: composed });
    const browser = new Browser();
    const start = await authorizationUrl(config, rp.redirect_uris[0]!);
    const signedIn = await submitLogin(browser, await openLoginPage(browser, start.url), user.username, decomposed);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toContain('/oidc/auth/');
  });

  it('refuses at the sign-in page an account whose stored hash is of an over-long password', async () => {
    // A hash written before the limit existed (or by hand): the password it was made from is still refused.
    const tooLong = 'y'.repeat(MAX + 1);
    const longest = 'y'.repeat(MAX);
    const refusedUser = await createUser(server);
    const acceptedUser = await createUser(server);
    const users = server.connection.db!.collection('users');
    await users.updateOne({ _id: refusedUser._id as never }, { $set: { passwordHash: await hasher.hash(tooLong) } });
    await users.updateOne({ _id: acceptedUser._id as never }, { $set: { passwordHash: await hasher.hash(longest) } });

    const signIn = async (login: string, password: string) => {
      const browser = new Browser();
      const start = await authorizationUrl(config, rp.redirect_uris[0]!);
      return submitLogin(browser, await openLoginPage(browser, start.url), login, password);
    };
    const refused = await signIn(refusedUser.username, tooLong);
    expect(refused.status).toBe(200);
    expect(messageIds(refused)).toContain('login.invalid');
    expect(refused.headers.get('location')).toBeNull();

    const accepted = await signIn(acceptedUser.username, longest);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toContain('/oidc/auth/');
  });
});
