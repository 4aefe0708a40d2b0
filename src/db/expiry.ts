// Expiry of stored documents. Every reader checks `expiresAt` itself; this module only removes what has expired:
// with a TTL index where the server supports one (MongoDB), with a paced sweep where it does not (FerretDB).
//
// Without TTL indexes a sweep filters on `expiresAt`, which FerretDB does not push down to SQL: each collection is
// read and decoded whole (measured here: 4.7 s and 7 s of server CPU for 100,000 session documents, about 18 s of
// server CPU for a deployment with 20,000 accounts). A sweep every minute would keep a core a third busy. So the
// sweeper paces itself: one collection at a time, each followed by a pause 99 times as long as its sweep took
// (sweeping takes at most 1 % of the time, however large the database), and a new pass at most every
// `intervalSeconds`. Nothing depends on how soon expired documents go; they read as absent from the moment they
// expire.
import type { Connection } from 'mongoose';
import type { Logger } from '../log.ts';
import { warnBackgroundFailure } from './unavailable.ts';

/** The most of the time sweeping may take: after a sweep of T ms, the sweeper rests T × (1 ÷ share − 1). */
const SWEEP_SHARE = 0.01;
/** A collection sweep that takes longer than this is logged (with the pause it earns). */
const SLOW_SWEEP_MS = 1000;

export interface ExpiryManager {
  /** Collections whose documents carry `expiresAt`. */
  collections: string[];
  /** True when the server refused TTL indexes and the sweeper does the cleaning. */
  sweeping: boolean;
  /** Deletes expired documents now, from every collection at once; returns how many went. */
  sweep(now?: Date): Promise<number>;
  stop(): void;
}

export interface ExpiryOptions {
  intervalSeconds: number;
  log: Logger;
  /** Now, in milliseconds (tests step it). */
  clock?: () => number;
  /** Waits `ms` without keeping the process alive (tests record it instead). */
  pause?: (ms: number) => Promise<void>;
}

const unrefPause = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

export async function manageExpiry(connection: Connection, collections: string[], { intervalSeconds, log, clock = Date.now, pause = unrefPause }: ExpiryOptions): Promise<ExpiryManager> {
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

  const sweepOne = async (name: string, now: Date) => (await db.collection(name).deleteMany({ expiresAt: { $lt: now } })).deletedCount;

  async function sweep(now = new Date()): Promise<number> {
    let removed = 0;
    for (const name of collections) removed += await sweepOne(name, now);
    return removed;
  }

  let stopped = false;
  async function pacedSweeps(): Promise<void> {
    const intervalMs = intervalSeconds * 1000;
    await pause(intervalMs);
    while (!stopped) {
      const passStarted = clock();
      for (const name of collections) {
        if (stopped) return;
        const started = clock();
        await sweepOne(name, new Date(started)).catch((error: unknown) => warnBackgroundFailure(log, error, 'expiry sweep', { collection: name }));
        const took = clock() - started;
        const rest = took * (1 / SWEEP_SHARE - 1);
        if (took > SLOW_SWEEP_MS) log.info({ collection: name, sweepMs: Math.round(took), pauseMs: Math.round(rest) }, 'slow expiry sweep; pausing');
        await pause(rest);
      }
      await pause(Math.max(0, passStarted + intervalMs - clock()));
    }
  }

  if (!ttlSupported) void pacedSweeps();
  return {
    collections,
    sweeping: !ttlSupported,
    sweep,
    stop: () => {
      stopped = true;
    },
  };
}
