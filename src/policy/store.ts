// The policy as stored: only an admin's overrides live in MongoDB (`policy`, `_id: "recovery"`); defaults stay in
// code. Instances re-read the document at most every CACHE_SECONDS, so a change applies everywhere within that
// time, without a restart (README, "Recovery policy").
import type { Connection } from 'mongoose';
import { resolvePolicy, type RecoveryPolicy } from './policy.ts';

export const POLICY_COLLECTION = 'policy';
const POLICY_ID = 'recovery';
export const POLICY_CACHE_SECONDS = 5;

interface PolicyDoc {
  _id: string;
  overrides: Record<string, unknown>;
  updatedAt: Date;
}

export interface PolicyStore {
  /** The policy in force (cached for a few seconds). */
  current(): Promise<RecoveryPolicy>;
  /** The stored overrides only. */
  overrides(): Promise<Record<string, unknown>>;
  /** Replaces the stored overrides after validating the policy they make; returns that policy. */
  save(overrides: Record<string, unknown>): Promise<RecoveryPolicy>;
}

export function createPolicyStore(connection: Connection, clock: () => number = Date.now): PolicyStore {
  const docs = connection.db!.collection<PolicyDoc>(POLICY_COLLECTION);
  let cached: { policy: RecoveryPolicy; until: number } | undefined;

  async function overrides() {
    return (await docs.findOne({ _id: POLICY_ID }))?.overrides ?? {};
  }

  return {
    async current() {
      if (cached && cached.until > clock()) return cached.policy;
      const policy = resolvePolicy(await overrides());
      cached = { policy, until: clock() + POLICY_CACHE_SECONDS * 1000 };
      return policy;
    },
    overrides,
    async save(next) {
      const policy = resolvePolicy(next); // refuse before storing anything
      await docs.replaceOne({ _id: POLICY_ID }, { overrides: next, updatedAt: new Date(clock()) }, { upsert: true });
      cached = undefined;
      return policy;
    },
  };
}
