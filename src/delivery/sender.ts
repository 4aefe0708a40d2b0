// The background sender: finds due messages in the outbox and sends each through its channel, off the request
// path. Every instance runs one; they share the outbox, and each attempt is decided by a claim, so a message is
// sent once however many senders look at it.
//
// Each channel has its own lane: its own passes, timer and messages in flight. A provider that hangs (a mail
// server that never greets holds an attempt for its whole timeout) then holds up only its own channel's messages,
// never a text message's code behind a batch of stuck emails.
//
// An attempt's life:
//   1. A lane's pass reads its channel's due pending messages (a bounded, non-_id query: fine on a background path,
//      never on a request).
//   2. Attempt n of message m is claimed by inserting `m:n` into outbox_claims: one sender wins, the others skip it.
//   3. The winner re-reads m by _id (its pass may have read it a while ago) and sends only if it is still pending.
//   4. The outcome is written by the winner alone: sent; or a retry due after 2 s, 4 s, 8 s … (at most a minute
//      apart) for as long as the message's send window lasts; or failed, on a permanent refusal, once the window
//      has closed (or would have by the next attempt), or after `maxAttempts`. Finished messages lose their text.
// A sender that dies between 2 and 4 leaves attempt n claimed and m pending. Once that claim is older than the
// lease (longer than any attempt can take: the channels' timeouts are far shorter), the attempt counts as made
// and lost, and the next sender claims n + 1. That can send twice if the dead sender got its message out before it
// died; no outbox can promise better against an external provider, and the receiver can drop the copy by its id.
import type { Connection } from 'mongoose';
import type { Logger } from '../log.ts';
import { claim, type ExpiringDoc } from '../db/atomic.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { detached } from '../db/request-scope.ts';
import { asDeliveryError, CHANNEL_NAMES, DeliveryError, type Channel, type ChannelName } from './channel.ts';
import { OUTBOX_COLLECTION, openText, type OutboxMessage } from './outbox.ts';
import { UnreadableSecretError, type SecretBox } from '../security/encryption.ts';

export const OUTBOX_CLAIMS_COLLECTION = 'outbox_claims';

export interface SenderOptions {
  /** How often an idle sender looks for due messages, in ms (enqueue wakes the local one at once). Default 1000. */
  intervalMs?: number;
  /**
   * Attempts before a message is marked failed, whatever its send window. Default 1500: a safety net only. What
   * normally ends the retries is the window (`sendBefore`), and the outbox's longest default window, 24 hours at
   * one attempt a minute, takes some 1450; this bound stops a message given a window of months.
   */
  maxAttempts?: number;
  /** Wait after the first failed attempt, in ms; doubled after each further one, up to `maxBackoffMs`. Default 2000. */
  backoffMs?: number;
  /**
   * The longest wait between two attempts, in ms. Default 60 000: a provider back after an outage gets a code
   * out within a minute, while a 10-minute code still has most of its life.
   */
  maxBackoffMs?: number;
  /** Due messages a lane reads per pass. Default 50. */
  batchSize?: number;
  /** Messages of a lane's pass in flight at once (each channel has its own lane). Default 4. */
  concurrency?: number;
  /** A claimed attempt with no recorded outcome after this long (ms) was lost with its sender. Default 5 minutes. */
  leaseMs?: number;
}

export interface SenderDeps extends SenderOptions {
  connection: Connection;
  channels: Record<ChannelName, Channel>;
  /** Opens the messages' sealed words (outbox.ts). */
  box: SecretBox;
  log: Logger;
  /** Now, in ms (tests move it to check backoff). */
  clock?: () => number;
}

/** What one pass did (of one lane, or summed over the lanes), for tests and logs. */
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
  /** Stops polling; resolves once every lane's pass in flight (if any) has finished. */
  stop(): Promise<void>;
  /** A message was just enqueued: every idle lane of a started sender runs a pass now (a busy one right after). */
  poke(): void;
  /** One pass of every lane, now, whether or not the sender is started (tests drive it this way); their sum. */
  runOnce(): Promise<PassSummary>;
}

type Outcome = keyof PassSummary;

export function createSender({
  connection,
  channels,
  box,
  log,
  clock = Date.now,
  intervalMs = 1000,
  maxAttempts = 1500,
  backoffMs = 2000,
  maxBackoffMs = 60_000,
  batchSize = 50,
  concurrency = 4,
  leaseMs = 5 * 60_000,
}: SenderDeps): Sender {
  const outbox = () => connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);
  const claims = () => connection.db!.collection<ExpiringDoc>(OUTBOX_CLAIMS_COLLECTION);

  /** One pass of a channel's lane; `more` is whether it read a full batch (there may be more due right now). */
  async function pass(channel: ChannelName): Promise<{ summary: PassSummary; more: boolean }> {
    const summary = emptySummary();
    const due = await outbox()
      .find({ status: 'pending', channel, nextAttemptAt: { $lte: new Date(clock()) } }, { projection: { text: 0, html: 0 } })
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
    return { summary, more: due.length === batchSize };
  }

  /**
   * The message's words in clear. One that no configured key opens is retried as a provider's failure is, within its
   * window: while DATA_ENCRYPTION_KEY changes, an instance not yet given the new key may meet a message another sealed
   * with it, and the next attempt may fall to one that has it. Past the window it fails (EEXPIRED, with this reason).
   */
  function openWords(message: OutboxMessage, text: string): { text: string; html?: string } {
    try {
      return { text: openText(box, text), ...(message.html !== undefined && { html: openText(box, message.html) }) };
    } catch (error) {
      if (!(error instanceof UnreadableSecretError)) throw error;
      log.error({ event: 'secret_unreadable', messageId: message._id, channel: message.channel }, 'a message in the outbox opens with none of the configured keys; not sent this time');
      throw new DeliveryError('EUNREADABLE', 'sealed with a key this instance does not have (DATA_ENCRYPTION_KEY, DATA_ENCRYPTION_KEY_PREVIOUS)');
    }
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
      const words = openWords(message, message.text);
      await channel.send({
        id: message._id,
        to: message.to,
        text: words.text,
        createdAt: message.createdAt,
        ...(message.subject !== undefined && { subject: message.subject }),
        ...(words.html !== undefined && { html: words.html }),
        ...(message.language !== undefined && { language: message.language }),
        ...(message.answerUrl !== undefined && { answerUrl: message.answerUrl, answerDigits: message.answerDigits }),
      });
    } catch (thrown) {
      const error = asDeliveryError(thrown);
      const lastError = { code: error.code, message: error.message };
      if (error.permanent || number >= maxAttempts) return fail(message, number, lastError);
      // The exponent is bounded so that a huge attempt number cannot make Infinity (or NaN, with backoffMs 0).
      const nextAttemptAt = new Date(clock() + Math.min(maxBackoffMs, backoffMs * 2 ** Math.min(number - 1, 30)));
      // A retry due after the window closes would only be refused then (EEXPIRED above): fail now instead, so the
      // outbox says failed as soon as nothing more will be tried, and the provider's error is kept in the record
      // rather than replaced by the expiry. Not a last attempt squeezed in just before the deadline: a code
      // arriving in its last seconds is of no use, and a short window would turn into retries without backoff.
      if (nextAttemptAt.getTime() >= message.sendBefore.getTime()) {
        const why = `no attempt left before its send window closes; last error: ${lastError.code} ${lastError.message}`;
        return fail(message, number, { code: 'EEXPIRED', message: why.slice(0, 300) });
      }
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

  // Polling state every lane shares: whether the sender is started, and whether the database was last found
  // unreachable (one warning for an outage, however many lanes notice it).
  let running = false;
  let unreachable = false;

  function passFailed(error: unknown): void {
    // After stop() the database may be closing under the pass: that is shutdown, not an incident.
    if (!running) return log.debug({ err: error }, 'delivery pass cut short by shutdown');
    if (!isDatabaseUnavailable(error)) return log.error({ err: error }, 'delivery pass failed');
    if (!unreachable) log.warn({ error: (error as Error).name }, 'delivery paused: the database cannot be reached; trying again');
    unreachable = true;
  }

  /** A channel's lane: one pass at a time; a poke during a pass runs another right after it. */
  function lane(channel: ChannelName) {
    let more = false;
    let timer: NodeJS.Timeout | undefined;
    let inFlight: Promise<void> | undefined;

    async function runOnce(): Promise<PassSummary> {
      const result = await pass(channel);
      if (result.more) more = true;
      return result.summary;
    }

    function schedule(delayMs: number): void {
      clearTimeout(timer);
      // A poke comes from a request (a code enqueued): the passes must not run in its scope (db/request-scope.ts).
      timer = setTimeout(() => detached(tick), delayMs);
      timer.unref(); // never what keeps a process alive
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
      start: () => schedule(0),
      async stop() {
        clearTimeout(timer);
        await inFlight;
      },
      poke() {
        if (inFlight) more = true;
        else schedule(0);
      },
    };
  }

  // Every channel there is: outbox.ts refuses a message of any other, so no pending message is left without a lane.
  const lanes = CHANNEL_NAMES.map(lane);

  return {
    async runOnce() {
      const summaries = await Promise.all(lanes.map((l) => l.runOnce()));
      const total = emptySummary();
      for (const summary of summaries) for (const outcome of Object.keys(total) as Outcome[]) total[outcome] += summary[outcome];
      return total;
    },
    start() {
      if (running) return;
      running = true;
      for (const l of lanes) l.start();
    },
    async stop() {
      running = false;
      await Promise.all(lanes.map((l) => l.stop()));
    },
    poke() {
      // The outbox does not say which channel was enqueued; an idle lane's extra pass is one query.
      if (!running) return;
      for (const l of lanes) l.poke();
    },
  };
}

function emptySummary(): PassSummary {
  return { sent: 0, retrying: 0, failed: 0, skipped: 0 };
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function eachWithLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
