// Production behind a TLS proxy, with forged Host and X-Forwarded-Host headers: every URL in discovery, every
// redirect and every page comes from the issuer. The same walk shows what production defaults give a relying party:
// authorization by POST, a `__Host-` session cookie, and an ID token that says how the user signed in.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { Browser, findForm, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import { ACR } from '../../src/oidc/account.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const PUBLIC = 'https://id.example.test';
const ISSUER = `${PUBLIC}/oidc`;
const RP = 'https://app.example.test';
const FORGED = { 'x-forwarded-host': 'evil.example' };

let server: TestServer;
let rp: ClientMetadata;
let user: User;
/** Added to the server's clock (the stored documents' expiry): moved past a sign-in's life by one test. */
let offsetMs = 0;

beforeAll(async () => {
  // Production with no other setting: Secure cookies, so authorization by POST is on by default.
  server = await startTestServer({ ...PRODUCTION_ENV, ISSUER }, { clock: () => Date.now() + offsetMs });
  rp = await createClient(server, { redirect_uris: [`${RP}/cb`], post_logout_redirect_uris: [`${RP}/bye`], first_party: true });
  user = await createUser(server);
});
afterAll(() => server.close());

/** A raw request with a Host header of our choosing (fetch does not let a caller set Host). */
function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${server.origin}${path}`, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

function authorizationParams(): Record<string, string> {
  return {
    client_id: rp.client_id,
    response_type: 'code',
    scope: 'openid profile',
    redirect_uri: `${RP}/cb`,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', // verifier below (RFC 7636 appendix B)
    code_challenge_method: 'S256',
    state: 'state-1',
    nonce: 'nonce-1',
  };
}
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';

function expectNoForeignHost(page: Page) {
  expect(page.body).not.toContain('evil.example');
  expect(page.headers.get('location') ?? '').not.toContain('evil.example');
}

// First in this file: the first discovery request is the one whose answer is kept.
it('keeps https endpoints in discovery after a first request that came without the proxy (a health check on plain http)', async () => {
  const direct = await rawGet('/oidc/.well-known/openid-configuration', {});
  expect(direct.status).toBe(200);
  expect(direct.headers['cache-control']).toBeUndefined(); // not the kept answer, and not for caches
  const proxied = JSON.parse((await rawGet('/oidc/.well-known/openid-configuration', { 'x-forwarded-proto': 'https' })).body) as Record<string, string>;
  expect(proxied.token_endpoint).toBe(`${ISSUER}/token`);
  expect(proxied.authorization_endpoint).toBe(`${ISSUER}/auth`);
});

it('publishes only the issuer origin in discovery, whatever Host and X-Forwarded-Host say', async () => {
  const response = await rawGet('/oidc/.well-known/openid-configuration', { host: 'evil.example', 'x-forwarded-proto': 'https', ...FORGED });
  expect(response.status).toBe(200);
  expect(response.body).not.toContain('evil.example');
  const discovery = JSON.parse(response.body) as Record<string, unknown>;
  expect(discovery.issuer).toBe(ISSUER);
  const urls = Object.entries(discovery).filter(([key, value]) => typeof value === 'string' && /_(endpoint|uri)$/.test(key));
  expect(urls.length).toBeGreaterThan(5);
  for (const [, url] of urls) expect(url).toMatch(/^https:\/\/id\.example\.test\/oidc\//);
  expect(response.headers['cache-control']).toMatch(/^public, max-age=\d+/);
});

it.each(['/oidc/auth', '/oidc/session/end', '/interaction/some-uid', '/recover', '/'])('never echoes a forged Host header on %s: another host is refused or sent to the issuer', async (path) => {
  const response = await rawGet(`${path}?client_id=${rp.client_id}`, { host: 'evil.example', 'x-forwarded-proto': 'https', ...FORGED });
  expect(response.body).not.toContain('evil.example');
  expect(String(response.headers.location ?? '')).not.toContain('evil.example');
  if (response.status !== 421) expect(String(response.headers.location ?? ISSUER).startsWith(PUBLIC)).toBe(true);
});

it('completes a code flow started by POST through the sign-in page, with a __Host- session cookie and amr/acr in the ID token', async () => {
  const browser = new Browser({ publicOrigin: PUBLIC, serverOrigin: server.origin, headers: FORGED });
  const started = await browser.post(`${ISSUER}/auth`, authorizationParams());
  expect(started.status).toBe(303);
  expectNoForeignHost(started);
  const loginPage = await browser.follow(started);
  expect(loginPage.status).toBe(200);
  expectNoForeignHost(loginPage);

  const form = findForm(loginPage, '/login');
  expect(form.action.startsWith(PUBLIC)).toBe(true);
  const signedIn = await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD });
  expectNoForeignHost(signedIn);
  const callback = await browser.follow(signedIn, `${RP}/cb`);
  const code = new URL(callback.url).searchParams.get('code');
  expect(code).toBeTruthy();

  const session = (await browser.jar.getCookies(`${PUBLIC}/`)).find((c) => c.key === '__Host-latchkey.session');
  expect(session).toMatchObject({ secure: true, httpOnly: true, path: '/' });
  expect(session!.domain).toBe('id.example.test');
  expect(session!.hostOnly).toBe(true);

  const token = await fetch(`${server.origin}/oidc/token`, {
    method: 'POST',
    headers: {
      'x-forwarded-proto': 'https',
      ...FORGED,
      authorization: `Basic ${Buffer.from(`${rp.client_id}:${rp.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: code!, redirect_uri: `${RP}/cb`, code_verifier: VERIFIER }),
  });
  expect(token.status).toBe(200);
  // Never kept by a cache, HTTP/1.0 ones included (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
  expect(token.headers.get('cache-control')).toBe('no-store');
  expect(token.headers.get('pragma')).toBe('no-cache');
  const { id_token: idToken } = (await token.json()) as { id_token: string };
  const claims = JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  expect(claims).toMatchObject({ iss: ISSUER, sub: user._id, amr: ['pwd'], acr: ACR.password, nonce: 'nonce-1' });

  // The sign-out page, asked for by POST (RP-Initiated Logout 1.0 §2: the OP MUST take GET and POST): its form
  // posts to the issuer, with the logout token escaped into a hidden field.
  const logout = await browser.follow(await browser.post(`${ISSUER}/session/end`, { id_token_hint: idToken, post_logout_redirect_uri: `${RP}/bye`, state: 'bye-1' }));
  expect(logout.status).toBe(200);
  expectNoForeignHost(logout);
  const logoutForm = findForm(logout, '/session/end/confirm');
  expect(logoutForm.action).toBe(`${ISSUER}/session/end/confirm`);
  expect(logoutForm.fields.xsrf).toMatch(/^[\w-]{16,}$/);
  const signedOut = await browser.follow(await browser.post(logoutForm.action, { ...logoutForm.fields, logout: 'yes' }), `${RP}/bye`);
  expect(signedOut.url).toBe(`${RP}/bye?state=bye-1`);
});

it('asks a sign-in whose session a reset revoked again by POST, so that its parameters never reach an address', async () => {
  const person = await createUser(server);
  const browser = new Browser({ publicOrigin: PUBLIC, serverOrigin: server.origin });
  const firstPage = await browser.follow(await browser.post(`${ISSUER}/auth`, authorizationParams()));
  const first = findForm(firstPage, '/login');
  expect((await browser.follow(await browser.post(first.action, { ...first.fields, login: person.username, password: PASSWORD }), `${RP}/cb`)).url).toMatch(/^https:\/\/app\.example\.test\/cb\?/);
  const posted = { ...authorizationParams(), prompt: 'login', state: 'state-again', login_hint: 'hint-in-a-post@example.test' };
  const stale = await browser.follow(await browser.post(`${ISSUER}/auth`, posted));
  findForm(stale, '/login');
  await server.latchkey.accounts.resetPassword(person._id, 'another long passphrase for this test 42');

  const restart = await browser.get(stale.url);
  expect(restart.status).toBe(200);
  expect(restart.headers.get('location')).toBeNull();
  expect(restart.body).toContain('data-message-id="restart.title"');
  const again = findForm(restart, '/oidc/auth');
  expect(again.action).toBe(`${ISSUER}/auth`);
  expect(again.fields).toMatchObject(posted);
  const fresh = await browser.follow(await browser.post(again.action, again.fields));
  expect(fresh.status).toBe(200);
  expect(new URL(fresh.url).pathname).not.toBe(new URL(stale.url).pathname);
  expect(new URL(fresh.url).search).toBe('');
  expect(findForm(fresh, '/login').fields.login).toBe('hint-in-a-post@example.test');
});

it('asks an expired sign-in again by POST, its parameters sealed in the meantime, and the new page keeps the login', async () => {
  const browser = new Browser({ publicOrigin: PUBLIC, serverOrigin: server.origin });
  const posted = { ...authorizationParams(), state: 'state-expired', login_hint: 'hint-kept-sealed@example.test' };
  const stale = await browser.follow(await browser.post(`${ISSUER}/auth`, posted));
  const form = findForm(stale, '/login');
  const kept = (await browser.jar.getCookies(stale.url)).find((cookie) => cookie.key === '__Secure-lk_signin_restart');
  expect(kept?.secure).toBe(true);
  expect(kept?.httpOnly).toBe(true);
  for (const value of ['hint-kept-sealed', 'state-expired', rp.client_id]) expect(decodeURIComponent(kept!.value)).not.toContain(value);
  offsetMs = (server.config.ttl.interaction + 60) * 1000;
  try {
    // The interaction's own cookie is gone by then, as its max-age is.
    for (const cookie of await browser.jar.getCookies(stale.url)) {
      if (cookie.key.includes('_interaction')) await browser.jar.setCookie(`${cookie.key}=; Path=${cookie.path}; Secure; Max-Age=0`, stale.url);
    }
    const answer = await browser.post(form.action, { ...form.fields, login: 'typed-on-the-stale-page', password: 'not checked at all' });
    expect(answer.status).toBe(303);
    const restart = await browser.follow(answer);
    expect(restart.status).toBe(200);
    expect(restart.body).toContain('data-message-id="restart.title"');
    const again = findForm(restart, '/oidc/auth');
    expect(again.fields).toMatchObject(posted);
    const fresh = await browser.follow(await browser.post(again.action, again.fields));
    expect(fresh.status).toBe(200);
    expect(new URL(fresh.url).pathname).not.toBe(new URL(stale.url).pathname);
    expect(fresh.body).toContain('data-message-id="login.restarted"');
    expect(findForm(fresh, '/login').fields.login).toBe('typed-on-the-stale-page');
  } finally {
    offsetMs = 0;
  }
});

it('turns authorization by POST off when AUTHORIZATION_POST=false', async () => {
  const off = await startTestServer({ ...PRODUCTION_ENV, ISSUER, AUTHORIZATION_POST: 'false' });
  try {
    const client = await createClient(off, { redirect_uris: [`${RP}/cb`] });
    const browser = new Browser({ publicOrigin: PUBLIC, serverOrigin: off.origin });
    // Refused as a method the endpoint does not take (not a missing page), with the error page's support code.
    for (const path of ['/auth', '/session/end']) {
      const answer = await browser.post(`${ISSUER}${path}`, { ...authorizationParams(), client_id: client.client_id });
      expect(answer.status).toBe(405);
      expect(answer.headers.get('allow')).toBe('GET, HEAD');
      expect(answer.body).toContain('data-message-id="error.support_code"');
    }
  } finally {
    await off.close();
  }
});
