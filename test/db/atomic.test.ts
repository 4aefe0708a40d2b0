// The claim/consume primitives and the slot limit, raced against the real local database: these are what every
// "exactly once" and "at most N" decision in Latchkey rests on.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { claim, consume, isDuplicateKey, slotsTaken, takeSlot, type ExpiringDoc } from '../../src/db/atomic.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let connection: Connection;
let commands = 0;
const collection = () => connection.db!.collection<ExpiringDoc>('race');
const inAnHour = () => new Date(Date.now() + 3600_000);

beforeAll(async () => {
  db = await openTestDatabase({ onCommand: () => (commands += 1) });
  connection = db.connection;
});
afterAll(() => db.drop());

const twenty = <T>(fn: () => Promise<T>) => Promise.all(Array.from({ length: 20 }, fn));

describe('claim', () => {
  it('gives exactly one of 20 parallel claims of one key the win', async () => {
    for (let round = 0; round < 3; round += 1) {
      const results = await twenty(() => claim(collection(), `claim-${round}`, inAnHour()));
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('reports any failure other than a taken id as an error, never as a lost race', async () => {
    // The server refuses a field name that starts with "$": that is a failure, not "someone else claimed it".
    const error = await claim(collection(), 'claim-refused', inAnHour(), { $refused: 1 }).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'MongoServerError' });
    expect((error as { code: number }).code).not.toBe(11000);
    expect(await collection().findOne({ _id: 'claim-refused' })).toBeNull();
  });

  it('tells a duplicate key from every other error', () => {
    expect(isDuplicateKey({ code: 11000 })).toBe(true);
    for (const other of [{ code: 11001 }, { code: 2 }, new Error('E11000 duplicate key'), null, undefined, 11000, 'E11000']) {
      expect(isDuplicateKey(other)).toBe(false);
    }
  });
});

describe('consume', () => {
  it('reports deletedCount 1 to exactly one of 20 parallel consumers of one document', async () => {
    for (let round = 0; round < 3; round += 1) {
      await collection().insertOne({ _id: `consume-${round}`, expiresAt: inAnHour() });
      const results = await twenty(() => consume(collection(), `consume-${round}`));
      expect(results.filter(Boolean)).toHaveLength(1);
    }
  });

  it('deletes the named document and no other', async () => {
    await collection().insertMany([{ _id: 'consume-named', expiresAt: inAnHour() }, { _id: 'consume-bystander', expiresAt: inAnHour() }]);
    expect(await consume(collection(), 'consume-named')).toBe(true);
    expect(await collection().findOne({ _id: 'consume-named' })).toBeNull();
    expect(await collection().findOne({ _id: 'consume-bystander' })).not.toBeNull();
    expect(await consume(collection(), 'consume-never-stored')).toBe(false);
    expect(await collection().findOne({ _id: 'consume-bystander' })).not.toBeNull();
  });
});

describe('takeSlot', () => {
  it('lets exactly 5 of 20 parallel tries through a limit of 5', async () => {
    const now = new Date();
    const results = await twenty(() => takeSlot(collection(), { key: 'limit:a', limit: 5, windowSeconds: 60 }, now));
    expect(results.filter((r) => r.allowed)).toHaveLength(5);
    expect(results.filter((r) => r.allowed).map((r) => r.slot).sort()).toEqual([1, 2, 3, 4, 5]);
  });

  it('opens fresh slots in the next window, and only there', async () => {
    const limit = { key: 'limit:b', limit: 2, windowSeconds: 60 };
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    expect((await takeSlot(collection(), limit, start)).allowed).toBe(true);
    expect((await takeSlot(collection(), limit, start)).allowed).toBe(true);
    const full = await takeSlot(collection(), limit, new Date(start.getTime() + 59_000));
    expect(full.allowed).toBe(false);
    expect(full.resetsAt.getTime()).toBe(start.getTime() + 60_000);
    const next = await twenty(() => takeSlot(collection(), limit, new Date(start.getTime() + 60_000)));
    expect(next.filter((r) => r.allowed)).toHaveLength(2);
  });

  it('staggered: tries just before a window ends still count just after it; any half window holds at most the limit', async () => {
    const limit = { key: 'limit:staggered', limit: 4, windowSeconds: 60, staggered: true };
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);
    const tries = async (seconds: number, count: number) => (await Promise.all(Array.from({ length: count }, () => takeSlot(collection(), limit, at(seconds))))).filter((r) => r.allowed).length;
    expect(await tries(59, 6)).toBe(4); // the budget, used up at the end of a window
    expect(await tries(61, 6)).toBe(0); // a fixed window would give 4 more here; the offset window (30 s to 90 s) is full
    expect(await tries(91, 6)).toBe(4); // both windows fresh: the refused tries at 61 spent nothing
    expect(await tries(121, 6)).toBe(0);
    // Racing tries on both sides of a window's end at once: still the limit, not twice it.
    const burst = { ...limit, key: 'limit:staggered-burst' };
    const around = await Promise.all([59.999, 60.001].flatMap((seconds) => Array.from({ length: 5 }, () => takeSlot(collection(), burst, at(seconds)))));
    expect(around.filter((r) => r.allowed).length).toBeLessThanOrEqual(4);
  });

  it('staggered: the try that fills either window is the one that reports the last slot (a burst across a window\'s end)', async () => {
    const limit = { key: `limit:staggered-last-${Date.now()}`, limit: 4, windowSeconds: 60, staggered: true };
    const start = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const at = (seconds: number) => new Date(start.getTime() + seconds * 1000);
    // Two tries before the aligned window's end, two after: the aligned windows hold 2 each, the offset one all 4.
    const slots = [];
    for (const seconds of [58, 59, 61, 62]) slots.push(await takeSlot(collection(), limit, at(seconds)));
    expect(slots.map((r) => r.allowed)).toEqual([true, true, true, true]);
    expect(slots.at(-1)).toMatchObject({ slot: 4, resetsAt: at(90) });
    expect((await takeSlot(collection(), limit, at(63))).allowed).toBe(false);
  });

  it('keeps a window\'s slots until keepUntil when later than its end, and counts a closed window\'s slots (one read when it is empty)', async () => {
    const start = new Date(Math.floor(Date.now() / 600_000) * 600_000);
    const keepUntil = new Date(start.getTime() + 90 * 60_000);
    const limit = { key: `limit:kept-${Date.now()}`, limit: 100, windowSeconds: 600, keepUntil };
    for (let i = 0; i < 3; i += 1) await takeSlot(collection(), limit, start);
    const kept = await collection().find({ _id: { $in: [1, 2, 3].map((slot) => `${limit.key}:${start.getTime() / 600_000}:${slot}`) } }).toArray();
    expect(kept.map((slot) => slot.expiresAt)).toEqual([keepUntil, keepUntil, keepUntil]);
    // A window's count is read by any time within it (the breaker reads closed windows so); the next one is empty,
    // known in one read. An expiry sooner than a window's end still wins (expiresAt).
    const later = new Date(start.getTime() + 600_000);
    expect(await slotsTaken(collection(), limit, new Date(start.getTime() + 599_000))).toBe(3);
    commands = 0;
    expect(await slotsTaken(collection(), limit, later)).toBe(0);
    expect(commands).toBe(1);
    const soon = new Date(later.getTime() + 60_000);
    expect(await takeSlot(collection(), { ...limit, expiresAt: soon }, later)).toMatchObject({ allowed: true, slot: 1 });
    expect((await collection().findOne({ _id: `${limit.key}:${later.getTime() / 600_000}:1` }))!.expiresAt).toEqual(soon);
  });

  it('keeps limits of different keys apart', async () => {
    const now = new Date();
    expect((await takeSlot(collection(), { key: 'limit:c', limit: 1, windowSeconds: 60 }, now)).allowed).toBe(true);
    expect((await takeSlot(collection(), { key: 'limit:d', limit: 1, windowSeconds: 60 }, now)).allowed).toBe(true);
    expect((await takeSlot(collection(), { key: 'limit:c', limit: 1, windowSeconds: 60 }, now)).allowed).toBe(false);
  });

  it('costs one round trip to take the first slot, two to refuse a try at a full large limit, and O(log N) to find a free slot', async () => {
    const limit = { key: 'limit:large', limit: 1000, windowSeconds: 3600 };
    const now = new Date();
    commands = 0;
    expect(await takeSlot(collection(), { ...limit, key: 'limit:empty' }, now)).toMatchObject({ allowed: true, slot: 1 });
    expect(commands).toBe(1);

    const window = Math.floor(now.getTime() / 3600_000);
    const expiresAt = new Date((window + 1) * 3600_000);
    const fill = (from: number, to: number) =>
      collection().insertMany(Array.from({ length: to - from + 1 }, (_, i) => ({ _id: `limit:large:${window}:${from + i}`, expiresAt })));
    await fill(1, 600);

    commands = 0;
    const allowed = await takeSlot(collection(), limit, now);
    expect(allowed).toMatchObject({ allowed: true, slot: 601 });
    expect(commands).toBeLessThanOrEqual(Math.ceil(Math.log2(1000)) + 3);
    expect(await slotsTaken(collection(), limit, now)).toBe(601);

    await fill(602, 1000);
    commands = 0;
    expect((await takeSlot(collection(), limit, now)).allowed).toBe(false);
    expect(commands).toBe(2);
    expect(await slotsTaken(collection(), limit, now)).toBe(1000);
  });
});
