// The background sender: finds due messages in the outbox and sends each through its channel, off the request
// path. Every instance runs one; they share the outbox, and each attempt is decided by a claim, so a message is
// sent once however many senders look at it.
//
// An attempt's life:
//   1. A pass reads due pending messages (a bounded, non-_id query: fine on a background path, never on a request).
//   2. Attempt n of message m is claimed by inserting `m:n` into outbox_claims: one sender wins, the others skip it.
//   3. The winner re-reads m by _id (its pass may have read it a while ago) and sends only if it is still pending.
//   4. The outcome is written by the winner alone: sent; or a retry due after 2 s, 4 s, 8 s …; or failed, after
//      `maxAttempts`, a permanent refusal, or once the send window has closed. Finished messages lose their text.
// A sender that dies between 2 and 4 leaves attempt n claimed and m pending. Once that claim is older than the
// lease (longer than any attempt can take: the channels' timeouts are far shorter), the attempt counts as made
// and lost, and the next sender claims n + 1. That can send twice if the dead sender got its message out before it
// died; no outbox can promise better against an external provider, and the receiver can drop the copy by its id.
import type { Connection } from 'mongoose';
import type { Logger } from '../log.ts';
import { claim, type ExpiringDoc } from '../db/atomic.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { detached } from '../db/request-scope.ts';
import { asDeliveryError, type Channel, type ChannelName } from './channel.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from './outbox.ts';

export const OUTBOX_CLAIMS_COLLECTION = 'outbox_claims';

export interface SenderOptions {
  /** How often an idle sender looks for due messages, in ms (enqueue wakes the local one at once). Default 1000. */
  intervalMs?: number;
  /** Attempts before a message is marked failed. Default 5. */
  maxAttempts?: number;
  /** Wait after the first failed attempt, in ms; doubled after each further one. Default 2000. */
  backoffMs?: number;
  /** Due messages read per pass. Default 50. */
  batchSize?: number;
  /** Messages of a pass in flight at once. Default 4. */
  concurrency?: number;
  /** A claimed attempt with no recorded outcome after this long (ms) was lost with its sender. Default 5 minutes. */
  leaseMs?: number;
}

export interface SenderDeps extends SenderOptions {
  connection: Connection;
  channels: Record<ChannelName, Channel>;
  log: Logger;
  /** Now, in ms (tests move it to check backoff). */
  clock?: () => number;
}

/** What one pass did, for tests and logs. */
export interface PassSummary {
  sent: number;
  /** Failed attempts that will be retried. */
  retrying: number;
  failed: number;
  /** Messages another sender was handling (or that were no longer pending). */
  skipped: number;
}

export interface Sender {
  /** Polls every `intervalMs` until stopped. */
  start(): void;
  /** Stops polling; resolves once the pass in flight (if any) has finished. */
  stop(): Promise<void>;
  /** A message was just enqueued: a started, idle sender runs a pass now. */
  poke(): void;
  /** One pass, now, whether or not the sender is started (tests drive it this way). */
  runOnce(): Promise<PassSummary>;
}

type Outcome = keyof PassSummary;

export function createSender({
  connection,
  channels,
  log,
  clock = Date.now,
  intervalMs = 1000,
  maxAttempts = 5,
  backoffMs = 2000,
  batchSize = 50,
  concurrency = 4,
  leaseMs = 5 * 60_000,
}: SenderDeps): Sender {
  const outbox = () => connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);
  const claims = () => connection.db!.collection<ExpiringDoc>(OUTBOX_CLAIMS_COLLECTION);

  async function runOnce(): Promise<PassSummary> {
    const summary: PassSummary = { sent: 0, retrying: 0, failed: 0, skipped: 0 };
    const due = await outbox()
      .find({ status: 'pending', nextAttemptAt: { $lte: new Date(clock()) } }, { projection: { text: 0, html: 0 } })
      .sort({ nextAttemptAt: 1 })
      .limit(batchSize)
      .toArray();
    await eachWithLimit(due, concurrency, async (message) => {
      try {
        summary[await attempt(message)] += 1;
      } catch (error) {
        // The database failed us (not the channel): nothing was recorded, the next pass tries again.
        log.warn({ messageId: message._id, err: error }, 'delivery attempt could not be recorded');
        summary.skipped += 1;
      }
    });
    if (due.length === batchSize) more = true; // a full batch: there may be more due right now
    return summary;
  }

  async function attempt(seen: OutboxMessage): Promise<Outcome> {
    const number = await claimAttempt(seen);
    if (number === undefined) return 'skipped';
    // Only the claim's winner gets here. Re-read: the pass's copy may be stale, and the text was not read with it.
    const message = await outbox().findOne({ _id: seen._id });
    if (!message || message.status !== 'pending') return 'skipped';
    if (number > maxAttempts) return fail(message, number - 1, { code: 'EABANDONED', message: 'attempts were lost with their senders' });
    if (clock() >= message.sendBefore.getTime()) return fail(message, number - 1, { code: 'EEXPIRED', message: 'not sent within its send window' });
    const channel = channels[message.channel];
    if (!channel || message.text === undefined) return fail(message, number, { code: 'EINVALID', message: 'unknown channel or no text' });

    try {
      await channel.send({
        id: message._id,
        to: message.to,
        text: message.text,
        createdAt: message.createdAt,
        ...(message.subject !== undefined && { subject: message.subject }),
        ...(message.html !== undefined && { html: message.html }),
      });
    } catch (thrown) {
      const error = asDeliveryError(thrown);
      const lastError = { code: error.code, message: error.message };
      if (error.permanent || number >= maxAttempts) return fail(message, number, lastError);
      const nextAttemptAt = new Date(clock() + backoffMs * 2 ** (number - 1));
      await outbox().updateOne({ _id: message._id }, { $set: { attempts: number, nextAttemptAt, lastError } });
      log.warn({ messageId: message._id, channel: message.channel, attempt: number, retryAt: nextAttemptAt, err: lastError }, 'message not sent; will retry');
      return 'retrying';
    }
    const sentAt = new Date(clock());
    await outbox().updateOne({ _id: message._id }, { $set: { status: 'sent', attempts: number, sentAt }, $unset: { text: '', html: '' } });
    log.info({ messageId: message._id, channel: message.channel, attempt: number }, 'message sent');
    return 'sent';
  }

  /**
   * The attempt number this sender won (maxAttempts + 1: all were used up, give up), or undefined when another
   * sender holds the current attempt. The claim expires with the message, so it cannot be swept and won again
   * while the message could still be sent.
   */
  async function claimAttempt(message: OutboxMessage): Promise<number | undefined> {
    for (let number = message.attempts + 1; number <= maxAttempts; number += 1) {
      const id = `${message._id}:${number}`;
      if (await claim(claims(), id, message.expiresAt, { claimedAt: new Date(clock()) })) return number;
      const claimedAt = (await claims().findOne({ _id: id }))?.claimedAt;
      if (!(claimedAt instanceof Date) || clock() - claimedAt.getTime() < leaseMs) return undefined; // in progress elsewhere
      log.warn({ messageId: message._id, attempt: number }, 'delivery attempt lost with its sender; moving on');
    }
    return maxAttempts + 1;
  }

  async function fail(message: OutboxMessage, attempts: number, lastError: { code: string; message: string }): Promise<Outcome> {
    await outbox().updateOne({ _id: message._id }, { $set: { status: 'failed', attempts, lastError }, $unset: { text: '', html: '' } });
    log.error({ messageId: message._id, channel: message.channel, attempts, err: lastError }, 'message not delivered');
    return 'failed';
  }

  // Polling: one pass at a time per sender; a poke during a pass runs another right after it.
  let running = false;
  let more = false;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;

  function schedule(delayMs: number): void {
    clearTimeout(timer);
    // A poke comes from a request (a code enqueued): the passes must not run in its scope (db/request-scope.ts).
    timer = setTimeout(() => detached(tick), delayMs);
    timer.unref(); // never what keeps a process alive
  }

  /** Whether the last pass found the database unreachable: an outage is one warning, not a stack trace a second. */
  let unreachable = false;

  function passFailed(error: unknown): void {
    // After stop() the database may be closing under the pass: that is shutdown, not an incident.
    if (!running) return log.debug({ err: error }, 'delivery pass cut short by shutdown');
    if (!isDatabaseUnavailable(error)) return log.error({ err: error }, 'delivery pass failed');
    if (!unreachable) log.warn({ error: (error as Error).name }, 'delivery paused: the database cannot be reached; trying again');
    unreachable = true;
  }

  function tick(): void {
    timer = undefined;
    more = false;
    inFlight = runOnce()
      .then(() => {
        if (unreachable) log.info('delivery resumed: the database answers again');
        unreachable = false;
      }, passFailed)
      .finally(() => {
        inFlight = undefined;
        if (running) schedule(more ? 0 : intervalMs);
      });
  }

  return {
    runOnce,
    start() {
      if (running) return;
      running = true;
      schedule(0);
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await inFlight;
    },
    poke() {
      if (!running) return;
      if (inFlight) more = true;
      else schedule(0);
    },
  };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachWithLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
