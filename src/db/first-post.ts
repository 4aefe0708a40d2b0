// A form posted twice (a double click: the browser sends both, and shows the second one's answer): the first post
// does the work; the other, the very same form, waits for it to finish and reads what it left, so that it can answer
// as the first did rather than do the work again against an account the first has just changed. A post is named by
// a keyed hash of everything it carries (the browser's CSRF token and every field), so only an identical post is a
// twin: one with any other field (another password) is a first post of its own. Claimed by a unique-_id insert
// (db/atomic.ts), so exactly one of identical posts is the first, on every instance.
import { createHmac } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from './atomic.ts';

/** How long a post's mark lasts: well past a double click's other post and its wait. */
const MARK_MS = 60_000;
/** How long a twin waits for the first to finish (an argon2 run or three, a few writes). */
const WAIT_MS = 5000;
const POLL_MS = 50;

export interface FirstPosts<Outcome extends object> {
  /** True for the first of identical posts `parts` (within a minute); false for its twins. */
  claimFirst(parts: readonly string[]): Promise<boolean>;
  /** The first post's work is done: what it did, for its twins to read. */
  settle(parts: readonly string[], outcome: Outcome): Promise<void>;
  /** What the first post left, once it has finished (waiting a few seconds at most); undefined if it never does. */
  outcomeOf(parts: readonly string[]): Promise<Outcome | undefined>;
}

interface MarkDoc<Outcome> extends ExpiringDoc {
  outcome?: Outcome;
}

/**
 * `collection`: where the marks live (an expiring collection the sweeper cleans); `key`: the HMAC key of their ids
 * (they are made of passwords, among other fields, so a copy of the database must not be able to test guesses).
 */
export function createFirstPosts<Outcome extends object>(connection: Connection, collection: string, prefix: string, key: string, clock: () => number = Date.now): FirstPosts<Outcome> {
  const marks = () => connection.db!.collection<MarkDoc<Outcome>>(collection);
  const idOf = (parts: readonly string[]) => `${prefix}:${createHmac('sha256', key).update(parts.join('\u0000')).digest('base64url')}`;
  // Expiry is checked on every read: the sweeper may leave a mark well past its time.
  const live = async (id: string) => {
    const mark = await marks().findOne({ _id: id });
    return mark && mark.expiresAt.getTime() > clock() ? mark : undefined;
  };
  const newMark = (id: string) => claim(marks() as never, id, new Date(clock() + MARK_MS));
  return {
    async claimFirst(parts) {
      const id = idOf(parts);
      if (await newMark(id)) return true;
      if (await live(id)) return false;
      // An expired mark not swept yet: gone for this post, which is a first one again (of the posts racing to remove
      // it, the one that removes it claims anew).
      return (await consume(marks(), id)) && newMark(id);
    },
    async settle(parts, outcome) {
      await marks().updateOne({ _id: idOf(parts) }, { $set: { outcome } });
    },
    async outcomeOf(parts) {
      const id = idOf(parts);
      const deadline = Date.now() + WAIT_MS; // real time: a test's clock may stand still
      for (;;) {
        const mark = await live(id);
        if (!mark || mark.outcome) return mark?.outcome;
        if (Date.now() >= deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  };
}
