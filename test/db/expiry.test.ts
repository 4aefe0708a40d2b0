// The sweeper of expired documents on a server without TTL indexes (FerretDB, as in development and CI): it
// removes what has expired and keeps the rest, and it paces itself, so that on a large database (where each sweep
// reads a whole collection) sweeping never takes more than 1 % of the time.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { manageExpiry } from '../../src/db/expiry.ts';
import { createLogger } from '../../src/log.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { captureLog } from '../delivery/capture-log.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { startLocalDb } from '../../scripts/local-db.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

it('sweeps one collection at a time, resting 99 times as long as each sweep took, and starts a pass at most every interval', async () => {
  const now = Date.now();
  for (const name of ['expiry_a', 'expiry_b']) {
    await db.connection.db!.collection<{ _id: string; expiresAt: Date }>(name).insertMany([
      { _id: 'expired', expiresAt: new Date(now - 1000) },
      { _id: 'live', expiresAt: new Date(now + 3600_000) },
    ]);
  }
  // Every reading of the clock moves it on a second, so each collection's sweep "takes" one second.
  let clock = now;
  const steppingClock = () => (clock += 1000);
  const pauses: number[] = [];
  let fourthPause!: () => void;
  const fourPauses = new Promise<void>((resolve) => (fourthPause = resolve));
  const expiry = await manageExpiry(db.connection, ['expiry_a', 'expiry_b'], {
    intervalSeconds: 3600,
    log: createLogger('silent'),
    clock: steppingClock,
    pause: (ms) => {
      pauses.push(ms);
      if (pauses.length < 4) return Promise.resolve();
      fourthPause();
      return new Promise(() => {}); // the sweeper rests from here on
    },
  });
  try {
    expect(expiry.sweeping).toBe(true); // FerretDB refuses TTL indexes
    await fourPauses;
    // The first pass waits one interval; each sweep (one second) earns 99 seconds of rest; the next pass starts one
    // interval after this one began (five seconds earlier by the stepping clock).
    expect(pauses).toEqual([3600_000, 99_000, 99_000, 3600_000 - 5000]);
    for (const name of ['expiry_a', 'expiry_b']) {
      const left = await db.connection.db!.collection(name).find({}).toArray();
      expect(left.map((d) => d._id)).toEqual(['live']);
    }
  } finally {
    expiry.stop();
  }
});

it('says in one line, without a stack, that a sweep could not reach the database', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-expiry-'));
  const local = await startLocalDb({ dataDir, restartDelayMs: 60_000 });
  const connection = await connectDatabase(`${local.uri}/expiry_outage`);
  const { log, lines } = captureLog();
  let release!: () => void;
  const swept = new Promise<void>((resolve) => (release = resolve));
  local.kill!(); // gone before the first sweep
  const expiry = await manageExpiry(connection, ['expiry_a'], {
    intervalSeconds: 3600,
    log,
    pause: async () => {
      if (lines.some((line) => line.includes('expiry sweep failed'))) release();
    },
  }).catch((error: unknown) => error);
  try {
    await swept;
    const failure = JSON.parse(lines.find((line) => line.includes('expiry sweep failed'))!) as Record<string, unknown>;
    expect(failure).toMatchObject({ msg: 'expiry sweep failed: database unreachable', collection: 'expiry_a' });
    expect(failure.err).toBeUndefined();
    expect(JSON.stringify(failure)).not.toContain('    at ');
  } finally {
    if (!(expiry instanceof Error)) (expiry as { stop(): void }).stop();
    await connection.close().catch(() => {});
    await local.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);
