// The ceiling on wrong recovery proofs in a row (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive failed attempts
// with one authenticator, which is then disabled until it is rebound or the account is recovered). The daily budget
// of proofs (limits.ts `takeProofAttempt`) renews every day, and with the base epoch below; without this, a patient
// guesser would go on trying an account's authenticator codes ten a day for as long as they like.
//
// - Counted per account and per authenticator: per method, and within a method per thing registered (the sealed
//   TOTP seed, the mobile number, the alternate address; VerificationMethod `authenticator`). That is NIST's unit,
//   and the secret being guessed: wrong authenticator codes say nothing about a texted one, and disabling one method
//   leaves the owner the others. The TOTP seed matters most: it stays the same for months, while emailed and texted
//   codes are fresh per send (there it is the mailbox or phone, and a complete number typed in is a guess at it).
//   Re-enrolling (a new seed, a new number) makes a new authenticator, with a count of its own.
// - Every try claims a slot (db/atomic.ts takeSlot) before it is compared, once the daily budget has let it through
//   (the other order would let tries the budget refuses use up the ceiling): a run has MAX slots, so however many
//   tries arrive in parallel, at most MAX are ever answered. Whoever first finds the run at its end (the try that
//   took the last slot and failed, or else the first try refused) reports it, exactly once: a claim decides.
// - A run is named by epochs kept in one document per account (`proof-epoch:<account key>`): a proof accepted moves
//   its method's epoch; a completed recovery and an administrator's `users unlock` move the account's base epoch,
//   which every method's run includes. Slots of an old run are never deleted and reused, only left behind
//   to be swept: a wrong proof's a year after it, an accepted one's within a day (its slot is taken on trust).
// - That document is read once per proof, beside the account itself (routes.ts), and it also holds the disabled
//   marks, so a try at a disabled method is refused without spending the daily budget or anything else. A mark only
//   saves work: without it (lost, or not written yet) the full run refuses all the same.
// - A decoy (an unknown identifier) has the same document and slots, keyed by its identifier's hash, and does the
//   same work; it never succeeds, so its count only grows, as a real account's does under attack.
import { createHmac, randomBytes } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import { claim, keepSlot, takeSlot, upsertRetryingDuplicateKey, NEVER_EXPIRES, type ExpiringDoc } from '../db/atomic.ts';
import type { MethodId } from '../policy/policy.ts';
import { LIMITS } from './limits.ts';

/** Wrong proofs in a row with one authenticator, after which it no longer counts as a recovery proof. */
export const MAX_CONSECUTIVE_PROOF_FAILURES = 100;
/** One window for a run's whole life: its tries count until an epoch moves. */
const RUN_LIFE_SECONDS = 1000 * 365 * 86_400;
/** How long a wrong proof is kept in its run: a year of them in a row is still a row. */
const WRONG_PROOF_MEMORY_MS = 365 * 86_400_000;
/** How long a try's slot lives until its answer keeps it (wrong) or leaves it (accepted: the run moves on): ample. */
const UNANSWERED_TRY_MS = 86_400_000;

interface EpochDoc extends ExpiringDoc {
  /** Moved for every method at once: a completed recovery, an administrator's unlock. */
  base?: string;
  /** Moved for one method: a proof of it accepted. */
  methods?: Partial<Record<MethodId, string>>;
  /** The run each method was disabled in; a later run (or another authenticator) ignores it. */
  disabled?: Partial<Record<MethodId, string>>;
}

/** An account's epochs as read at the start of a request (`read`); what `disabled` and `attempt` work from. */
export interface ProofRuns {
  accountKey: string;
  doc: EpochDoc | null;
}

/**
 * The key of the account's daily budget of proofs (limits.ts `takeProofAttempt`): the account's, within its base
 * epoch, so that an administrator's `users unlock` (or a completed recovery) gives a person who spent the day's
 * budget (right proofs count too) a new one at once. Without a base epoch yet, the account's key alone.
 */
export function proofBudgetKey(runs: ProofRuns): string {
  return runs.doc?.base ? `${runs.accountKey}:${runs.doc.base}` : runs.accountKey;
}

export interface ProofTry {
  /** False when the ceiling is reached: the proof must not be compared. */
  allowed: boolean;
  /**
   * Refused: true for the one try, of all that find this run full, that reports the method disabled (see `failed`).
   * Reporting is decided by a claim, so that a run whose last slot went to a try that never reported (a request
   * that died, a right phone number, an accept whose write was lost) is still reported, and only once.
   */
  reports: boolean;
  /** The proof was accepted: its authenticator's count starts afresh. */
  accepted(): Promise<void>;
  /**
   * The proof failed. `ended`: this failure reached the ceiling (the method is disabled from now on); `reports`: and
   * it is the one to report it (see above; a try refused at that moment may have been first).
   */
  failed(): Promise<{ ended: boolean; reports: boolean }>;
}

export interface ProofCeiling {
  /** The account's epochs and marks: one read by `_id`. */
  read(accountKey: string): Promise<ProofRuns>;
  /** Marked disabled in the current run: refuse before anything is spent. */
  disabled(runs: ProofRuns, method: MethodId, authenticator: string): boolean;
  /** Counts one try at the method before it is compared. */
  attempt(runs: ProofRuns, method: MethodId, authenticator: string): Promise<ProofTry>;
  /** Every method of the account afresh: `restartProofRuns`. */
  restart(accountKey: string): Promise<void>;
}

const epochId = (accountKey: string) => `proof-epoch:${accountKey}`;
const freshEpoch = () => randomBytes(12).toString('base64url');

/** An unconditional `$set` by `_id`, creating the epoch document when missing: a racing write simply wins. */
function setEpochFields(epochs: mongo.Collection<EpochDoc>, accountKey: string, fields: Record<string, string>): Promise<unknown> {
  return upsertRetryingDuplicateKey(() => epochs.updateOne({ _id: epochId(accountKey) }, { $set: { ...fields, expiresAt: NEVER_EXPIRES } }, { upsert: true }));
}

/** Tries at moving an epoch before giving up (each lost only to another write of the same document at that moment). */
const EPOCH_MOVE_TRIES = 3;

/**
 * Moves one epoch away from `from` (the value the runs were read with) and reads it back: on FerretDB an update
 * rewrites the whole document, so a write of another field at the same moment (a disabled mark, another method's
 * accept) can undo this one, and a restart that says "works again" must have happened. Any new value will do: a
 * racing move writes another fresh one.
 */
async function moveEpoch(epochs: mongo.Collection<EpochDoc>, accountKey: string, field: 'base' | `methods.${MethodId}`, from: string | undefined): Promise<void> {
  const valueIn = (doc: EpochDoc | null) => (field === 'base' ? doc?.base : doc?.methods?.[field.slice('methods.'.length) as MethodId]);
  for (let attempt = 0; attempt < EPOCH_MOVE_TRIES; attempt += 1) {
    await setEpochFields(epochs, accountKey, { [field]: freshEpoch() });
    if (valueIn(await epochs.findOne({ _id: epochId(accountKey) })) !== from) return;
  }
  throw new Error(`the recovery proof epoch ${field} could not be moved`);
}

/**
 * Every method of the account counts afresh, and a method disabled by the ceiling works again: a completed recovery,
 * or an administrator (`users unlock`, `users set-password`), which is why this needs nothing but the connection.
 */
export async function restartProofRuns(connection: Connection, accountKey: string): Promise<void> {
  const epochs = connection.db!.collection<EpochDoc>(LIMITS);
  const before = await epochs.findOne({ _id: epochId(accountKey) });
  await moveEpoch(epochs, accountKey, 'base', before?.base);
}

/** `hashKey`: a server secret, so that the slots name no address, number or seed. */
export function createProofCeiling(connection: Connection, hashKey: string, clock: () => number = Date.now): ProofCeiling {
  const limits = connection.db!.collection<ExpiringDoc>(LIMITS);
  const epochs = connection.db!.collection<EpochDoc>(LIMITS);

  function runOf({ accountKey, doc }: ProofRuns, method: MethodId, authenticator: string): string {
    const who = createHmac('sha256', hashKey).update(`${accountKey}\u0000${method}\u0000${authenticator}`).digest('base64url').slice(0, 22);
    return `${who}:${doc?.base ?? '0'}.${doc?.methods?.[method] ?? '0'}`;
  }

  return {
    async read(accountKey) {
      return { accountKey, doc: await epochs.findOne({ _id: epochId(accountKey) }) };
    },

    disabled(runs, method, authenticator) {
      return runs.doc?.disabled?.[method] === runOf(runs, method, authenticator);
    },

    async attempt(runs, method, authenticator) {
      const run = runOf(runs, method, authenticator);
      // The first to find the run at its end reports it (a claim), then marks it so later tries are refused at once.
      const reportEnd = async () => {
        const reports = await claim(limits, `proof-run-ended:${run}`, NEVER_EXPIRES);
        await setEpochFields(epochs, runs.accountKey, { [`disabled.${method}`]: run });
        return reports;
      };
      // Taken on trust, for a day: only a wrong proof keeps its slot (for a year), so that accepted proofs leave
      // nothing behind for long (as the sign-in lockout's tries, accounts/lockout.ts).
      const now = clock();
      const slot = await takeSlot(
        limits,
        { key: `proof-run:${run}`, limit: MAX_CONSECUTIVE_PROOF_FAILURES, windowSeconds: RUN_LIFE_SECONDS, expiresAt: new Date(now + UNANSWERED_TRY_MS) },
        new Date(now),
      );
      const counted = { ended: false, reports: false };
      if (!slot.allowed) return { allowed: false, reports: await reportEnd(), accepted: async () => {}, failed: async () => counted };
      return {
        allowed: true,
        reports: false,
        accepted: () => moveEpoch(epochs, runs.accountKey, `methods.${method}`, runs.doc?.methods?.[method]),
        async failed() {
          await keepSlot(limits, slot, new Date(now + WRONG_PROOF_MEMORY_MS));
          return slot.slot === MAX_CONSECUTIVE_PROOF_FAILURES ? { ended: true, reports: await reportEnd() } : counted;
        },
      };
    },

    restart: (accountKey) => restartProofRuns(connection, accountKey),
  };
}
