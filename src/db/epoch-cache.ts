// Documents read from memory across requests, never served stale for more than a moment: registered clients
// (oidc-provider looks a client up six or seven times per sign-in) and accounts (every token use, userinfo and
// consent page checks that the account is still active). Each kind has an epoch document:
//
// - every change writes a new random value to the kind's epoch document (`announceChange`, or `changed()` from
//   an instance that made the change itself and empties its own cache at once);
// - each instance reads that document about once a second and empties its cache when the value changed;
// - an instance trusts its cache only while its last successful poll started less than TRUST_MS ago; a database
//   that stops answering makes it read every document from the database again, never serve what it remembers;
// - an admin command returns only after TRUST_MS (`changeSettled`), by which time every instance that still trusts
//   its cache has polled after the change: "rotate-secret takes effect at once" holds for the whole deployment;
// - a load that started before the cache was emptied is not kept, and ids that do not exist are never cached (a
//   document created a moment ago is found at once, and unknown ids cannot fill memory);
// - no copy is served once it is MAX_AGE_MS old, whatever the epoch says.
//
// Changing such documents by hand in the database bypasses the epoch: restart the instances, or use the CLI.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { copyDocument } from './copy.ts';

/** How often an instance reads the epoch. */
export const EPOCH_POLL_MS = 1000;
/** How long after its last successful poll began an instance still trusts its cache. */
export const EPOCH_TRUST_MS = 2000;
/**
 * The oldest copy ever served. The epoch is what keeps copies current; this bounds the harm of an announcement
 * that was lost (its write failed after the change itself was made).
 */
const MAX_AGE_MS = 30_000;

export const EPOCHS = 'cache_epochs';

/** What is cached: each kind has its own epoch document. */
export type CachedKind = 'clients' | 'accounts';

interface EpochDoc {
  _id: string;
  value: string;
}

const epochs = (connection: Connection) => connection.db!.collection<EpochDoc>(EPOCHS);

/** Tells every instance that documents of this kind changed: their caches empty at their next poll. The new value. */
export async function announceChange(connection: Connection, kind: CachedKind): Promise<string> {
  const value = randomBytes(12).toString('base64url');
  await epochs(connection).replaceOne({ _id: kind }, { value }, { upsert: true });
  return value;
}

/** Resolves once no instance can still serve a document from before the last announced change. */
export function changeSettled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, EPOCH_TRUST_MS + 100));
}

/**
 * Resolves once no instance can still serve a copy it loaded before now, even if the announcement of a change made
 * now was lost (MAX_AGE_MS).
 */
export function copiesOutlived(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, COPIES_OUTLIVED_MS));
}

/** How long after a change no instance can still serve a copy from before it, whatever was announced. */
export const COPIES_OUTLIVED_MS = MAX_AGE_MS + 100;

export interface EpochCache {
  /** The document from memory when trusted, else from `load` (kept when it exists). */
  find<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null>;
  /** The document from `load` always (a caller that must not act on a stale copy), kept for later `find`s. */
  fresh<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null>;
  /** Forgets everything (this instance changed a document itself; the others hear of it through `changed`). */
  clear(): void;
  /** This instance changed a document: empties its cache now and announces the change to the others. */
  changed(): Promise<void>;
  start(): void;
  stop(): void;
}

export function createEpochCache(
  connection: Connection,
  kind: CachedKind,
  // Two clocks, and the window is trusted only while both say it is open. The monotonic one cannot be stretched by a
  // wall clock stepped back (NTP); but it stands still while the machine is suspended (Linux), and the wall clock
  // does not: after a resume, when changes may have been announced and admin commands may have returned, the last
  // poll is old by the wall clock.
  { clock = () => performance.now(), wallClock = () => Date.now(), pollMs = EPOCH_POLL_MS, trustMs = EPOCH_TRUST_MS } = {},
): EpochCache {
  const entries = new Map<string, { doc: object; loadedAt: number }>();
  /** Bumped whenever the cache is emptied: a load that began under an older generation is not kept. */
  let generation = 0;
  let epoch: string | undefined;
  let lastGoodPollStartedAt = -Infinity;
  let lastGoodPollStartedAtWall = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let polling = false;

  function clear(): void {
    entries.clear();
    generation += 1;
  }

  async function poll(): Promise<void> {
    if (polling) return;
    polling = true;
    const startedAt = clock();
    const startedAtWall = wallClock();
    try {
      const value = (await epochs(connection).findOne({ _id: kind }))?.value ?? '';
      if (value !== epoch) {
        clear();
        epoch = value;
      }
      lastGoodPollStartedAt = startedAt;
      lastGoodPollStartedAtWall = startedAtWall;
    } catch {
      // Not trusted any more once TRUST_MS has passed; the next poll tries again.
    } finally {
      polling = false;
    }
  }

  const trusted = () => clock() - lastGoodPollStartedAt < trustMs && wallClock() - lastGoodPollStartedAtWall < trustMs;

  async function fresh<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null> {
    const loadedUnder = generation;
    // Aged from when the read began: what it returns may be as old as that (MAX_AGE_MS bounds a copy's age).
    const readAt = clock();
    const doc = await load();
    if (doc && generation === loadedUnder && trusted()) entries.set(id, { doc: copyDocument(doc), loadedAt: readAt });
    return doc;
  }

  return {
    async find<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null> {
      if (!trusted()) {
        clear();
        return load();
      }
      const cached = entries.get(id);
      if (cached && clock() - cached.loadedAt < MAX_AGE_MS) return copyDocument(cached.doc as T);
      return fresh(id, load);
    },
    fresh,
    clear,
    async changed() {
      clear();
      // The new value is not adopted as seen: another change announced at the same moment could be overwritten by
      // ours, and only the next poll's second emptying makes sure nothing loaded meanwhile outlives it.
      await announceChange(connection, kind);
    },
    start() {
      if (timer) return;
      void poll();
      timer = setInterval(() => void poll(), pollMs);
      timer.unref();
    },
    stop() {
      clearInterval(timer);
      timer = undefined;
    },
  };
}
