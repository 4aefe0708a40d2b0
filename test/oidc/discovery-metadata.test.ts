// Discovery advertises what Latchkey actually does: only the client authentication methods a client can be
// registered for, at every endpoint that authenticates clients.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CLIENT_AUTH_METHODS, ID_TOKEN_ALGS } from '../../src/oidc/client-rules.ts';

let server: TestServer;
let document: Record<string, unknown>;
beforeAll(async () => {
  server = await startTestServer();
  document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
});
afterAll(() => server.close());

it('advertises exactly the client authentication methods the registry accepts, and no JWT assertion algorithms', () => {
  expect(document.token_endpoint_auth_methods_supported).toEqual([...CLIENT_AUTH_METHODS]);
  expect(document).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
});

it('advertises as ID token signing algorithms only those it holds keys for, not the library defaults', () => {
  expect([...(document.id_token_signing_alg_values_supported as string[])].sort()).toEqual([...ID_TOKEN_ALGS].sort());
});

it('advertises for introspection and revocation the methods that authenticate clients as the token endpoint does (introspection without `none`)', () => {
  expect(document.introspection_endpoint_auth_methods_supported).toEqual(CLIENT_AUTH_METHODS.filter((method) => method !== 'none'));
  expect(document.revocation_endpoint_auth_methods_supported).toEqual([...CLIENT_AUTH_METHODS]);
});

it('does not read a client assertion at the token endpoint', async () => {
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln',
    }),
  });
  expect(response.status).toBe(400);
  expect(await response.json()).toMatchObject({ error: 'invalid_request', error_description: 'no client authentication mechanism provided' });
});
