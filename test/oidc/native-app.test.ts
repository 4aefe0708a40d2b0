// A native app (desktop, mobile, command line: RFC 8252, `clients create --native`) listens for its code on a port
// the system gives it at the moment, so its loopback redirect URI matches whatever the port (§7.3), or returns through
// a private-use scheme named after its publisher's domain (§7.1). It is a public client: it keeps no secret (§8.5).
// A web application's redirect URIs stay matched exactly, port included (RFC 9700 §2.1).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let user: User;
let app: ClientMetadata;

beforeAll(async () => {
  server = await startTestServer();
  user = await createUser(server);
  const created = await runAdmin(server.dbUri, [
    'clients', 'create', '--name', 'Desktop App', '--native', '--auth-method', 'none', '--first-party',
    '--redirect-uri', 'http://127.0.0.1/callback', '--redirect-uri', 'com.example.desktop:/callback', '--json',
  ]);
  expect(created.code).toBe(0);
  app = JSON.parse(created.stdout) as ClientMetadata;
});
afterAll(() => server.close());

/** Signs in from `redirectUri` and returns where the browser is sent with the code. */
async function signInFrom(config: client.Configuration, redirectUri: string) {
  const start = await authorizationUrl(config, redirectUri, { scope: 'openid', prompt: 'login' });
  return { start, callback: await signInAndConsent(new Browser(), start, user.username, redirectUri) };
}

describe('a native app', () => {
  it('is registered public, and shown as native', async () => {
    expect(app).toMatchObject({ application_type: 'native', token_endpoint_auth_method: 'none' });
    expect(app.client_secret).toBeUndefined();
    const shown = await runAdmin(server.dbUri, ['clients', 'show', app.client_id]);
    expect(shown.stdout).toMatch(/^application type\s+native$/m);
  });

  it('gets its code at the loopback port it listens on now, any port, and exchanges it there', async () => {
    const config = await discover(server, app);
    for (const port of [51234, 60001]) {
      const redirectUri = `http://127.0.0.1:${port}/callback`;
      const { start, callback } = await signInFrom(config, redirectUri);
      expect(`${callback.origin}${callback.pathname}`).toBe(redirectUri);
      const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }, { redirect_uri: redirectUri });
      expect(tokens.claims()?.sub).toBe(user._id);
    }
  });

  it('gets its code through its private-use scheme', async () => {
    const { callback } = await signInFrom(await discover(server, app), 'com.example.desktop:/callback');
    expect(callback.protocol).toBe('com.example.desktop:');
    expect(callback.searchParams.get('code')).toBeTruthy();
  });

  it('still has its path and host matched exactly', async () => {
    for (const redirectUri of ['http://127.0.0.1:51234/other', 'http://localhost:51234/callback', 'com.example.other:/callback']) {
      const start = await authorizationUrl(await discover(server, app), redirectUri);
      const page = await new Browser().get(start.url.href);
      expect({ redirectUri, status: page.status, location: page.headers.get('location') }).toEqual({ redirectUri, status: 400, location: null });
    }
  });
});

it("keeps a web application's loopback redirect URI exact, port included", async () => {
  const web = await createClient(server, { redirect_uris: ['http://127.0.0.1/callback'] });
  const start = await authorizationUrl(await discover(server, web), 'http://127.0.0.1:51234/callback');
  const page = await new Browser().get(start.url.href);
  expect(page.status).toBe(400);
  expect(page.headers.get('location')).toBeNull();
});

it.each([
  ['with a secret', ['--auth-method', 'client_secret_basic', '--redirect-uri', 'http://127.0.0.1/cb'], 'a native app keeps no secret'],
  ['on localhost', ['--auth-method', 'none', '--redirect-uri', 'http://localhost/cb'], 'not localhost (RFC 8252 §8.3)'],
  ['with a scheme that is no domain', ['--auth-method', 'none', '--redirect-uri', 'myapp:/cb'], 'a private-use scheme named after your domain'],
  ['with https on loopback', ['--auth-method', 'none', '--redirect-uri', 'https://127.0.0.1/cb'], 'a private-use scheme named after your domain'],
])('refuses a native app %s, and stores nothing', async (_case, args, reason) => {
  const run = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Refused', '--native', ...args]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(reason);
});

it('refuses a private-use scheme for a web application', async () => {
  const run = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Web', '--redirect-uri', 'com.example.web:/cb']);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('must use https');
});
