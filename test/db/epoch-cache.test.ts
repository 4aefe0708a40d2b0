// The epoch cache stops trusting what it remembers once its last good poll is older than the trust window, by the
// time that has really passed: a wall clock stepped back (NTP) must not keep old copies trusted, nor a suspend that
// the monotonic clock did not see.
import { afterAll, beforeAll, expect, it, jest } from '@jest/globals';
import { createEpochCache, EPOCH_TRUST_MS } from '../../src/db/epoch-cache.ts';
import { openTestDatabase, untilCacheTrusted } from '../helpers/database.ts';

let database: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  database = await openTestDatabase();
});
afterAll(() => database.drop());

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `cache` (one poll, none after it, as when the database stops answering the polls) and reads one client
 * through it twice: the second read is served from memory. `loadsAfterAnotherRead` reads it once more and says how
 * many times it came from the database in all.
 */
async function trustedCache(cache: ReturnType<typeof createEpochCache>): Promise<{ loadsAfterAnotherRead(): Promise<number> }> {
  cache.start();
  await untilCacheTrusted(cache);
  let loads = 0;
  const load = () => Promise.resolve((loads += 1, { _id: 'client-1', secret: 'old' }));
  await cache.find('client-1', load);
  await cache.find('client-1', load);
  expect(loads).toBe(1); // trusted: served from memory
  return {
    async loadsAfterAnotherRead() {
      await cache.find('client-1', load);
      return loads;
    },
  };
}

it('reads from the database again once the trust window has passed without a poll, even with the wall clock stepped back', async () => {
  // The wall clock as everything sees it from the start, so a cache that read it would be fooled when it steps.
  const realNow = Date.now.bind(Date);
  let step = 0;
  const wallClock = jest.spyOn(Date, 'now').mockImplementation(() => realNow() + step);
  const cache = createEpochCache(database.connection, 'clients', { pollMs: 3_600_000 });
  try {
    const reads = await trustedCache(cache);
    step = -60_000;
    await later(EPOCH_TRUST_MS + 200);
    expect(await reads.loadsAfterAnotherRead()).toBe(2);
  } finally {
    wallClock.mockRestore();
    cache.stop();
  }
});

it('stops trusting what it remembers after the machine was suspended: the monotonic clock stood still, the wall clock did not', async () => {
  let monotonic = 1_000;
  let wall = Date.UTC(2026, 0, 1);
  const cache = createEpochCache(database.connection, 'clients', { pollMs: 3_600_000, clock: () => monotonic, wallClock: () => wall });
  try {
    const reads = await trustedCache(cache);
    monotonic += 10; // what the process saw of a suspend…
    wall += 60_000; // …that lasted a minute
    expect(await reads.loadsAfterAnotherRead()).toBe(2);
  } finally {
    cache.stop();
  }
});
