// Clients are served from each instance's memory, yet an admin change reaches every instance by the time the
// command returns: two instances share one database, the admin's change is made through a third connection (as
// `npm run admin` does), and both instances must answer with the change at once.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { discover } from '../helpers/rp.ts';
import { createClientRegistry, type ClientMetadata } from '../../src/admin/clients.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import type { Connection } from 'mongoose';

let first: TestServer;
let second: TestServer;
let adminConnection: Connection;
let dbReads = 0;

beforeAll(async () => {
  first = await startTestServer({}, { onCommand: ({ commandName, collection }) => void (commandName === 'find' && collection === 'oidc_client' && (dbReads += 1)) });
  // The second instance on the first one's database (a deployment with two instances).
  second = await startTestServer({}, { sharedDatabase: first.dbUri });
  adminConnection = await connectDatabase(first.dbUri);
});
afterAll(async () => {
  await adminConnection.close();
  await second.close();
  await first.close();
});

/** The registry as `npm run admin` makes it: its own connection, the servers' DATA_ENCRYPTION_KEY. */
const adminRegistry = () => createClientRegistry(adminConnection, { box: configuredSecretBox(first.config) });
const serviceClient = () => adminRegistry().create({ client_name: 'Service', grant_types: ['client_credentials'], redirect_uris: [] });
const grant = async (server: TestServer, metadata: ClientMetadata) => client.clientCredentialsGrant(await discover(server, metadata));

it('reads a client from memory after its first use', async () => {
  const created = await serviceClient();
  await grant(first, created);
  const before = dbReads;
  for (let i = 0; i < 3; i += 1) await grant(first, created);
  expect(dbReads).toBe(before);
});

it('rotate-secret takes effect on every instance by the time it returns', async () => {
  const created = await serviceClient();
  // Both instances have the client (and its secret) in memory.
  for (const server of [first, second]) await expect(grant(server, created)).resolves.toMatchObject({ access_token: expect.any(String) });
  const rotated = await adminRegistry().rotateSecret(created.client_id);
  for (const server of [first, second]) {
    await expect(grant(server, created)).rejects.toMatchObject({ error: 'invalid_client' });
    await expect(grant(server, rotated)).resolves.toMatchObject({ access_token: expect.any(String) });
  }
});

it('clients delete takes effect on every instance by the time it returns', async () => {
  const created = await serviceClient();
  for (const server of [first, second]) await grant(server, created);
  await adminRegistry().remove(created.client_id);
  for (const server of [first, second]) await expect(grant(server, created)).rejects.toMatchObject({ error: 'invalid_client' });
});
