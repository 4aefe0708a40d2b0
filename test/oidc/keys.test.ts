// Signing keys shared through the database: instances starting together agree on one set.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createKeyStore } from '../../src/oidc/keys.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

it('creates one active and one next key per algorithm when five instances start at once on an empty database', async () => {
  const loaded = await Promise.all(Array.from({ length: 5 }, () => createKeyStore(db.connection).loadJwks()));
  const kids = loaded.map((jwks) => jwks.keys.map((k) => k.kid).join(','));
  expect(new Set(kids).size).toBe(1);
  expect(loaded[0]!.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'ES256', 'RS256', 'RS256']);
  expect(await db.connection.db!.collection('signing_keys').countDocuments()).toBe(4);
  const states = (await createKeyStore(db.connection).list()).map((k) => `${k.alg}:${k.status}`).sort();
  expect(states).toEqual(['ES256:active', 'ES256:next', 'RS256:active', 'RS256:next']);
});

it('publishes the next keys but signs with the active ones (they come first)', async () => {
  const store = createKeyStore(db.connection);
  const { keys } = await store.loadJwks();
  const list = await store.list();
  for (const alg of ['ES256', 'RS256']) {
    const firstOfAlg = keys.find((k) => k.alg === alg)!;
    expect(list.find((k) => k.kid === firstOfAlg.kid)!.status).toBe('active');
  }
});
