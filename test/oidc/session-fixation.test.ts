// A new session identifier at every sign-in (security checklist ASVS-7.2.4): the session cookie a browser held before
// it signed in again names nothing afterwards, so whoever copied it (or planted it) is not signed in by it.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { cookieNames } from '../../src/oidc/provider.ts';

let server: TestServer;
let config: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;
const SESSION = cookieNames(false).session;

beforeAll(async () => {
  server = await startTestServer();
  config = await discover(server, await createClient(server));
});
afterAll(() => server.close());

/** What a silent authorization request (prompt=none) in this browser brings back to the RP. */
async function silentSignIn(browser: Browser): Promise<URLSearchParams> {
  const start = await authorizationUrl(config, redirectUri(), { prompt: 'none', scope: 'openid' });
  const landed = await browser.follow(await browser.get(start.url.href), redirectUri());
  return new URL(landed.url).searchParams;
}

/** The browser's session cookies (the value and its signature). */
const sessionCookies = async (browser: Browser) => (await browser.jar.getCookies(server.origin)).filter((cookie) => cookie.key === SESSION || cookie.key === `${SESSION}.sig`);
const sessionId = async (browser: Browser) => (await sessionCookies(browser)).find((cookie) => cookie.key === SESSION)?.value;

it('gives a browser a new session at each sign-in: a copy of the cookie it held before signs nobody in', async () => {
  const user = await createUser(server);
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri()), user.username, redirectUri());
  const before = await sessionCookies(browser);
  expect(before.map((cookie) => cookie.key).sort()).toEqual([SESSION, `${SESSION}.sig`]);

  // Signed in again (prompt=login asks for the password even with a session).
  const again = await authorizationUrl(config, redirectUri(), { prompt: 'login' });
  const answer = await submitLogin(browser, await openLoginPage(browser, again.url), user.username);
  const landed = await browser.follow(answer, redirectUri());
  expect(new URL(landed.url).searchParams.get('code')).toBeTruthy();
  expect(await sessionId(browser)).toBeDefined();
  expect(await sessionId(browser)).not.toBe(before.find((cookie) => cookie.key === SESSION)!.value);

  const copy = new Browser();
  for (const cookie of before) await copy.jar.setCookie(cookie.clone()!, server.origin);
  expect((await silentSignIn(copy)).get('error')).toBe('login_required');
  expect((await silentSignIn(browser)).get('code')).toBeTruthy();
});
