// The only two operations that decide "exactly once" and "at most N", because they are atomic on every
// MongoDB-compatible server, FerretDB included (see README, "Storage rules"):
//
//   claim   — insert a document with a chosen `_id`; of many racers exactly one insert succeeds.
//   consume — deleteOne({ _id }); exactly one racer sees deletedCount === 1.
//
// Conditional updates ($inc with a filter, findOneAndUpdate, compare-and-set) are NOT atomic on FerretDB and must
// never decide a security question.
import type { mongo } from 'mongoose';

type Collection<T extends mongo.Document> = mongo.Collection<T>;

export interface ExpiringDoc {
  _id: string;
  expiresAt: Date;
  [field: string]: unknown;
}

/** The `expiresAt` of what never expires (secrets, aliases, epochs): the date only satisfies the shared shape. */
export const NEVER_EXPIRES = new Date('9999-12-31T00:00:00Z');

const DUPLICATE_KEY = 11000;

export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as mongo.MongoServerError).code === DUPLICATE_KEY;
}

/**
 * Runs an upsert by `_id` again when it fails with a duplicate key. FerretDB's upsert is a read then an insert, so
 * two first writes of one document at once can fail that way (MongoDB retries such an upsert itself). Only for
 * writes that are safe to repeat (upserts and replacements by `_id`), never for a claim.
 */
export async function upsertRetryingDuplicateKey<T>(write: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await write();
    } catch (error) {
      if (!isDuplicateKey(error) || attempt >= tries) throw error;
    }
  }
}

/** Inserts `{_id: id}`; true for the one caller whose insert won, false for everyone else. */
export async function claim(
  collection: Collection<ExpiringDoc>,
  id: string,
  expiresAt: Date,
  fields: Record<string, unknown> = {},
): Promise<boolean> {
  try {
    await collection.insertOne({ ...fields, _id: id, expiresAt });
    return true;
  } catch (error) {
    if (isDuplicateKey(error)) return false;
    throw error;
  }
}

/** Deletes `{_id: id}`; true for the one caller that removed it. */
export async function consume<T extends ExpiringDoc>(collection: Collection<T>, id: string): Promise<boolean> {
  const result = await collection.deleteOne({ _id: id } as mongo.Filter<T>);
  return result.deletedCount === 1;
}

export interface SlotLimit {
  /** What is limited, e.g. "signin-failure:user:42". */
  key: string;
  /** How many tries a window allows. */
  limit: number;
  /** Length of a fixed window in seconds. */
  windowSeconds: number;
  /**
   * Also counts the try in a second grid of windows, offset by half a window, and refuses it when either is full: a
   * fixed window alone gives a burst across its end two budgets within seconds (two daily budgets at midnight);
   * with both, any span of half a window holds at most `limit` tries. Claims decide both; nothing is estimated.
   */
  staggered?: boolean;
  /**
   * When a claimed slot's document expires, if sooner than its window's end (or `keepUntil`): a slot taken on trust, which the caller
   * keeps (`keepSlot`, a later expiry) once the try must count for longer. Slots not kept expire
   * before the others, and a gap they leave is taken again: one more try each. Only for keys abandoned as a rule when
   * a try is not kept (accounts/lockout.ts: a right password moves the account to a new epoch).
   */
  expiresAt?: Date;
  /**
   * When a window's slots expire, if later than its end: for counts read after their window has closed (the SMS
   * pumping breaker judges windows whose codes have all expired). Kept longer, a slot is still never reused.
   */
  keepUntil?: Date;
}

export interface SlotResult {
  allowed: boolean;
  /** The slot number taken (1..limit) when allowed; for a staggered limit, in the fuller of its two windows. */
  slot?: number;
  /** The `_id` of the slot taken, when allowed (for a staggered limit, the aligned window's): what `keepSlot` keeps. */
  id?: string;
  /** When the current window ends (and new slots open); for a staggered limit, the window `slot` is in. */
  resetsAt: Date;
}

/**
 * Fixed-window limit built on `claim` (in two staggered grids when asked: see `staggered`): a window has `limit`
 * slots with ids `<key>:<window>:<k>`; a try claims the first free one. The window number is part of the id, so a
 * new window has fresh slots and old slots are only ever swept, never reused (reusing one would race on FerretDB).
 *
 * Slots are claimed in order and a window's slots expire together (unless taken on trust: `expiresAt`), so the
 * taken ones always form a prefix 1..m.
 * The first slot is claimed straight away (an empty window costs one insert); otherwise a full window is seen with
 * one read (slot `limit` exists), and the first free slot is found by a binary search of O(log limit) reads; only
 * then do claims decide, so racers that lose a slot simply try the next one.
 */
export async function takeSlot(collection: Collection<ExpiringDoc>, limit: SlotLimit, now: Date = new Date()): Promise<SlotResult> {
  if (!limit.staggered) return takeFixedSlot(collection, limit, now);
  const halfMs = (limit.windowSeconds * 1000) / 2;
  // The offset grid: its own keys, its windows starting half a window later.
  const offset = slotWindow(`${limit.key}:offset`, limit.windowSeconds, new Date(now.getTime() + halfMs));
  const refused = { allowed: false, resetsAt: new Date(offset.resetsAt.getTime() - halfMs) };
  // An offset window already full refuses before the aligned one is spent on a try that cannot pass (racing tries
  // may still spend one: a refusal never lets more through, only fewer).
  if (await isTaken(collection, offset.slotId(limit.limit))) return refused;
  const aligned = await takeFixedSlot(collection, limit, now);
  if (!aligned.allowed) return aligned;
  const shifted = await takeFixedSlot(collection, { ...limit, key: `${limit.key}:offset` }, new Date(now.getTime() + halfMs));
  if (!shifted.allowed) return refused;
  // The try's place in the fuller of its two windows: the try that fills either one is the one that uses up the
  // budget (a burst across the aligned window's end fills only the offset window).
  return shifted.slot! > aligned.slot! ? { allowed: true, slot: shifted.slot!, resetsAt: refused.resetsAt } : aligned;
}

async function takeFixedSlot(collection: Collection<ExpiringDoc>, { key, limit, windowSeconds, expiresAt, keepUntil }: SlotLimit, now: Date): Promise<SlotResult> {
  const { slotId, resetsAt } = slotWindow(key, windowSeconds, now);
  const kept = keepUntil && keepUntil > resetsAt ? keepUntil : resetsAt;
  const take = async (slot: number): Promise<SlotResult | undefined> =>
    (await claim(collection, slotId(slot), expiresAt && expiresAt < kept ? expiresAt : kept)) ? { allowed: true, slot, id: slotId(slot), resetsAt } : undefined;
  // Most windows are empty when a try arrives (a sign-in with no recent failures, a first code): the first slot's
  // claim alone decides those, in one round trip.
  const first = await take(1);
  if (first) return first;
  if (limit === 1 || (await isTaken(collection, slotId(limit)))) return { allowed: false, resetsAt };
  for (let slot = await firstFree(collection, slotId, limit); slot <= limit; slot += 1) {
    const taken = await take(slot);
    if (taken) return taken;
  }
  return { allowed: false, resetsAt };
}

/**
 * Keeps a slot taken on trust (`SlotLimit.expiresAt`) until `until`: the try it counted must count that long. A
 * plain write by `_id`, deciding nothing: the claim has decided already.
 */
export async function keepSlot(collection: Collection<ExpiringDoc>, slot: SlotResult, until: Date): Promise<void> {
  if (slot.id) await collection.updateOne({ _id: slot.id }, { $set: { expiresAt: until } });
}

/**
 * How many slots of the window holding `now` are taken (0..limit), in O(log limit) reads (one for an empty window
 * whose slots all expire together); nothing is claimed.
 */
export async function slotsTaken(collection: Collection<ExpiringDoc>, { key, limit, windowSeconds, expiresAt }: SlotLimit, now: Date = new Date()): Promise<number> {
  const { slotId } = slotWindow(key, windowSeconds, now);
  // Slots taken on trust (`expiresAt`) may lapse before later ones that were kept: a free first slot proves nothing.
  if (!expiresAt && !(await isTaken(collection, slotId(1)))) return 0;
  return (await firstFree(collection, slotId, limit)) - 1;
}

/**
 * Whether a try now would be refused (every slot of the window taken; for a staggered limit, of either window),
 * without claiming anything: one read, two when staggered. A hint only (a racing try may take the last slot just
 * after): for sparing work that could not count, never for letting a try through.
 */
export async function slotsFull(collection: Collection<ExpiringDoc>, { key, limit, windowSeconds, staggered }: SlotLimit, now: Date = new Date()): Promise<boolean> {
  if (await isTaken(collection, slotWindow(key, windowSeconds, now).slotId(limit))) return true;
  if (!staggered) return false;
  const halfMs = (windowSeconds * 1000) / 2;
  return isTaken(collection, slotWindow(`${key}:offset`, windowSeconds, new Date(now.getTime() + halfMs)).slotId(limit));
}

function slotWindow(key: string, windowSeconds: number, now: Date) {
  const windowMs = windowSeconds * 1000;
  const window = Math.floor(now.getTime() / windowMs);
  return { slotId: (slot: number) => `${key}:${window}:${slot}`, resetsAt: new Date((window + 1) * windowMs) };
}

async function isTaken(collection: Collection<ExpiringDoc>, id: string): Promise<boolean> {
  return (await collection.findOne({ _id: id }, { projection: { _id: 1 } })) !== null;
}

/** The first slot not taken (limit + 1 when all are), by binary search over the taken prefix. */
async function firstFree(collection: Collection<ExpiringDoc>, slotId: (slot: number) => string, limit: number): Promise<number> {
  let low = 1;
  let high = limit + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (await isTaken(collection, slotId(middle))) low = middle + 1;
    else high = middle;
  }
  return low;
}
