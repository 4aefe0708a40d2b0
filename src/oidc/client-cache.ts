// Registered clients, read from memory: oidc-provider looks a client up six or seven times per sign-in. A cache
// must never serve a stale secret (a rotated secret must stop working "at once"), so:
//
// - every admin change to a client writes a new random value to one epoch document (`announceClientChange`);
// - each instance reads that document about once a second and empties its cache when the value changed;
// - an instance trusts its cache only while its last successful poll started less than TRUST_MS ago; a database
//   that stops answering makes it read every client from the database again, never serve what it remembers;
// - the admin command returns only after TRUST_MS, by which time every instance that still trusts its cache has
//   polled after the change (`clientChangeSettled`);
// - a load that started before the cache was emptied is not kept, and unknown client ids are never cached (a
//   client created a moment ago is found at once, and unknown ids cannot fill memory).
//
// Changing client documents by hand in the database bypasses the epoch: restart the instances, or use the CLI.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';

/** How often an instance reads the epoch. */
export const CLIENT_POLL_MS = 1000;
/** How long after its last successful poll began an instance still trusts its cache. */
export const CLIENT_TRUST_MS = 2000;

const EPOCHS = 'cache_epochs';
const CLIENTS_EPOCH_ID = 'clients';

interface EpochDoc {
  _id: string;
  value: string;
}

const epochs = (connection: Connection) => connection.db!.collection<EpochDoc>(EPOCHS);

/** Tells every instance that clients changed: their caches empty at their next poll. */
export async function announceClientChange(connection: Connection): Promise<void> {
  await epochs(connection).replaceOne({ _id: CLIENTS_EPOCH_ID }, { value: randomBytes(12).toString('base64url') }, { upsert: true });
}

/** Resolves once no instance can still serve a client from before the last announced change. */
export function clientChangeSettled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, CLIENT_TRUST_MS + 100));
}

export interface ClientCache {
  /** The client document from memory when trusted, else from `load` (kept when it exists). */
  find<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null>;
  /** Forgets everything (this instance changed a client itself). */
  clear(): void;
  start(): void;
  stop(): void;
}

export function createClientCache(connection: Connection, { clock = Date.now, pollMs = CLIENT_POLL_MS, trustMs = CLIENT_TRUST_MS } = {}): ClientCache {
  const entries = new Map<string, object>();
  /** Bumped whenever the cache is emptied: a load that began under an older generation is not kept. */
  let generation = 0;
  let epoch: string | undefined;
  let lastGoodPollStartedAt = -Infinity;
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
    try {
      const value = (await epochs(connection).findOne({ _id: CLIENTS_EPOCH_ID }))?.value ?? '';
      if (value !== epoch) {
        clear();
        epoch = value;
      }
      lastGoodPollStartedAt = startedAt;
    } catch {
      // Not trusted any more once TRUST_MS has passed; the next poll tries again.
    } finally {
      polling = false;
    }
  }

  const trusted = () => clock() - lastGoodPollStartedAt < trustMs;

  return {
    async find<T extends object>(id: string, load: () => Promise<T | null>): Promise<T | null> {
      if (!trusted()) {
        clear();
        return load();
      }
      const cached = entries.get(id) as T | undefined;
      if (cached) return structuredClone(cached);
      const loadedUnder = generation;
      const doc = await load();
      if (doc && generation === loadedUnder && trusted()) entries.set(id, structuredClone(doc));
      return doc;
    },
    clear,
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
