// A real relying party (openid-client) walks every protocol feature Latchkey offers, through our own pages.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { createKeyStore } from '../../src/oidc/keys.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { collectionName } from '../../src/oidc/adapter.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let rp: ClientMetadata;
let user: User;
let config: client.Configuration;
let redirectUri: string;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server, { grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] });
  user = await createUser(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

/** What openid-client rejects with when the bearer token is refused (RFC 6750 §3.1: 401, invalid_token). */
const invalidTokenChallenge = {
  code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
  status: 401,
  cause: [expect.objectContaining({ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) })],
};

async function signIn(browser = new Browser(), params: Record<string, string> = {}) {
  const start = await authorizationUrl(config, redirectUri, params);
  const callback = await signInAndConsent(browser, start, user.username, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { tokens, callback, browser };
}

describe('discovery', () => {
  it('advertises the issuer exactly, S256 only, code only and the iss response parameter', () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.issuer);
    expect(meta.code_challenge_methods_supported).toEqual(['S256']);
    expect(meta.response_types_supported).toEqual(['code']);
    expect(meta.authorization_response_iss_parameter_supported).toBe(true);
    expect(meta.grant_types_supported).not.toContain('password');
    expect(meta.grant_types_supported).not.toContain('implicit');
    for (const key of ['jwks_uri', 'userinfo_endpoint', 'revocation_endpoint', 'introspection_endpoint', 'end_session_endpoint'] as const) {
      expect(meta[key]).toMatch(new RegExp(`^${server.issuer}/`));
    }
    expect(meta.scopes_supported).toEqual(expect.arrayContaining(['openid', 'profile', 'email', 'offline_access']));
    expect(meta.claims_supported).toEqual(expect.arrayContaining(['sub', 'email', 'name']));
  });

  it('publishes the active and next ES256 and RS256 public keys, and no private parts', async () => {
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: Record<string, string>[] };
    expect(jwks.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'ES256', 'RS256', 'RS256']); // active and next
    for (const key of jwks.keys) expect(key.d).toBeUndefined();
  });
});

describe('authorization code with PKCE through our pages', () => {
  it('returns code, state and iss to the RP, and a valid ID token signed with RS256 (OIDC\'s default, no alg registered)', async () => {
    const { tokens, callback } = await signIn();
    expect(callback.searchParams.get('iss')).toBe(server.issuer);
    const claims = tokens.claims()!;
    expect(claims.sub).toBe(user._id);
    expect(claims.iss).toBe(server.issuer);
    expect(claims.aud).toBe(rp.client_id);
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString());
    expect(rp.id_token_signed_response_alg).toBe('RS256'); // createClient names no algorithm
    expect(header.alg).toBe('RS256');
    // Signed by the active key, not by the published next one.
    const keys = await createKeyStore(server.connection, { box: configuredSecretBox(server.config) }).list();
    expect(keys.find((k) => k.kid === header.kid)?.status).toBe('active');
    expect(tokens.refresh_token).toBeTruthy();
  });

  /** Signs in through another client; the header of the ID token it gets, and the published key's alg for its kid. */
  async function idTokenSignatureFor(other: ClientMetadata) {
    const otherConfig = await discover(server, other);
    const start = await authorizationUrl(otherConfig, other.redirect_uris[0]!);
    const callback = await signInAndConsent(new Browser(), start, user.username, other.redirect_uris[0]!);
    const tokens = await client.authorizationCodeGrant(otherConfig, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
    const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string; alg: string }[] };
    return { alg: header.alg, publishedAlg: jwks.keys.find((k) => k.kid === header.kid)?.alg };
  }

  it('signs ID tokens with ES256 for a client registered for it, verifiable with the published key', async () => {
    const ecClient = await createClient(server, { client_name: 'EC App', id_token_signed_response_alg: 'ES256' });
    expect(await idTokenSignatureFor(ecClient)).toEqual({ alg: 'ES256', publishedAlg: 'ES256' });
  });

  it('signs ID tokens with RS256 for a client stored without an algorithm', async () => {
    const bare = await createClient(server, { client_name: 'Bare App' });
    await server.connection.db!.collection(collectionName('Client')).updateOne({ _id: bare.client_id as never }, { $unset: { 'payload.id_token_signed_response_alg': 1 } });
    expect(await idTokenSignatureFor(bare)).toEqual({ alg: 'RS256', publishedAlg: 'RS256' });
  });

  it('serves the granted claims at userinfo', async () => {
    const { tokens } = await signIn();
    const info = await client.fetchUserInfo(config, tokens.access_token, user._id);
    expect(info).toMatchObject({ sub: user._id, email: user.email, email_verified: true, preferred_username: user.username, name: user.name });
  });

  it("dates updated_at by the profile's claims, which no change to the account's security moves", async () => {
    const { tokens } = await signIn();
    const createdAt = Math.floor(new Date(user.createdAt).getTime() / 1000);
    expect((await client.fetchUserInfo(config, tokens.access_token, user._id)).updated_at).toBe(createdAt);
    // Security info and its confirmation change the stored account, not its name, username or email.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await server.latchkey.accounts.setSecurityInfo(user._id, { alternateEmail: 'another.address@example.test' });
    await server.latchkey.accounts.confirmSecurityInfo(user._id, new Date());
    expect((await server.latchkey.accounts.findById(user._id))!.updatedAt.getTime()).toBeGreaterThan(new Date(user.createdAt).getTime() + 1000);
    expect((await client.fetchUserInfo(config, tokens.access_token, user._id)).updated_at).toBe(createdAt);
  });

  it('serves userinfo to GET and POST with the token in the header, and to POST with it in the body', async () => {
    const { tokens } = await signIn();
    const me = `${server.issuer}/me`;
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const answers = [
      await fetch(me, { headers: bearer }),
      await fetch(me, { method: 'POST', headers: bearer }),
      await fetch(me, { method: 'POST', headers: form, body: new URLSearchParams({ access_token: tokens.access_token }) }),
    ];
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { sub: string }).sub).toBe(user._id);
    }
  });

  it('signs in again without the login page while the session lasts (consent only)', async () => {
    const { browser } = await signIn();
    const start = await authorizationUrl(config, redirectUri);
    const page = await browser.follow(await browser.get(start.url.href), redirectUri);
    expect(findForm(page, '/confirm').action).toContain('/interaction/');
  });
});

describe('pushed authorization requests (RFC 9126)', () => {
  it('are advertised, and a request pushed first signs in through our pages like any other', async () => {
    expect(config.serverMetadata().pushed_authorization_request_endpoint).toBe(`${server.issuer}/request`);
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = await client.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      prompt: 'consent',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    // Only the client and the request's reference travel through the browser.
    expect([...url.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const callback = await signInAndConsent(new Browser(), { url, verifier, state, nonce }, user.username, redirectUri);
    const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
    expect(tokens.claims()!.sub).toBe(user._id);
  });
});

describe('refresh tokens', () => {
  it('rotates on every use, and replaying the old one revokes the whole grant', async () => {
    const { tokens } = await signIn();
    const first = tokens.refresh_token!;
    const second = await client.refreshTokenGrant(config, first);
    expect(second.refresh_token).toBeTruthy();
    expect(second.refresh_token).not.toBe(first);

    await expect(client.refreshTokenGrant(config, first)).rejects.toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the grant: the newer refresh token and the access tokens are dead too.
    await expect(client.refreshTokenGrant(config, second.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    const introspected = await client.tokenIntrospection(config, second.access_token);
    expect(introspected.active).toBe(false);
  });

  it('revokes the grant when the same refresh token is used twice at the same moment', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { tokens } = await signIn();
      const refresh = () => client.refreshTokenGrant(config, tokens.refresh_token!);
      const results = await Promise.allSettled([refresh(), refresh()]);
      expect(results.some((r) => r.status === 'rejected')).toBe(true);
      // Whoever won the race holds tokens of a revoked grant: none of them works.
      for (const result of results) {
        if (result.status === 'rejected') continue;
        await expect(client.refreshTokenGrant(config, result.value.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
        expect((await client.tokenIntrospection(config, result.value.access_token)).active).toBe(false);
      }
    }
  });
});

describe('refresh token lifetime', () => {
  it('keeps the first token\'s expiry through rotations: a chain has an absolute end', async () => {
    const { tokens } = await signIn();
    const first = await client.tokenIntrospection(config, tokens.refresh_token!);
    await new Promise((r) => setTimeout(r, 1100)); // let a second pass, so a fresh lifetime would show
    const rotated = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const second = await client.tokenIntrospection(config, rotated.refresh_token!);
    expect(first.active && second.active).toBe(true);
    expect(second.exp).toBe(first.exp);
    expect(first.exp! - first.iat!).toBe(server.config.ttl.refreshToken);
  });
});

describe('introspection and revocation', () => {
  it('reports an active access token with its subject and client, then inactive once revoked', async () => {
    const { tokens } = await signIn();
    const active = await client.tokenIntrospection(config, tokens.access_token);
    expect(active).toMatchObject({ active: true, sub: user._id, client_id: rp.client_id });

    await client.tokenRevocation(config, tokens.access_token);
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
    await expect(client.fetchUserInfo(config, tokens.access_token, user._id)).rejects.toMatchObject(invalidTokenChallenge);
  });

  it('revokes a refresh token', async () => {
    const { tokens } = await signIn();
    await client.tokenRevocation(config, tokens.refresh_token!);
    await expect(client.refreshTokenGrant(config, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  });
});

describe('client credentials', () => {
  it('issues an access token to the client itself, which introspects as active without a subject', async () => {
    const tokens = await client.clientCredentialsGrant(config);
    expect(tokens.token_type.toLowerCase()).toBe('bearer');
    const info = await client.tokenIntrospection(config, tokens.access_token);
    expect(info).toMatchObject({ active: true, client_id: rp.client_id });
    expect(info.sub).toBeUndefined();
  });

  it('refuses a wrong client secret', async () => {
    const wrong = new client.Configuration(config.serverMetadata(), rp.client_id, 'not-the-secret');
    client.allowInsecureRequests(wrong);
    await expect(client.clientCredentialsGrant(wrong)).rejects.toMatchObject({ error: 'invalid_client' });
  });
});

describe('RP-initiated logout', () => {
  it('asks on our page, ends the session and returns to the registered post-logout URI with state', async () => {
    const { tokens, browser } = await signIn();
    // The session cookie as it was before logout, to replay it from another browser afterwards.
    const oldSession = (await browser.jar.getCookies(`${server.issuer}/auth`)).filter((c) => c.key.startsWith('latchkey.session'));
    expect(oldSession.map((c) => c.key).sort()).toEqual(['latchkey.session', 'latchkey.session.sig']);
    const replayOldSession = async () => {
      const other = new Browser();
      for (const cookie of oldSession) await other.jar.setCookie(cookie.clone()!, server.issuer);
      const start = await authorizationUrl(config, redirectUri, { scope: 'openid', prompt: 'none' });
      return new URL((await other.follow(await other.get(start.url.href), redirectUri)).url).searchParams;
    };
    // Replayed before logout, the cookie is a signed-in session: prompt=none gets a code.
    const before = await replayOldSession();
    expect(before.get('error')).toBeNull();
    expect(before.get('code')).toEqual(expect.any(String));

    const postLogout = rp.post_logout_redirect_uris[0]!;
    const endSession = client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: postLogout, state: 'bye' });
    const confirm = await browser.get(endSession.href);
    expect(confirm.status).toBe(200);
    expect(confirm.body).toContain('name="logout" value="yes"');
    const form = findForm(confirm, '/session/end/confirm');
    const done = await browser.post(form.action, { ...form.fields, logout: 'yes' });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(postLogout);
    expect(back.searchParams.get('state')).toBe('bye');

    // The session is gone: the next authorization shows the login page again.
    const start = await authorizationUrl(config, redirectUri);
    const page = await browser.follow(await browser.get(start.url.href));
    expect(findForm(page, '/login')).toBeTruthy();

    // Ended on the server, not only forgotten by this browser: the old cookie, replayed from another jar, is not
    // signed in either.
    const after = await replayOldSession();
    expect(after.get('code')).toBeNull();
    expect(after.get('error')).toBe('login_required');
    expect(after.get('state')).toEqual(expect.any(String));
  });
});
