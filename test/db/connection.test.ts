// The connection reads from the primary whatever MONGODB_URI says: the caches' epoch polls, single-use claims and
// limits must see the latest writes, and a secondary may lag.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { connectDatabase } from '../../src/db/connection.ts';
import { openTestDatabase } from '../helpers/database.ts';

let database: Awaited<ReturnType<typeof openTestDatabase>>;
let connection: Connection | undefined;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(async () => {
  await connection?.close();
  await database.drop();
});

it('reads from the primary even when MONGODB_URI asks for secondaries', async () => {
  const uri = new URL(database.uri);
  uri.searchParams.set('readPreference', 'secondaryPreferred');
  connection = await connectDatabase(uri.href);
  expect(connection.getClient().readPreference.mode).toBe('primary');
  expect(connection.db!.readPreference.mode).toBe('primary');
});
