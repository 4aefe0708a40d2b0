// A public client (no secret) has nothing but PKCE binding its code to the app that asked for it: the CLI refuses
// to exempt one, and the provider requires PKCE of it even if the exemption is forced into the database.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createClient } from '../helpers/factories.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { collectionName } from '../../src/oidc/adapter.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const clientDocs = () => server.connection.db!.collection<{ _id: string }>(collectionName('Client'));

/** Where the provider sends the browser for an authorization request without PKCE. */
async function authorizeWithoutPkce(clientId: string): Promise<URL> {
  const params = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', redirect_uri: `${server.origin}/cb`, state: 's' });
  const response = await fetch(`${server.issuer}/auth?${params}`, { redirect: 'manual' });
  expect(response.status).toBe(303);
  return new URL(response.headers.get('location')!, server.origin);
}

it('the CLI refuses a public client exempt from PKCE, and stores nothing', async () => {
  const run = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Native', '--client-id', 'native-nopkce', '--auth-method', 'none', '--redirect-uri', 'http://localhost/cb', '--no-pkce-required']);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('a public client (auth method none) must use PKCE');
  expect(await clientDocs().countDocuments({ _id: 'native-nopkce' })).toBe(0);

  const created = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Native', '--client-id', 'native-pkce', '--auth-method', 'none', '--redirect-uri', 'http://localhost/cb']);
  expect(created.code).toBe(0);
  const update = await runAdmin(server.dbUri, ['clients', 'update', 'native-pkce', '--no-pkce-required']);
  expect(update.code).toBe(1);
  expect(update.stderr).toContain('must use PKCE');
});

it('the CLI warns when a public client skips consent (RFC 8252 §8.6)', async () => {
  const run = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Native FP', '--auth-method', 'none', '--redirect-uri', 'http://localhost/cb', '--first-party']);
  expect(run.code).toBe(0);
  expect(run.stderr).toContain('RFC 8252 §8.6');
});

it('the provider requires PKCE of a public client even with the exemption forced in the database', async () => {
  const pub = await createClient(server, { token_endpoint_auth_method: 'none' });
  await clientDocs().updateOne({ _id: pub.client_id }, { $set: { 'payload.pkce_required': false } });
  const refused = await authorizeWithoutPkce(pub.client_id);
  expect(refused.origin + refused.pathname).toBe(`${server.origin}/cb`);
  expect(refused.searchParams.get('error')).toBe('invalid_request');
  expect(refused.searchParams.get('error_description')).toMatch(/PKCE/);

  // The same stored exemption on a confidential client is honoured (the certification switch still works).
  const confidential = await createClient(server, { pkce_required: false });
  const accepted = await authorizeWithoutPkce(confidential.client_id);
  expect(accepted.pathname).toMatch(/^\/interaction\//);
});
