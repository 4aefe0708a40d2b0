// The `claims` request parameter (OIDC Core §5.5) asks for claims one by one. It works within the scopes a client may
// ask for, and never reaches past them: a client registered for `openid` alone gets no email or name through it,
// first-party (no consent page) or not.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin, type AuthorizationStart } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let user: User;

beforeAll(async () => {
  server = await startTestServer();
  user = await createUser(server);
});
afterAll(() => server.close());

/** Every profile and email claim, asked for in the ID token and at userinfo. */
const EVERY_CLAIM = JSON.stringify({
  id_token: { email: null, name: { essential: true }, preferred_username: null },
  userinfo: { email: null, email_verified: null, name: null, preferred_username: null },
});

/** Signs in from `start` and follows until the RP's callback or a page of ours (the consent page). */
async function signIn(browser: Browser, start: AuthorizationStart, redirectUri: string): Promise<Page> {
  return browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), user.username), redirectUri);
}

/** The claims the RP gets for `callback`: the ID token's and userinfo's, without the ones every sign-in carries. */
async function claimsFor(config: client.Configuration, start: AuthorizationStart, callback: URL) {
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  const own = (claims: Record<string, unknown>) => Object.keys(claims).filter((claim) => !['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'acr', 'amr', 'auth_time', 'sid', 'at_hash', 'c_hash'].includes(claim)).sort();
  return { idToken: own(tokens.claims()!), userinfo: own(await client.fetchUserInfo(config, tokens.access_token, user._id)), scope: tokens.scope };
}

/** The claims a consent page lists, by their `data-claim`. */
const listedClaims = (page: Page) => [...page.body.matchAll(/data-claim="([^"]+)"/g)].map((match) => match[1]!);

async function registered(overrides: Parameters<typeof createClient>[1]): Promise<{ rp: ClientMetadata; config: client.Configuration; redirectUri: string }> {
  const rp = await createClient(server, overrides);
  return { rp, config: await discover(server, rp), redirectUri: rp.redirect_uris[0]! };
}

describe('the claims parameter', () => {
  it('gives a first-party client registered for openid alone no claim of another scope', async () => {
    const { config, redirectUri } = await registered({ client_name: 'Narrow Own App', scope: 'openid', first_party: true });
    const start = await authorizationUrl(config, redirectUri, { scope: 'openid', prompt: 'login', claims: EVERY_CLAIM });
    const landed = await signIn(new Browser(), start, redirectUri);
    expect(landed.url.startsWith(redirectUri)).toBe(true); // first party: no consent page
    expect(await claimsFor(config, start, new URL(landed.url))).toEqual({ idToken: [], userinfo: [], scope: 'openid' });
  });

  it('asks consent only for the claims of scopes the client may ask for, worded, and gives only those', async () => {
    const { config, redirectUri } = await registered({ client_name: 'Profile Reader', scope: 'openid profile' });
    const start = await authorizationUrl(config, redirectUri, { scope: 'openid', claims: EVERY_CLAIM });
    const browser = new Browser();
    const consent = await signIn(browser, start, redirectUri);
    expect(listedClaims(consent).sort()).toEqual(['name', 'preferred_username']);
    expect(consent.body).toContain('Your name');
    expect(consent.body).not.toContain('email');
    const allow = findForm(consent, '/confirm');
    const callback = await browser.follow(await browser.post(allow.action, allow.fields), redirectUri);
    expect(await claimsFor(config, start, new URL(callback.url))).toEqual({ idToken: ['name', 'preferred_username'], userinfo: ['name', 'preferred_username'], scope: 'openid' });
  });

  it('refuses a member that is neither null nor an object as the library does: invalid_request, not a server error', async () => {
    const { config, redirectUri } = await registered({ client_name: 'Odd Claims' });
    const start = await authorizationUrl(config, redirectUri, { scope: 'openid', claims: JSON.stringify({ id_token: { sub: 'x' } }) });
    const answer = await new Browser().get(start.url.href);
    expect(answer.status).toBe(303);
    const back = new URL(answer.headers.get('location')!);
    expect(back.origin + back.pathname).toBe(redirectUri);
    expect(back.searchParams.get('error')).toBe('invalid_request');
  });

  it('still gives a client registered without a scope the claims it asks for by name', async () => {
    const { config, redirectUri } = await registered({ client_name: 'Wide App' });
    const start = await authorizationUrl(config, redirectUri, { scope: 'openid', claims: JSON.stringify({ id_token: { email: { essential: true } } }) });
    const browser = new Browser();
    const consent = await signIn(browser, start, redirectUri);
    expect(listedClaims(consent)).toEqual(['email']);
    expect(consent.body).toContain('Your email address');
    const allow = findForm(consent, '/confirm');
    const callback = await browser.follow(await browser.post(allow.action, allow.fields), redirectUri);
    expect((await claimsFor(config, start, new URL(callback.url))).idToken).toEqual(['email']);
  });
});
