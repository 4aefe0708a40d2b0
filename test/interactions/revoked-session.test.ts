// A signed-in person sent to sign in again (prompt=login, an expired max_age) whose account's sessions are revoked
// before they do (a password reset, as the recovery makes one): the interaction is tied to the session that is
// gone, so the sign-in starts again with the relying party's same request, instead of an expired page.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, PUSHED_LOGIN_HINT, pushedAuthorizationUrl, signInAndConsent, submitLogin, type AuthorizationStart } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let redirectUri: string;
/** Added to the server's clock (adapter expiry): moved past the interaction's lifetime by one test. */
let offsetMs = 0;
const NEW_PASSWORD = 'a brand new passphrase for recovery 42';

beforeAll(async () => {
  server = await startTestServer({}, { clock: () => Date.now() + offsetMs });
  rp = await createClient(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

interface StaleSignIn {
  user: User;
  browser: Browser;
  start: AuthorizationStart;
  /** The sign-in page the relying party's second request led to, before the reset. */
  page: Page;
  /** The request as the provider stored it with that page's interaction (normalized: see expectRestartOf). */
  stored: Record<string, unknown>;
  /** When the password was reset, in whole seconds (as auth_time). */
  resetAt: number;
}

/** Signed in, sent to sign in again by `params`, and the account's password reset while that page is open. */
async function staleSignIn(params: Record<string, string> = { prompt: 'login' }, { waitMs = 0 } = {}): Promise<StaleSignIn> {
  const user = await createUser(server);
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);
  if (waitMs) await new Promise((resolve) => setTimeout(resolve, waitMs));
  const start = await authorizationUrl(config, redirectUri, params);
  const page = await openLoginPage(browser, start.url);
  const { params: stored } = (await server.latchkey.provider.Interaction.find(uidOf(page.url)!))!;
  const resetAt = Math.floor(Date.now() / 1000);
  await server.latchkey.accounts.resetPassword(user._id, NEW_PASSWORD);
  return { user, browser, start, page, stored, resetAt };
}

const uidOf = (url: string) => /\/interaction\/([^/?]+)/.exec(new URL(url).pathname)?.[1];

/**
 * The answer restarts the authorization request: to the authorization endpoint with exactly the parameters the
 * provider stored for it. Those are the RP's, as the provider normalized them when it first validated them (an
 * offline_access it ignores without prompt=consent left out, max_age=0 as prompt=login), which it would again.
 */
function expectRestartOf(answer: Page, { start, stored }: StaleSignIn): URLSearchParams {
  expect(answer.status).toBe(303);
  const location = new URL(answer.headers.get('location')!, answer.url);
  expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
  const sent = Object.fromEntries(location.searchParams);
  expect(sent).toEqual(stored);
  for (const name of ['client_id', 'redirect_uri', 'response_type', 'state', 'nonce', 'code_challenge', 'code_challenge_method']) {
    expect(sent[name]).toBe(start.url.searchParams.get(name));
  }
  return location.searchParams;
}

/** Follows a restart to the fresh sign-in page: another interaction's. */
async function freshSignInPage(browser: Browser, answer: Page, stale: Page): Promise<Page> {
  const fresh = await browser.follow(answer);
  expect(fresh.status).toBe(200);
  expect(uidOf(fresh.url)).toBeDefined();
  expect(uidOf(fresh.url)).not.toBe(uidOf(stale.url));
  findForm(fresh, '/login');
  return fresh;
}

/** Signs in on `page` with the new password, consents, and exchanges the RP's code (its own state) for tokens. */
async function signInToTheRp({ user, browser, start, resetAt }: StaleSignIn, page: Page) {
  let landed = await browser.follow(await submitLogin(browser, page, user.username, NEW_PASSWORD), redirectUri);
  if (!landed.url.startsWith(redirectUri)) {
    // The reset revoked the grants too: consent is asked again.
    const consent = findForm(landed, '/confirm');
    landed = await browser.follow(await browser.post(consent.action, consent.fields), redirectUri);
  }
  expect(landed.url.startsWith(redirectUri)).toBe(true);
  const callback = new URL(landed.url);
  expect(callback.searchParams.get('state')).toBe(start.state);
  expect(callback.searchParams.get('code')).toBeTruthy();
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);
  expect(tokens.claims()?.auth_time).toBeGreaterThanOrEqual(resetAt); // signed in anew, after the reset
}

const signInEvents = () => server.logs.filter((line) => /"event":"signin\./.test(line)).length;

describe('a sign-in page whose session was revoked', () => {
  it('restarts the same authorization request when opened, and the new password signs in', async () => {
    const stale = await staleSignIn();
    const answer = await stale.browser.get(stale.page.url);
    expectRestartOf(answer, stale);
    await signInToTheRp(stale, await freshSignInPage(stale.browser, answer, stale.page));
  });

  it('answers the new password posted on it with its page, checking nothing, and that page restarts', async () => {
    const stale = await staleSignIn();
    const form = findForm(stale.page, '/login');
    const before = signInEvents();
    const answer = await stale.browser.post(form.action, { ...form.fields, login: stale.user.username, password: NEW_PASSWORD });
    expect(answer.status).toBe(303);
    expect(new URL(answer.headers.get('location')!, answer.url).href).toBe(stale.page.url);
    expect(signInEvents()).toBe(before); // no password checked, no sign-in recorded, succeeded or failed
    const page = await stale.browser.get(stale.page.url);
    expectRestartOf(page, stale);
    const fresh = await freshSignInPage(stale.browser, page, stale.page);
    expect(messageIds(fresh)).toContain('login.restarted'); // the password it was given was not checked
    await signInToTheRp(stale, fresh);
  });

  it('restarts from its "Can\'t access your account?" link too', async () => {
    const stale = await staleSignIn();
    const answer = await stale.browser.get(`${stale.page.url}/recover`);
    expectRestartOf(answer, stale);
    await signInToTheRp(stale, await freshSignInPage(stale.browser, answer, stale.page));
  });

  it('restarts an expired max_age the same way', async () => {
    // Sign-in times are whole seconds: two seconds on, a session is past max_age=1.
    const stale = await staleSignIn({ max_age: '1' }, { waitMs: 2100 });
    const answer = await stale.browser.get(stale.page.url);
    expect(expectRestartOf(answer, stale).get('max_age')).toBe('1');
    await signInToTheRp(stale, await freshSignInPage(stale.browser, answer, stale.page));
  });

  it('is not restarted when the request was pushed (PAR): its parameters never go through the browser', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);
    const page = await openLoginPage(browser, await pushedAuthorizationUrl(config, redirectUri, { prompt: 'login' }));
    await server.latchkey.accounts.resetPassword(user._id, NEW_PASSWORD);
    const answer = await browser.get(page.url);
    expect(answer.status).toBe(400);
    expect(messageIds(answer)).toContain('error.interaction_expired');
    expect(answer.headers.get('location')).toBeNull();
    expect(answer.body).not.toContain(PUSHED_LOGIN_HINT);
  });

  it('is not restarted for a browser that does not hold it', async () => {
    const stale = await staleSignIn();
    const response = await new Browser().get(stale.page.url);
    expect(response.status).toBe(400);
    expect(messageIds(response)).toContain('error.interaction_expired');
  });

  it('is restarted from the request its page kept, once the interaction itself has expired', async () => {
    const stale = await staleSignIn();
    offsetMs = (server.config.ttl.interaction + 1) * 1000;
    try {
      const form = findForm(stale.page, '/login');
      const before = signInEvents();
      const posted = await stale.browser.post(form.action, { ...form.fields, login: stale.user.username, password: NEW_PASSWORD });
      expect(posted.status).toBe(303);
      expect(signInEvents()).toBe(before);
      expectRestartOf(await stale.browser.get(stale.page.url), stale);
      expect(server.logs.some((line) => line.includes('"event":"interaction.restarted"') && line.includes('"reason":"expired"'))).toBe(true);
    } finally {
      offsetMs = 0;
    }
  });
});
