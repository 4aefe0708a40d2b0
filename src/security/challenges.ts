// Code challenges: a code that was sent somewhere, stored only as its keyed hash, with an expiry. Checking one
// takes a try from its budget first (so no number of parallel guesses gets more than `maxTries` comparisons), and
// a right code is then consumed (deleteOne: of parallel right answers exactly one wins). A new code for the same
// purpose is a new challenge; the tries already counted elsewhere (per account) stay counted.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from '../db/atomic.ts';
import { createCodeHasher, generateCode, normalizeCode, sameHash } from './codes.ts';

export const CHALLENGES = 'code_challenges';
/**
 * Where a right code's use is remembered for a minute (`status` 'used'), by the challenge's id: long enough for a
 * double click's other post, which then follows the first rather than being told the code expired.
 */
export const USED_CHALLENGES = 'code_challenges_used';
const USED_MARK_MS = 60_000;

interface ChallengeDoc extends ExpiringDoc {
  codeHash: string;
  /** What the challenge is for, e.g. "recovery:<flowId>:email"; a code answers only its own purpose. */
  purpose: string;
}

export type ChallengeCheck = 'accepted' | 'wrong' | 'expired';

export interface Challenges {
  /**
   * A new challenge and its code (to send; never stored in clear). `answerable: false` (a decoy's pretended send):
   * the code is made as usual, but what is stored is the hash of something no code can be, so every answer is
   * compared alike and found wrong, and nothing is ever consumed.
   */
  create(purpose: string, digits: number, lifetimeSeconds: number, options?: { answerable?: boolean }): Promise<{ id: string; code: string; expiresAt: Date }>;
  /**
   * Compares `input` with the challenge's code. The caller has already taken the try from its budgets.
   * `expired` also covers a challenge already used or replaced.
   */
  check(id: string, purpose: string, input: string): Promise<ChallengeCheck>;
  /** Removes a challenge that was replaced ("Try again") or whose tries ran out. */
  discard(id: string): Promise<void>;
  /** Whether an answer to it could still be compared: neither expired, used, replaced nor out of tries. */
  isLive(id: string, purpose: string): Promise<boolean>;
  /**
   * As `isLive`, telling why not: 'used' by a right answer within the last minute; 'gone' (discarded, or used
   * longer ago); 'expired' (its time ran out; kept until swept).
   */
  status(id: string, purpose: string): Promise<'live' | 'used' | 'gone' | 'expired'>;
}

export function createChallenges(connection: Connection, hashKey: string, clock: () => number = Date.now): Challenges {
  const docs = connection.db!.collection<ChallengeDoc>(CHALLENGES);
  const used = connection.db!.collection<ExpiringDoc & { purpose?: string }>(USED_CHALLENGES);
  const hash = createCodeHasher(hashKey);

  async function status(id: string, purpose: string): Promise<'live' | 'used' | 'gone' | 'expired'> {
    const doc = await docs.findOne({ _id: id }, { projection: { purpose: 1, expiresAt: 1 } });
    if (doc && doc.purpose === purpose) return doc.expiresAt.getTime() > clock() ? 'live' : 'expired';
    if (doc) return 'gone';
    const mark = await used.findOne({ _id: id });
    return mark?.purpose === purpose && mark.expiresAt.getTime() > clock() ? 'used' : 'gone';
  }

  return {
    async create(purpose, digits, lifetimeSeconds, { answerable = true } = {}) {
      const id = randomBytes(16).toString('base64url');
      const code = generateCode(digits);
      const expiresAt = new Date(clock() + lifetimeSeconds * 1000);
      const stored = answerable ? code : `unanswerable:${randomBytes(16).toString('base64url')}`;
      await docs.insertOne({ _id: id, purpose, codeHash: hash(id, stored), expiresAt });
      return { id, code, expiresAt };
    },

    async check(id, purpose, input) {
      const doc = await docs.findOne({ _id: id });
      if (!doc || doc.purpose !== purpose || doc.expiresAt.getTime() <= clock()) return 'expired';
      if (!sameHash(doc.codeHash, hash(id, normalizeCode(input)))) return 'wrong';
      // Right: exactly one of any parallel right answers gets to use it. The use is marked first, so that a parallel
      // post that finds the challenge gone already finds why (`status`).
      await claim(used, id, new Date(clock() + USED_MARK_MS), { purpose });
      return (await consume(docs, id)) ? 'accepted' : 'expired';
    },

    async discard(id) {
      await docs.deleteOne({ _id: id });
    },

    async isLive(id, purpose) {
      return (await status(id, purpose)) === 'live';
    },

    status,
  };
}
