// A database of its own for each test file, on the run's server.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { connectDatabase, type ConnectOptions } from '../../src/db/connection.ts';
import { withDatabase } from '../../src/db/uri.ts';
import type { EpochCache } from '../../src/db/epoch-cache.ts';

export function testDatabaseUri(): string {
  const base = process.env.LATCHKEY_TEST_MONGODB;
  if (!base) throw new Error('LATCHKEY_TEST_MONGODB is not set: run the tests through jest (test/global-setup.js)');
  return withDatabase(base, `t_${randomBytes(6).toString('hex')}`);
}

/**
 * `connectDatabase`, tried up to three times: on this 2-core machine the run's shared database, busy with another
 * file's work, can take longer than the driver's 2 s server selection to answer a new connection (CI 112 saw it once).
 */
export async function connectTestDatabase(uri: string, options: ConnectOptions = {}): Promise<Connection> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await connectDatabase(uri, options);
    } catch (error) {
      if (attempt >= 3 || (error as Error).name !== 'MongooseServerSelectionError') throw error;
    }
  }
}

export async function openTestDatabase(options: ConnectOptions = {}): Promise<{ uri: string; connection: Connection; drop(): Promise<void> }> {
  const uri = testDatabaseUri();
  const connection = await connectTestDatabase(uri, options);
  return {
    uri,
    connection,
    async drop() {
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    },
  };
}

/**
 * Resolves once `cache`, just started, has had its first poll answered, so that it trusts what it remembers: a
 * document read through it twice is then loaded once at most. A fixed wait would not do on a loaded machine.
 */
export async function untilCacheTrusted(cache: EpochCache): Promise<void> {
  for (let tries = 0; tries < 200; tries += 1) {
    let loads = 0;
    const load = () => Promise.resolve((loads += 1, { _id: 'trust-probe' }));
    await cache.find('trust-probe', load);
    await cache.find('trust-probe', load);
    if (loads <= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the cache never trusted its memory: its first poll did not answer');
}
