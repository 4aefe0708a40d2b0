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

const DUPLICATE_KEY = 11000;

export function isDuplicateKey(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as mongo.MongoServerError).code === DUPLICATE_KEY;
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
export async function consume(collection: Collection<ExpiringDoc>, id: string): Promise<boolean> {
  const result = await collection.deleteOne({ _id: id });
  return result.deletedCount === 1;
}

export interface SlotLimit {
  /** What is limited, e.g. "signin-failure:user:42". */
  key: string;
  /** How many tries a window allows. */
  limit: number;
  /** Length of a fixed window in seconds. */
  windowSeconds: number;
}

export interface SlotResult {
  allowed: boolean;
  /** The slot number taken (1..limit) when allowed. */
  slot?: number;
  /** When the current window ends (and new slots open). */
  resetsAt: Date;
}

/**
 * Fixed-window limit built on `claim`: a window has `limit` slots with ids `<key>:<window>:<k>`; a try claims the
 * first free one. The window number is part of the id, so a new window has fresh slots and old slots are only ever
 * swept, never reused (reusing one would race on FerretDB).
 */
export async function takeSlot(
  collection: Collection<ExpiringDoc>,
  { key, limit, windowSeconds }: SlotLimit,
  now: Date = new Date(),
): Promise<SlotResult> {
  const windowMs = windowSeconds * 1000;
  const window = Math.floor(now.getTime() / windowMs);
  const resetsAt = new Date((window + 1) * windowMs);
  for (let slot = 1; slot <= limit; slot += 1) {
    if (await claim(collection, `${key}:${window}:${slot}`, resetsAt)) return { allowed: true, slot, resetsAt };
  }
  return { allowed: false, resetsAt };
}
