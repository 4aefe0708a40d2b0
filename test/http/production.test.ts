// Behind a TLS-terminating proxy in production: https endpoints from the forwarded headers, HSTS, and cookies
// that browsers only send over https.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/factories.ts';
import { ferretDbVersion } from '../../src/db/connection.ts';

let server: TestServer;
const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' };

beforeAll(async () => {
  server = await startTestServer({ ...PRODUCTION_ENV, ISSUER: 'https://id.example.test/oidc', AUTHORIZATION_POST: 'true' });
});
afterAll(() => server.close());

/** The parameters of an authorization request from a freshly registered client of this server. */
async function authorizationParams(): Promise<URLSearchParams> {
  const rp = await createClient(server, { redirect_uris: ['https://app.example.test/cb'] });
  return new URLSearchParams({
    client_id: rp.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: 'https://app.example.test/cb',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  });
}

it('publishes https endpoints under the forwarded host', async () => {
  const response = await fetch(`${server.origin}/oidc/.well-known/openid-configuration`, { headers: forwarded });
  const discovery = (await response.json()) as Record<string, string>;
  expect(discovery.issuer).toBe('https://id.example.test/oidc');
  expect(discovery.token_endpoint).toBe('https://id.example.test/oidc/token');
  expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
});

it('sets __Secure- prefixed, Secure cookies and HSTS on error pages too', async () => {
  const url = `${server.origin}/oidc/auth?${await authorizationParams()}`;
  const response = await fetch(url, { headers: forwarded, redirect: 'manual' });
  expect(response.status).toBe(303);
  const cookies = response.headers.getSetCookie();
  expect(cookies.length).toBeGreaterThan(0);
  for (const cookie of cookies) {
    expect(cookie.startsWith('__Secure-latchkey.')).toBe(true);
    expect(cookie.toLowerCase()).toContain('; secure');
  }
  const missing = await fetch(`${server.origin}/nowhere`, { headers: forwarded });
  expect(missing.status).toBe(404);
  expect(missing.headers.get('strict-transport-security')).toContain('max-age=31536000');
});

it('accepts authorization requests by POST when configured', async () => {
  const body = await authorizationParams();
  const response = await fetch(`${server.origin}/oidc/auth`, { method: 'POST', headers: { ...forwarded, 'content-type': 'application/x-www-form-urlencoded' }, body, redirect: 'manual' });
  expect(response.status).toBe(303);
  expect(response.headers.get('location')).toMatch(/\/interaction\//);
});

it('sets the CSRF cookie as __Host-, Secure, Path=/ on our pages', async () => {
  const url = `${server.origin}/oidc/auth?${await authorizationParams()}`;
  const started = await fetch(url, { headers: forwarded, redirect: 'manual' });
  const cookie = started.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const page = await fetch(new URL(started.headers.get('location')!, server.origin), { headers: { ...forwarded, cookie } });
  expect(page.status).toBe(200);
  const csrf = page.headers.getSetCookie().find((c) => c.startsWith('__Host-latchkey.csrf='));
  expect(csrf).toBeDefined();
  expect(csrf!.toLowerCase()).toContain('; secure');
  expect(csrf!.toLowerCase()).toContain('; path=/;');
  expect(csrf!.toLowerCase()).not.toContain('domain=');
});

it('warns at start when MONGODB_URI is FerretDB (the development database), which production should not use', async () => {
  const warning = server.logs.map((line) => JSON.parse(line) as { event?: string; ferretDb?: string }).find((entry) => entry.event === 'database.not_for_production');
  // The tests run on FerretDB unless MONGODB_URI names a MongoDB server, which gets no warning.
  const ferretDb = await ferretDbVersion(server.connection);
  expect(warning?.ferretDb).toBe(ferretDb);
  if (!process.env.MONGODB_URI) expect(ferretDb).toMatch(/^v1\./);
});
