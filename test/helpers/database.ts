// A database of its own for each test file, on the run's server.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { connectDatabase, type ConnectOptions } from '../../src/db/connection.ts';
import { withDatabase } from '../../src/db/uri.ts';

export function testDatabaseUri(): string {
  const base = process.env.LATCHKEY_TEST_MONGODB;
  if (!base) throw new Error('LATCHKEY_TEST_MONGODB is not set: run the tests through jest (test/global-setup.js)');
  return withDatabase(base, `t_${randomBytes(6).toString('hex')}`);
}

export async function openTestDatabase(options: ConnectOptions = {}): Promise<{ uri: string; connection: Connection; drop(): Promise<void> }> {
  const uri = testDatabaseUri();
  const connection = await connectDatabase(uri, options);
  return {
    uri,
    connection,
    async drop() {
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    },
  };
}
