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
