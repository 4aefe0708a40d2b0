// A revocation's second pass (accounts/users.ts revokeAccess), kept in the database until it has run. The instance
// that revoked runs it from memory once no other instance can still act on its cached copy of the account; were
// that instance stopped or restarted before then (a deploy, a crash), the pass would be lost, and a grant another
// instance saved meanwhile for an old session would outlive the reset. So the pass is also written down, due once
// every cached copy has aged out whatever was announced, and every instance runs the passes that are due when it
// starts and every POLL_MS after. A pass is idempotent (oidc/revocation.ts): run twice, by two instances or by the
// one that scheduled it and another, it takes nothing the first run left.
import type { Connection } from 'mongoose';
import type { Logger } from '../log.ts';
import { warnBackgroundFailure } from '../db/unavailable.ts';
import type { AccessRevoker } from './revocation.ts';

export const REVOCATION_PASSES = 'revocation_passes';

/** How often an instance looks for passes that are due (the collection holds a few documents at most). */
const POLL_MS = 10_000;
/** The most passes one look runs; the rest wait for the next. */
const PASSES_PER_LOOK = 100;

interface PassDoc {
  _id: string;
  accountId: string;
  /** The revocation the pass follows (what it passes to the revoker as `issuedBefore`). */
  revokedAt: Date;
  /** When any instance may run it: once no instance can still serve a copy of the account from before. */
  dueAt: Date;
}

export interface RevocationPasses {
  /** Writes down the second pass of `accountId`'s revocation at `revokedAt`, to run at `dueAt` if no one runs it first. */
  schedule(accountId: string, revokedAt: Date, dueAt: Date): Promise<void>;
  /** Runs the pass now and then forgets it (kept if it fails, for a later look). */
  run(accountId: string, revokedAt: Date): Promise<void>;
  /** Runs every pass written down whose time has come; how many ran. */
  runDue(): Promise<number>;
  start(): void;
  stop(): void;
}

export function createRevocationPasses(connection: Connection, revoke: AccessRevoker, { log, clock = Date.now }: { log: Logger; clock?: () => number }): RevocationPasses {
  const passes = connection.db!.collection<PassDoc>(REVOCATION_PASSES);
  const passId = (accountId: string, revokedAt: Date) => `${accountId}:${revokedAt.getTime()}`;

  async function run(accountId: string, revokedAt: Date): Promise<void> {
    await revoke(accountId, revokedAt);
    await passes.deleteOne({ _id: passId(accountId, revokedAt) });
  }

  async function runDue(): Promise<number> {
    // A filter FerretDB runs by reading the collection: a handful of documents, each gone once its pass has run.
    // The longest waiting first. A pass that fails stays, for the next look.
    const due = await passes.find({ dueAt: { $lte: new Date(clock()) } }).sort({ dueAt: 1 }).limit(PASSES_PER_LOOK).toArray();
    let ran = 0;
    for (const { accountId, revokedAt } of due) {
      try {
        await run(accountId, revokedAt);
        ran += 1;
      } catch (error) {
        // One line when the database is away (every pass would fail alike), the error otherwise.
        warnBackgroundFailure(log, error, 'second revocation pass (tried again at the next look)', { accountId });
      }
    }
    return ran;
  }

  let timer: NodeJS.Timeout | undefined;
  let running = false;
  const lookLater = (ms: number) => {
    timer = setTimeout(() => {
      runDue()
        .catch((error: unknown) => warnBackgroundFailure(log, error, 'looking for due revocation passes'))
        .finally(() => {
          if (running) lookLater(POLL_MS);
        });
    }, ms).unref();
  };

  return {
    async schedule(accountId, revokedAt, dueAt) {
      // An upsert: the same revocation written down twice is one pass.
      await passes.replaceOne({ _id: passId(accountId, revokedAt) }, { accountId, revokedAt, dueAt }, { upsert: true });
    },
    run,
    runDue,
    start() {
      running = true;
      lookLater(0); // what an instance stopped before its passes ran left behind
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
