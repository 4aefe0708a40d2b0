// Sessions end: after SESSION_IDLE_TIMEOUT without use, and TTL_SESSION after sign-in however much they are used.
// The server's clock is the test's to move.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';

const HOUR = 3600_000;
let offset = 0;
let server: TestServer;
let config: client.Configuration;
let user: User;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  server = await startTestServer({ SESSION_IDLE_TIMEOUT: '3600', TTL_SESSION: '10800' }, { clock: () => Date.now() + offset });
  config = await discover(server, await createClient(server, { first_party: true }));
  user = await createUser(server);
});
afterAll(() => server.close());

async function signedInBrowser(): Promise<Browser> {
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri()), user.username, redirectUri());
  return browser;
}

/** Whether the browser still has a session: a silent request (prompt=none) gets a code, or login_required. */
async function stillSignedIn(browser: Browser): Promise<boolean> {
  const start = await authorizationUrl(config, redirectUri(), { prompt: 'none', scope: 'openid' });
  const params = new URL((await browser.follow(await browser.get(start.url.href), redirectUri())).url).searchParams;
  if (params.get('code')) return true;
  expect(params.get('error')).toBe('login_required');
  return false;
}

it('ends a session idle for longer than the idle timeout', async () => {
  offset = 0;
  const browser = await signedInBrowser();
  offset += 0.9 * HOUR;
  expect(await stillSignedIn(browser)).toBe(true); // used: the idle time starts again
  offset += 0.9 * HOUR;
  expect(await stillSignedIn(browser)).toBe(true);
  offset += 1.1 * HOUR; // 2.9 h after sign-in: still within TTL_SESSION (3 h), so only the idle timeout can end it
  expect(await stillSignedIn(browser)).toBe(false);
});

it('ends a session at its absolute lifetime even when it is used all along', async () => {
  offset = 0;
  const browser = await signedInBrowser();
  for (let used = 0.9; used < 3; used += 0.9) {
    offset = used * HOUR;
    expect(await stillSignedIn(browser)).toBe(true);
  }
  offset = 3.05 * HOUR; // 0.35 h after the last use, well within the idle timeout, but past TTL_SESSION
  expect(await stillSignedIn(browser)).toBe(false);
});

it('refuses an authorization code redeemed after its lifetime (TTL_AUTHORIZATION_CODE, 60 s) with invalid_grant, and takes one redeemed in time', async () => {
  offset = 0;
  const browser = new Browser();
  const late = await authorizationUrl(config, redirectUri());
  const lateCallback = await signInAndConsent(browser, late, user.username, redirectUri());
  offset += 61_000;
  await expect(client.authorizationCodeGrant(config, lateCallback, { pkceCodeVerifier: late.verifier, expectedState: late.state, expectedNonce: late.nonce })).rejects.toMatchObject({
    error: 'invalid_grant',
  });
  // The same browser's next code, redeemed within its minute, works: the refusal was the code's age.
  const inTime = await authorizationUrl(config, redirectUri());
  const callback = await signInAndConsent(browser, inTime, user.username, redirectUri());
  offset += 50_000;
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: inTime.verifier, expectedState: inTime.state, expectedNonce: inTime.nonce });
  expect(tokens.id_token).toBeTruthy();
});
