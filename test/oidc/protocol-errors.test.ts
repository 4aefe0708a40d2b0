// What a relying party (or an attacker posing as one) sees when a request breaks the rules: RFC 9700 and the
// OpenID certification tests' expectations.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let user: User;
let redirectUri: string;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server);
  config = await discover(server, rp);
  user = await createUser(server);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

function authorizeUrl(params: Record<string, string>): string {
  const url = new URL(`${server.issuer}/auth`);
  const defaults = { client_id: rp.client_id, response_type: 'code', scope: 'openid', redirect_uri: redirectUri, state: 's1', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' };
  for (const [key, value] of Object.entries({ ...defaults, ...params })) if (value !== '') url.searchParams.set(key, value);
  return url.href;
}

describe('JSON errors', () => {
  // The provider writes its endpoints' error bodies itself; they carry the support code of our own errors too, the
  // request id that is in the log line and the X-Request-Id header.
  const basic = () => `Basic ${Buffer.from(`${encodeURIComponent(rp.client_id)}:${encodeURIComponent(rp.client_secret!)}`).toString('base64')}`;
  it.each<[string, string, boolean, Record<string, string>, number, string]>([
    ['token', 'no client authentication', false, { grant_type: 'authorization_code', code: 'x' }, 401, 'invalid_client'],
    ['token', 'an unknown grant type', true, { grant_type: 'no_such_grant' }, 400, 'unsupported_grant_type'],
    ['token', 'a made-up code', true, { grant_type: 'authorization_code', code: 'made-up', redirect_uri: 'x', code_verifier: 'v'.repeat(43) }, 400, 'invalid_grant'],
    ['token/introspection', 'no client authentication', false, { token: 'x' }, 401, 'invalid_client'],
  ])('answers /oidc/%s with %s: the error and the support code', async (path, _label, authenticated, fields, status, error) => {
    const response = await fetch(`${server.issuer}/${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authenticated && { authorization: basic() }) },
      body: new URLSearchParams({ ...(!authenticated && { client_id: rp.client_id }), ...fields }).toString(),
    });
    expect(response.status).toBe(status);
    expect(await response.json()).toEqual({ error, error_description: expect.any(String), support_code: response.headers.get('x-request-id') });
  });

  it('gives userinfo with a made-up token the error and the support code', async () => {
    const response = await fetch(`${server.issuer}/me`, { headers: { authorization: 'Bearer made-up' } });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'invalid_token', error_description: expect.any(String), support_code: response.headers.get('x-request-id') });
  });
});

describe('redirect URIs', () => {
  // Registered: <origin>/cb. Each variant differs by a little; exact matching must refuse them all.
  const variants: [string, (registered: string) => string][] = [
    ['an unregistered host', () => 'https://attacker.example/cb'],
    ['a trailing slash', (r) => `${r}/`],
    ['an added query', (r) => `${r}?x=1`],
    ['a different path case', (r) => r.replace('/cb', '/CB')],
  ];

  it.each(variants)('shows our error page for %s and never redirects', async (_label, variant) => {
    const page = await new Browser().get(authorizeUrl({ redirect_uri: variant(redirectUri) }));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expect(messageIds(page)).toContain('error.oidc');
    expect(page.body).toContain('redirect_uri');
    expect(page.body).toMatch(/Support code: [A-Z0-9]{8}/);
  });

  it("gives the protocol's own English words to the application's developer, marked as English on a French page", async () => {
    const page = await new Browser().request(authorizeUrl({ redirect_uri: 'https://attacker.example/cb' }), { headers: { 'accept-language': 'fr' } });
    expect(page.status).toBe(400);
    expect(page.body).toContain('<html lang="fr">');
    expect(page.body).toMatch(/data-message-id="error.developer_detail">Pour le développeur de l’application : <span lang="en">invalid_redirect_uri\. [^<]*redirect_uri[^<]*<\/span>/);
  });
});

describe('PKCE', () => {
  async function errorAtRp(params: Record<string, string>) {
    const page = await new Browser().get(authorizeUrl(params));
    expect(page.status).toBe(303);
    const location = new URL(page.headers.get('location')!);
    expect(location.href.startsWith(redirectUri)).toBe(true);
    return location.searchParams;
  }

  it('refuses an authorization request without a code_challenge, even from a confidential client', async () => {
    const result = await errorAtRp({ code_challenge: '', code_challenge_method: '' });
    expect(result.get('error')).toBe('invalid_request');
    expect(result.get('iss')).toBe(server.issuer);
  });

  it('lets an admin exempt one client (e.g. a conformance test client), and only that one', async () => {
    const exempt = await createClient(server, { client_name: 'Conformance', pkce_required: false });
    const exemptConfig = await discover(server, exempt);
    const browser = new Browser();
    const url = client.buildAuthorizationUrl(exemptConfig, { redirect_uri: exempt.redirect_uris[0]!, scope: 'openid', state: 'st' });
    const callback = await browser.follow(await submitLogin(browser, await openLoginPage(browser, url), user.username), exempt.redirect_uris[0]!);
    const consent = findForm(callback, '/confirm');
    const back = await browser.follow(await browser.post(consent.action, consent.fields), exempt.redirect_uris[0]!);
    const tokens = await client.authorizationCodeGrant(exemptConfig, new URL(back.url), { expectedState: 'st' });
    expect(tokens.claims()!.sub).toBe(user._id);

    const result = await errorAtRp({ code_challenge: '', code_challenge_method: '' });
    expect(result.get('error')).toBe('invalid_request');
  });

  it('refuses the plain method', async () => {
    const result = await errorAtRp({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    expect(result.get('error')).toBe('invalid_request');
  });

  it('refuses a token request with the wrong verifier', async () => {
    const start = await authorizationUrl(config, redirectUri);
    const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri);
    await expect(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: start.state }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('grants and response types', () => {
  it('refuses the implicit response type', async () => {
    const page = await new Browser().get(authorizeUrl({ response_type: 'token' }));
    const location = page.headers.get('location');
    const error = location ? new URL(location).searchParams.get('error') ?? new URLSearchParams(new URL(location).hash.slice(1)).get('error') : undefined;
    expect(error ?? page.status).toBe('unsupported_response_type');
  });

  it('refuses the password grant', async () => {
    const response = await fetch(`${server.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${rp.client_id}:${rp.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'password', username: user.username, password: 'x' }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'unsupported_grant_type' });
  });
});

describe('authorization code reuse', () => {
  it('fails the second redemption and revokes the tokens issued with the code', async () => {
    const start = await authorizationUrl(config, redirectUri);
    const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);

    await expect(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });

    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    const userinfo = await fetch(`${server.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(userinfo.status).toBe(401);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('sign-in page', () => {
  it('has a Cancel that returns access_denied to the RP, without sending the typed password', async () => {
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri);
    const login = await openLoginPage(browser, start.url);
    const cancel = findForm(login, '/abort');
    expect(Object.keys(cancel.fields)).toEqual(['csrf']);
    const back = await browser.follow(await browser.post(cancel.action, cancel.fields), redirectUri);
    const result = new URL(back.url);
    expect(result.searchParams.get('error')).toBe('access_denied');
    expect(result.searchParams.get('state')).toBe(start.state);
  });
});

describe('consent', () => {
  it('names the client and the scopes in words, and Cancel returns access_denied to the RP', async () => {
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri);
    const afterLogin = await browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), user.username));
    expect(afterLogin.body).toContain('Allow Test App to access your account?');
    expect(afterLogin.body).toContain('See your email address');
    expect(afterLogin.body).toContain('Keep access while you are not using it');
    const cancel = findForm(afterLogin, '/abort');
    const back = await browser.follow(await browser.post(cancel.action, cancel.fields), redirectUri);
    const result = new URL(back.url);
    expect(result.searchParams.get('error')).toBe('access_denied');
    expect(result.searchParams.get('state')).toBe(start.state);
  });

  it('asked again (prompt=consent) for what was granted, lists all of it and says that offline access outlasts signing out', async () => {
    const browser = new Browser();
    await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);
    // The same request again in the same browser: everything is granted already, and the page asks all the same.
    const again = await authorizationUrl(config, redirectUri);
    const page = await browser.follow(await browser.get(again.url.href), redirectUri);
    expect(page.body).toContain('Allow Test App to access your account?');
    for (const scope of ['openid', 'profile', 'email', 'offline_access']) expect(page.body).toContain(`data-scope="${scope}"`);
    expect(messageIds(page)).toContain('consent.lifetime_offline');
    const allow = findForm(page, '/confirm');
    const back = await browser.follow(await browser.post(allow.action, allow.fields), redirectUri);
    const tokens = await client.authorizationCodeGrant(config, new URL(back.url), { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce });
    expect(tokens.refresh_token).toBeTruthy();
  });

  it('is skipped for a first-party client, also when a later request asks for more', async () => {
    const firstParty = await createClient(server, { client_name: 'Our Own App', first_party: true });
    const ownConfig = await discover(server, firstParty);
    const browser = new Browser();
    // No prompt=consent here: a first-party app has nothing to ask.
    const start = await authorizationUrl(ownConfig, firstParty.redirect_uris[0]!, { prompt: 'login', scope: 'openid email' });
    const response = await submitLogin(browser, await openLoginPage(browser, start.url), user.username);
    const landed = await browser.follow(response, firstParty.redirect_uris[0]!);
    const callback = new URL(landed.url);
    expect(callback.searchParams.get('code')).toBeTruthy();
    const tokens = await client.authorizationCodeGrant(ownConfig, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    expect(tokens.claims()!.sub).toBe(user._id);
    const info = await client.fetchUserInfo(ownConfig, tokens.access_token, user._id);
    expect(info.email).toBe(user.email);

    // Signed in already; now the app asks for the profile scope too: still no consent page.
    const more = await authorizationUrl(ownConfig, firstParty.redirect_uris[0]!, { prompt: '', scope: 'openid email profile' });
    more.url.searchParams.delete('prompt');
    const back = await browser.follow(await browser.get(more.url.href), firstParty.redirect_uris[0]!);
    const moreTokens = await client.authorizationCodeGrant(ownConfig, new URL(back.url), { pkceCodeVerifier: more.verifier, expectedState: more.state, expectedNonce: more.nonce });
    expect(moreTokens.scope?.split(' ').sort()).toEqual(['email', 'openid', 'profile']);
  });
});

describe('token ownership', () => {
  it('does not let one client introspect or revoke another client\'s token', async () => {
    const start = await authorizationUrl(config, redirectUri);
    const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });

    const other = await createClient(server, { client_name: 'Other App' });
    const otherConfig = await discover(server, other);
    expect((await client.tokenIntrospection(otherConfig, tokens.access_token)).active).toBe(false);
    await client.tokenRevocation(otherConfig, tokens.access_token).catch(() => undefined);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
  });
});

describe('an account disabled while signed in', () => {
  it('no longer counts as signed in: prompt=none gets login_required, otherwise the sign-in page shows', async () => {
    const member = await createUser(server);
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri);
    await signInAndConsent(browser, start, member.username, redirectUri);
    await server.latchkey.accounts.setStatus(member._id, 'disabled');

    const silent = await authorizationUrl(config, redirectUri, { prompt: 'none', scope: 'openid' });
    const answer = await browser.follow(await browser.get(silent.url.href), redirectUri);
    expect(new URL(answer.url).searchParams.get('error')).toBe('login_required');

    const again = await authorizationUrl(config, redirectUri);
    const page = await browser.follow(await browser.get(again.url.href));
    expect(page.status).toBe(200);
    expect(findForm(page, '/login')).toBeTruthy();
    // And the password still does not let a disabled account in.
    const refused = await submitLogin(browser, page, member.username);
    expect(messageIds(refused)).toContain('login.invalid');
  });
});
