// With an API audience configured, a client can ask for a token for that API (RFC 8707) and gets a JWT the API
// can verify against our JWKS; other resources are refused.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { createClient } from '../helpers/factories.ts';
import { discover } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const API = 'https://api.example.test';
let server: TestServer;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer({ API_AUDIENCE: API, API_SCOPES: 'api:read api:write' });
  const rp = await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [] });
  config = await discover(server, rp);
});
afterAll(() => server.close());

it('issues a JWT access token for the configured API with its audience and scope', async () => {
  const tokens = await client.clientCredentialsGrant(config, { resource: API, scope: 'api:read' });
  const [header, payload] = tokens.access_token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()));
  expect(header.typ).toBe('at+jwt');
  expect(payload.aud).toBe(API);
  expect(payload.scope).toBe('api:read');
  expect(payload.iss).toBe(server.issuer);
});

it('refuses an unknown resource', async () => {
  await expect(client.clientCredentialsGrant(config, { resource: 'https://elsewhere.example.test', scope: 'api:read' })).rejects.toMatchObject({
    error: 'invalid_target',
  });
});
