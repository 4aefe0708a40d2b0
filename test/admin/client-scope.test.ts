// `clients create|update --scope`: the scopes a client may ask for, checked against the OpenID Connect scopes and
// the configured API's, and shown by `clients show` and `clients list`.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { runAdmin, type AdminRunOptions } from '../helpers/admin-cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

const API_ENV = { API_AUDIENCE: 'https://api.example.test', API_SCOPES: 'api:read api:write' };
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(API_ENV);
});
afterAll(() => server.close());

const admin = (args: string[], options: AdminRunOptions = { env: API_ENV }) => runAdmin(server.dbUri, args, options);
async function adminJson<T>(args: string[]): Promise<T> {
  const run = await admin([...args, '--json']);
  if (run.code !== 0) throw new Error(`admin ${args.join(' ')} exited with ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

it('registers a service allowed one API scope, and shows it in show and list', async () => {
  const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Reader', '--grant-type', 'client_credentials', '--scope', 'api:read']);
  expect(created.scope).toBe('api:read');
  expect((await server.clients.show(created.client_id)).scope).toBe('api:read');
  expect((await admin(['clients', 'show', created.client_id])).stdout).toMatch(/allowed scopes\s+api:read\n/);
  const listed = (await admin(['clients', 'list'])).stdout.split('\n').find((line) => line.startsWith(created.client_id));
  expect(listed).toMatch(/\sapi:read$/);
});

it('shows the default of a client registered without scopes, and changes it with update', async () => {
  const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Web', '--redirect-uri', 'https://web.example/cb']);
  expect(created.scope).toBeUndefined();
  expect((await admin(['clients', 'show', created.client_id])).stdout).toMatch(/allowed scopes\s+openid offline_access profile email \(default: no API scope\)/);
  const updated = await adminJson<ClientMetadata>(['clients', 'update', created.client_id, '--scope', 'openid  email api:write openid']);
  expect(updated.scope).toBe('openid email api:write');
  expect((await server.clients.show(created.client_id)).scope).toBe('openid email api:write');
});

it.each([
  ['an unknown scope', ['--grant-type', 'client_credentials', '--scope', 'api:read api:delete'], API_ENV, 'unknown scope api:delete'],
  ['an API scope where no API is configured', ['--grant-type', 'client_credentials', '--scope', 'api:read'], { API_AUDIENCE: undefined }, 'unknown scope api:read'],
  ['a sign-in client without openid', ['--redirect-uri', 'https://web.example/cb', '--scope', 'profile email'], API_ENV, 'needs openid in its scope'],
])('refuses %s and stores nothing', async (_name, args, env, message) => {
  const before = await server.clients.list();
  const run = await admin(['clients', 'create', '--name', 'Refused', ...args], { env });
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(message);
  expect(await server.clients.list()).toEqual(before);
});

it('refuses an empty scope as a wrong command line, and stores nothing', async () => {
  const before = await server.clients.list();
  const run = await admin(['clients', 'create', '--name', 'Refused', '--grant-type', 'client_credentials', '--scope', ' '], { env: API_ENV });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('--scope must not be empty');
  expect(await server.clients.list()).toEqual(before);
});
