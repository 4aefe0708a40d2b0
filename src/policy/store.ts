// The policy as stored: only an admin's overrides live in MongoDB (`policy`); defaults stay in code. Instances
// re-read it at most every CACHE_SECONDS, so a change applies everywhere within that time, without a restart
// (README, "Recovery policy").
//
// Every change is a new version, `recovery:v<N>`, written by an insert: `_id` is unique, so of two admins saving at
// the same moment exactly one writes version N, and the other learns that it read an old policy and applies its
// change again on top of the new one (`update`). A replace of one document (the earlier form) let the later save
// silently undo the other's change; FerretDB has no atomic compare-and-set, and the insert is the one write that
// decides. The `recovery` document is a hint: the latest version its writer knew, with its overrides (one read
// finds the policy), and a reader follows newer versions from it by `_id`, so a hint written late costs a read,
// never a change. A `recovery` document without a version (stored before versions) is version 0.
import type { Connection } from 'mongoose';
import { isDuplicateKey, upsertRetryingDuplicateKey } from '../db/atomic.ts';
import { resolvePolicy, resolveStoredPolicy, type RecoveryPolicy } from './policy.ts';

export const POLICY_COLLECTION = 'policy';
const HINT_ID = 'recovery';
export const POLICY_CACHE_SECONDS = 5;
/**
 * How many times `update` reads the policy again after another save won its version. Each retry means another
 * admin saved in the moment between this one's read and write; more than this in a row is no accident.
 */
const UPDATE_TRIES = 20;

type Overrides = Record<string, unknown>;

interface PolicyDoc {
  _id: string;
  /** Absent only on a hint stored before versions. */
  version?: number;
  overrides: Overrides;
  updatedAt: Date;
}

interface Stored {
  version: number;
  overrides: Overrides;
}

const versionId = (version: number) => `${HINT_ID}:v${version}`;

export interface PolicyStore {
  /** The policy in force (cached for a few seconds). */
  current(): Promise<RecoveryPolicy>;
  /** The stored overrides only. */
  overrides(): Promise<Overrides>;
  /** Replaces the stored overrides after validating the policy they make; returns that policy. */
  save(overrides: Overrides): Promise<RecoveryPolicy>;
  /**
   * Changes the stored overrides: `change` receives the latest (a copy of its own) and returns the next. When
   * another save lands between the read and the write, `change` runs again on the newer overrides, so neither
   * change is lost. Validated as `save` is.
   */
  update(change: (overrides: Overrides) => Overrides): Promise<{ policy: RecoveryPolicy; overrides: Overrides }>;
}

export function createPolicyStore(connection: Connection, clock: () => number = Date.now): PolicyStore {
  const docs = connection.db!.collection<PolicyDoc>(POLICY_COLLECTION);
  let cached: { policy: RecoveryPolicy; until: number } | undefined;

  async function latest(): Promise<Stored> {
    const hint = await docs.findOne({ _id: HINT_ID });
    let stored: Stored = { version: hint?.version ?? 0, overrides: hint?.overrides ?? {} };
    for (;;) {
      const newer = await docs.findOne({ _id: versionId(stored.version + 1) });
      if (!newer) return stored;
      stored = { version: stored.version + 1, overrides: newer.overrides };
    }
  }

  /** Writes `overrides` as the version after `base`; false when another save wrote that version first. */
  async function write(base: number, overrides: Overrides): Promise<boolean> {
    const version = base + 1;
    const doc = { version, overrides, updatedAt: new Date(clock()) };
    try {
      await docs.insertOne({ _id: versionId(version), ...doc });
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
    cached = undefined;
    // The version is stored, and it is what readers find: a hint that fails to be written only costs them a read.
    await upsertRetryingDuplicateKey(() => docs.replaceOne({ _id: HINT_ID }, doc, { upsert: true })).catch(() => {});
    return true;
  }

  async function update(change: (overrides: Overrides) => Overrides) {
    for (let attempt = 1; ; attempt += 1) {
      const stored = await latest();
      const overrides = change(structuredClone(stored.overrides));
      const policy = resolvePolicy(overrides); // refuse before storing anything
      if (await write(stored.version, overrides)) return { policy, overrides };
      if (attempt >= UPDATE_TRIES) throw new Error(`the policy changed ${UPDATE_TRIES} times while this change was being saved; nothing changed`);
    }
  }

  return {
    async current() {
      if (cached && cached.until > clock()) return cached.policy;
      const { policy } = resolveStoredPolicy((await latest()).overrides);
      cached = { policy, until: clock() + POLICY_CACHE_SECONDS * 1000 };
      return policy;
    },
    async overrides() {
      return (await latest()).overrides;
    },
    async save(overrides) {
      return (await update(() => overrides)).policy;
    },
    update,
  };
}
