// With an API audience configured, a client can ask for a token for that API (RFC 8707) and gets a JWT the API
// can verify against our JWKS; other resources are refused. Each client gets only the API scopes it was
// registered for (`clients create --scope`); one registered without any gets none, and still signs users in.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { collectionName } from '../../src/oidc/adapter.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const API = 'https://api.example.test';
let server: TestServer;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer({ API_AUDIENCE: API, API_SCOPES: 'api:read api:write' });
  const rp = await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [], scope: 'api:read api:write' });
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

/** The scope an API access token carries. */
const scopeOf = (accessToken: string) => (JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()) as { scope?: string }).scope;

it('refuses a client an API scope it was not registered for (invalid_scope), and gives it the ones it was', async () => {
  const reader = await discover(server, await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [], scope: 'api:read' }));
  await expect(client.clientCredentialsGrant(reader, { resource: API, scope: 'api:read api:write' })).rejects.toMatchObject({
    error: 'invalid_scope',
    error_description: 'requested scope is not allowed',
  });
  await expect(client.clientCredentialsGrant(reader, { resource: API, scope: 'api:write' })).rejects.toMatchObject({ error: 'invalid_scope' });
  expect(scopeOf((await client.clientCredentialsGrant(reader, { resource: API, scope: 'api:read' })).access_token)).toBe('api:read');
});

it('gives a client registered without scopes no token for the API', async () => {
  const unnamed = await discover(server, await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [] }));
  await expect(client.clientCredentialsGrant(unnamed, { resource: API, scope: 'api:read' })).rejects.toMatchObject({
    error: 'invalid_target',
    error_description: 'this client is not allowed any scope of this resource',
  });
});

it('lets a client registered without scopes sign users in with every OpenID Connect scope, as before', async () => {
  const rp = await createClient(server);
  const rpConfig = await discover(server, rp);
  const user = await createUser(server);
  const start = await authorizationUrl(rpConfig, rp.redirect_uris[0]!);
  const callback = await signInAndConsent(new Browser(), start, user.username, rp.redirect_uris[0]!);
  const tokens = await client.authorizationCodeGrant(rpConfig, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);
  expect(tokens.scope?.split(' ').sort()).toEqual(['email', 'offline_access', 'openid', 'profile']);
});

it('signs a person in for the API (resource at the authorization request): consent, then a JWT for the API and the grant kept', async () => {
  // The resource's URL keys what the interaction and the grant store: a database that refuses dotted field names
  // (FerretDB, MongoDB before 5.0) got a 500 after the password.
  const rp = await createClient(server, { scope: 'openid offline_access api:read' });
  const rpConfig = await discover(server, rp);
  const user = await createUser(server);
  const start = await authorizationUrl(rpConfig, rp.redirect_uris[0]!, { scope: 'openid offline_access api:read', resource: API });
  const callback = await signInAndConsent(new Browser(), start, user.username, rp.redirect_uris[0]!);
  const tokens = await client.authorizationCodeGrant(rpConfig, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }, { resource: API });
  expect(tokens.claims()?.sub).toBe(user._id);
  const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as { aud?: string; scope?: string; sub?: string };
  expect(payload).toMatchObject({ aud: API, scope: 'api:read', sub: user._id });
  // Stored with the URL's dots escaped, and read back as the library wrote it: the grant names the API's scope.
  const grant = await server.connection.db!.collection<{ _id: string; payload: { resources?: Record<string, string> } }>(collectionName('Grant')).findOne({ 'payload.accountId': user._id });
  expect(grant?.payload.resources).toEqual({ 'https://api%2Eexample%2Etest': 'api:read' });
  const refreshed = await client.refreshTokenGrant(rpConfig, tokens.refresh_token!, { resource: API });
  expect(scopeOf(refreshed.access_token)).toBe('api:read');
});

it('refuses an API scope to a client registered without scopes, also asked for at sign-in without the resource', async () => {
  const rp = await createClient(server);
  const start = await authorizationUrl(await discover(server, rp), rp.redirect_uris[0]!, { scope: 'openid api:write' });
  const answer = await new Browser().get(start.url.href);
  expect(answer.status).toBe(303);
  const back = new URL(answer.headers.get('location')!);
  expect(back.origin + back.pathname).toBe(rp.redirect_uris[0]);
  expect(back.searchParams.get('error')).toBe('invalid_scope');
});

it('keeps serving a client whose stored scopes name one the API no longer has: that one is ignored', async () => {
  const rp = await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [], scope: 'api:read' });
  await server.connection.db!.collection(collectionName('Client')).updateOne({ _id: rp.client_id as never }, { $set: { 'payload.scope': 'api:read api:retired' } });
  const tokens = await client.clientCredentialsGrant(await discover(server, rp), { resource: API, scope: 'api:read' });
  expect(scopeOf(tokens.access_token)).toBe('api:read');
});

it('refuses, in words, a client whose scopes are all API scopes on an instance started without the API settings', async () => {
  const rp = await createClient(server, { grant_types: ['client_credentials'], redirect_uris: [], scope: 'api:read' });
  const withoutApi = await startTestServer({}, { sharedDatabase: server.dbUri });
  try {
    const answer = await fetch(`${withoutApi.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rp.client_id}:${rp.client_secret}`).toString('base64')}` },
      body: new URLSearchParams({ grant_type: 'client_credentials' }),
    });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toMatchObject({
      error: 'invalid_client_metadata',
      error_description: "none of the client's scopes (api:read) exists on this server: API scopes need the server's API_AUDIENCE and API_SCOPES",
    });
  } finally {
    await withoutApi.close();
  }
});
