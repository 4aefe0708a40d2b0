// Discovery advertises what Latchkey actually does: only the client authentication methods a client can be
// registered for, at every endpoint that authenticates clients, and the assertion algorithms private_key_jwt takes.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { hmacJwt } from '../helpers/jwt.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CLIENT_ASSERTION_ALGS, CLIENT_AUTH_METHODS, ID_TOKEN_ALGS } from '../../src/oidc/client-rules.ts';
import { createClient } from '../helpers/factories.ts';

let server: TestServer;
let document: Record<string, unknown>;
beforeAll(async () => {
  server = await startTestServer();
  document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
});
afterAll(() => server.close());

it('advertises exactly the client authentication methods the registry accepts, and only asymmetric JWT assertion algorithms', () => {
  expect(document.token_endpoint_auth_methods_supported).toEqual([...CLIENT_AUTH_METHODS]);
  expect(document.token_endpoint_auth_signing_alg_values_supported).toEqual([...CLIENT_ASSERTION_ALGS]);
  expect(document.token_endpoint_auth_signing_alg_values_supported).not.toContain('HS256');
  // And for the other endpoints that take them (RFC 8414 §2: required once private_key_jwt is listed there).
  expect(document.introspection_endpoint_auth_signing_alg_values_supported).toEqual([...CLIENT_ASSERTION_ALGS]);
  expect(document.revocation_endpoint_auth_signing_alg_values_supported).toEqual([...CLIENT_ASSERTION_ALGS]);
});

it('advertises as ID token signing algorithms only those it holds keys for, not the library defaults', () => {
  expect([...(document.id_token_signing_alg_values_supported as string[])].sort()).toEqual([...ID_TOKEN_ALGS].sort());
});

it('advertises for introspection and revocation the methods that authenticate clients as the token endpoint does (introspection without `none`)', () => {
  expect(document.introspection_endpoint_auth_methods_supported).toEqual(CLIENT_AUTH_METHODS.filter((method) => method !== 'none'));
  expect(document.revocation_endpoint_auth_methods_supported).toEqual([...CLIENT_AUTH_METHODS]);
});

it('takes no client assertion from a client registered for a secret, not even one signed with that secret (client_secret_jwt)', async () => {
  const secretClient = await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [] });
  const claims = { iss: secretClient.client_id, sub: secretClient.client_id, aud: server.issuer, jti: 'j1', exp: Math.floor(Date.now() / 1000) + 60 };
  const assertion = hmacJwt({ alg: 'HS256' }, claims, secretClient.client_secret!);
  const response = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  expect(response.status).toBe(401);
  expect(await response.json()).toMatchObject({ error: 'invalid_client' });
});
