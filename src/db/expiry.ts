// Expiry of stored documents. Every reader checks `expiresAt` itself; this module only removes what has expired:
// with a TTL index where the server supports one (MongoDB), with a periodic sweep where it does not (FerretDB).
import type { Connection } from 'mongoose';
import type { Logger } from '../log.ts';

export interface ExpiryManager {
  /** Collections whose documents carry `expiresAt`. */
  collections: string[];
  /** True when the server refused TTL indexes and the sweeper does the cleaning. */
  sweeping: boolean;
  /** Deletes expired documents now; returns how many went. */
  sweep(now?: Date): Promise<number>;
  stop(): void;
}

export async function manageExpiry(
  connection: Connection,
  collections: string[],
  { intervalSeconds, log }: { intervalSeconds: number; log: Logger },
): Promise<ExpiryManager> {
  const db = connection.db!;
  let ttlSupported = true;
  for (const name of collections) {
    try {
      await db.collection(name).createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name: 'expiresAt_ttl' });
    } catch (error) {
      ttlSupported = false;
      log.debug({ collection: name, err: error }, 'TTL index refused; expired documents will be swept');
    }
  }

  async function sweep(now = new Date()): Promise<number> {
    let removed = 0;
    for (const name of collections) {
      const result = await db.collection(name).deleteMany({ expiresAt: { $lt: now } });
      removed += result.deletedCount;
    }
    return removed;
  }

  let timer: NodeJS.Timeout | undefined;
  if (!ttlSupported) {
    timer = setInterval(() => {
      sweep().catch((error: unknown) => log.warn({ err: error }, 'expiry sweep failed'));
    }, intervalSeconds * 1000);
    timer.unref();
  }
  return { collections, sweeping: !ttlSupported, sweep, stop: () => clearInterval(timer) };
}
