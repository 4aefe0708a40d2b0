// Registered clients, read from memory (db/epoch-cache.ts explains why that never serves a stale secret).
import type { Connection } from 'mongoose';
import { announceChange, changeSettled, createEpochCache, EPOCH_POLL_MS, EPOCH_TRUST_MS, type EpochCache } from '../db/epoch-cache.ts';

export const CLIENT_POLL_MS = EPOCH_POLL_MS;
export const CLIENT_TRUST_MS = EPOCH_TRUST_MS;
export type ClientCache = EpochCache;

/** Tells every instance that clients changed: their caches empty at their next poll. */
export async function announceClientChange(connection: Connection): Promise<void> {
  await announceChange(connection, 'clients');
}

/** Resolves once no instance can still serve a client from before the last announced change. */
export const clientChangeSettled = changeSettled;

export function createClientCache(connection: Connection, options: Parameters<typeof createEpochCache>[2] = {}): ClientCache {
  return createEpochCache(connection, 'clients', options);
}
