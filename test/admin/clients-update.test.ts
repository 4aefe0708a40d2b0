// `clients update` writes only the fields it changes: a secret replaced by `rotate-secret` between its read and its
// write can never be written back.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { openTestDatabase } from '../helpers/database.ts';
import { randomBytes } from 'node:crypto';
import { createClientRegistry, type ClientRegistry } from '../../src/admin/clients.ts';
import { createSecretBox } from '../../src/security/encryption.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let registry: ClientRegistry;
let recording: Array<{ commandName: string; command: Record<string, unknown> }> | undefined;

beforeAll(async () => {
  db = await openTestDatabase({ onCommand: (event) => recording?.push(event) });
  registry = createClientRegistry(db.connection, { box: createSecretBox(randomBytes(32)) });
});
afterAll(() => db.drop());

async function writesOf(action: () => Promise<unknown>) {
  recording = [];
  await action();
  // Writes to the clients themselves (each change also announces itself to the other instances' caches).
  const writes = recording.filter((c) => ['update', 'insert', 'delete', 'findAndModify'].includes(c.commandName) && c.command[c.commandName] === 'oidc_client');
  recording = undefined;
  return writes;
}

it('sends only the changed fields, never the secret (so a concurrent rotate-secret cannot be undone)', async () => {
  const created = await registry.create({ client_name: 'Wiki', redirect_uris: ['https://wiki.example/cb'] });
  const writes = await writesOf(() => registry.update(created.client_id, { client_name: 'Wiki 2' }));
  expect(writes).toHaveLength(1);
  const [statement] = (writes[0]!.command.updates as Array<{ u: Record<string, unknown> }>);
  expect(statement!.u).toEqual({ $set: { 'payload.client_name': 'Wiki 2' } });
  expect(JSON.stringify(writes)).not.toContain('client_secret'); // neither the secret nor its sealed form
  const rotated = await registry.rotateSecret(created.client_id);
  await registry.update(created.client_id, { first_party: true });
  expect(await registry.revealSecret(created.client_id)).toBe(rotated.client_secret);
});

it('hands over a new secret as soon as it is stored, before the wait for every instance: an interrupted wait loses no secret', async () => {
  const box = createSecretBox(randomBytes(32));
  // The wait for every instance to see the change, cut short (Ctrl-C, the announcement failing).
  const interrupted = createClientRegistry(db.connection, { box, afterChange: () => Promise.reject(new Error('interrupted')) });
  const created = await interrupted.create({ client_name: 'Payroll', redirect_uris: ['https://payroll.example/cb'] });
  const shown: string[] = [];
  await expect(interrupted.rotateSecret(created.client_id, { stored: (client) => shown.push(client.client_secret!) })).rejects.toThrow('interrupted');
  expect(shown).toHaveLength(1);
  expect(await interrupted.revealSecret(created.client_id)).toBe(shown[0]);

  // A public client made confidential: its first secret, likewise.
  const native = await interrupted.create({ client_name: 'Desk', redirect_uris: ['http://127.0.0.1/cb'], application_type: 'native', token_endpoint_auth_method: 'none' });
  await expect(interrupted.update(native.client_id, { token_endpoint_auth_method: 'client_secret_basic', application_type: 'web', redirect_uris: ['https://desk.example/cb'] }, { stored: (client) => shown.push(client.client_secret!) })).rejects.toThrow('interrupted');
  expect(shown).toHaveLength(2);
  expect(await interrupted.revealSecret(native.client_id)).toBe(shown[1]);
});
