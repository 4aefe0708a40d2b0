// A form posted twice (a double click: the browser sends both, and shows the second one's answer): the first post
// does the work; a later one waits for it to finish and reads what it left, so that it can answer as the first did
// rather than do the work again against an account the first has just changed. Claimed by a unique-_id insert
// (db/atomic.ts), so exactly one post of a form is the first, on every instance.
import { createHash } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, type ExpiringDoc } from './atomic.ts';

/** How long a post's mark lasts: well past a double click's other post and its wait. */
const MARK_MS = 60_000;
/** How long a later post waits for the first to finish (an argon2 run or three, a few writes). */
const WAIT_MS = 5000;
const POLL_MS = 50;

export interface FirstPosts<Outcome extends object> {
  /** True for the first post of the form `key` names (within a minute); false for the others. */
  claimFirst(key: string): Promise<boolean>;
  /** The first post's work is done: what it did, for the others to read. */
  settle(key: string, outcome: Outcome): Promise<void>;
  /** What the first post left, once it has finished (waiting a few seconds at most); undefined if it never does. */
  outcomeOf(key: string): Promise<Outcome | undefined>;
}

interface MarkDoc<Outcome> extends ExpiringDoc {
  outcome?: Outcome;
}

/** `collection`: where the marks live (an expiring collection the sweeper cleans). */
export function createFirstPosts<Outcome extends object>(connection: Connection, collection: string, prefix: string, clock: () => number = Date.now): FirstPosts<Outcome> {
  const marks = () => connection.db!.collection<MarkDoc<Outcome>>(collection);
  // The key may hold a form's secret (its CSRF token): stored hashed.
  const idOf = (key: string) => `${prefix}:${createHash('sha256').update(key).digest('base64url')}`;
  return {
    claimFirst: (key) => claim(marks() as never, idOf(key), new Date(clock() + MARK_MS)),
    async settle(key, outcome) {
      await marks().updateOne({ _id: idOf(key) }, { $set: { outcome } });
    },
    async outcomeOf(key) {
      const deadline = Date.now() + WAIT_MS; // real time: a test's clock may stand still
      for (;;) {
        const mark = await marks().findOne({ _id: idOf(key) });
        if (!mark || mark.outcome) return mark?.outcome;
        if (Date.now() >= deadline) return undefined;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
    },
  };
}
