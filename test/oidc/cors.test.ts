// Which web origins a browser app may call the provider from (clientBasedCORS): userinfo and public clients from
// the origin of one of the client's redirect URIs, confidential clients from none.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

const APP_ORIGIN = 'http://localhost:4321';
const OTHER_ORIGIN = 'https://elsewhere.example';

let server: TestServer;
let confidential: ClientMetadata;
let publicClient: ClientMetadata;
let accessToken: string;
// The library's notices go to console.info; watched from before the first request.
const notices = jest.spyOn(console, 'info');

beforeAll(async () => {
  server = await startTestServer();
  const redirectUri = `${APP_ORIGIN}/cb`;
  confidential = await createClient(server, { redirect_uris: [redirectUri], grant_types: ['authorization_code', 'client_credentials'] });
  publicClient = await createClient(server, { redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' });
  const user = await createUser(server);
  const config = await discover(server, confidential);
  const start = await authorizationUrl(config, redirectUri, { scope: 'openid' });
  const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  accessToken = tokens.access_token;
});
afterAll(() => server.close());

const userinfoFrom = (origin: string) => fetch(`${server.issuer}/me`, { headers: { origin, authorization: `Bearer ${accessToken}` } });
const revocationFrom = (origin: string, clientId: string, headers: Record<string, string> = {}) =>
  fetch(`${server.issuer}/token/revocation`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ client_id: clientId, token: 'not-a-token' }),
  });

async function expectRefused(response: Response, origin: string) {
  expect(response.status).toBe(400);
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
  expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringContaining(`origin ${origin} not allowed`) });
}

it('lets the client\'s redirect origin read userinfo', async () => {
  const response = await userinfoFrom(APP_ORIGIN);
  expect(response.status).toBe(200);
  expect(response.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
});

it('refuses userinfo to any other origin, opaque ones included', async () => {
  await expectRefused(await userinfoFrom(OTHER_ORIGIN), OTHER_ORIGIN);
  await expectRefused(await userinfoFrom('null'), 'null');
});

it('lets a public client call from its redirect origin, and from no other', async () => {
  const allowed = await revocationFrom(APP_ORIGIN, publicClient.client_id);
  expect(allowed.status).toBe(200);
  expect(allowed.headers.get('access-control-allow-origin')).toBe(APP_ORIGIN);
  await expectRefused(await revocationFrom(OTHER_ORIGIN, publicClient.client_id), OTHER_ORIGIN);
});

it('refuses an opaque origin (a sandboxed frame, a file: page) for a native app whose redirect URI has none either', async () => {
  // A private-use scheme's URL has the opaque origin "null", as a sandboxed frame's request does: they must not match.
  const native = await createClient(server, { application_type: 'native', redirect_uris: ['com.example.desktop:/cb'], token_endpoint_auth_method: 'none' });
  await expectRefused(await revocationFrom('null', native.client_id), 'null');
});

it('refuses a confidential client\'s calls from a browser, even from its own redirect origin', async () => {
  const basic = `Basic ${Buffer.from(`${confidential.client_id}:${confidential.client_secret}`).toString('base64')}`;
  await expectRefused(await revocationFrom(APP_ORIGIN, confidential.client_id, { authorization: basic }), APP_ORIGIN);
});

it('runs our own policy: the library never falls back to its default one (no notice)', () => {
  const said = notices.mock.calls.map((args) => args.join(' '));
  expect(said.filter((line) => line.includes('clientBasedCORS'))).toEqual([]);
});
