// Signing keys shared through the database: instances starting together agree on one set.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createKeyStore } from '../../src/oidc/keys.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

it('creates exactly one ES256 and one RS256 key when five instances start at once on an empty database', async () => {
  const loaded = await Promise.all(Array.from({ length: 5 }, () => createKeyStore(db.connection).loadJwks()));
  const kids = loaded.map((jwks) => jwks.keys.map((k) => k.kid).sort().join(','));
  expect(new Set(kids).size).toBe(1);
  expect(loaded[0]!.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
  expect(await db.connection.db!.collection('signing_keys').countDocuments()).toBe(2);
});
