// The outbox: every message Latchkey sends is first a document here, and a background sender (sender.ts) sends it.
// The request path only inserts (one write, no provider involved), so page timing never depends on a mail server
// or an SMS gateway, and a message survives the instance that asked for it.
// A message's words are sealed with DATA_ENCRYPTION_KEY while it waits (security/encryption.ts): they carry codes and
// "This wasn't me" links, and a copy of the database taken while a provider is down must not give them away.
import { randomUUID } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import { isSealed, type SecretBox } from '../security/encryption.ts';
import { CHANNEL_NAMES, type ChannelName, type MessageContent } from './channel.ts';

export const OUTBOX_COLLECTION = 'outbox';

/** A message is not sent later than this after it was enqueued, unless the caller says otherwise. */
const DEFAULT_SEND_WINDOW_MS = 24 * 3600_000;
/** Finished and abandoned messages stay this long after their send window closed (for support), then are swept. */
const KEEP_AFTER_WINDOW_MS = 24 * 3600_000;

/** `decoy`: stored for a send an unknown identifier's decoy flow pretends, so it costs what a real one does; never sent. */
export type OutboxStatus = 'pending' | 'sent' | 'failed' | 'decoy';

export interface OutboxMessage {
  _id: string;
  channel: ChannelName;
  to: string;
  subject?: string;
  /**
   * Sealed (`openText`). Removed once the message is sent or has failed: it carries codes, and nothing needs it any
   * more.
   */
  text?: string;
  /** Sealed, as `text`. */
  html?: string;
  language?: string;
  /** A call: where its keypad answer goes, and how many keys (channel.ts). */
  answerUrl?: string;
  answerDigits?: number;
  createdAt: Date;
  /** Attempts made so far. */
  attempts: number;
  /** When the next attempt is due (backoff after a failure). */
  nextAttemptAt: Date;
  status: OutboxStatus;
  /** The last failure, in safe words: the provider's code and status line, never the text. */
  lastError?: { code: string; message: string };
  sentAt?: Date;
  /** Not sent after this: a code that arrives after it expired only confuses. */
  sendBefore: Date;
  /** When the document (and the claims of its attempts) may be swept. */
  expiresAt: Date;
}

export interface EnqueueInput extends MessageContent {
  channel: ChannelName;
  /** Give up if it cannot be sent before this (e.g. the expiry of the code it carries). Default: 24 hours. */
  sendBefore?: Date;
  /** Stored like any message but never sent (status `decoy`): the pretended send of a decoy flow. */
  decoy?: boolean;
}

export interface Outbox {
  /** Stores the message for the sender and returns its id; never waits for a provider. */
  enqueue(input: EnqueueInput): Promise<string>;
  collection(): mongo.Collection<OutboxMessage>;
}

/** `box`: the servers' (configuredSecretBox), which seals the words of every message (the admin CLI's too). */
export function createOutbox(connection: Connection, { clock, onEnqueued, box }: { clock: () => number; onEnqueued: () => void; box: SecretBox }): Outbox {
  const collection = () => connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);
  return {
    collection,
    async enqueue(input) {
      assertValid(input);
      const now = new Date(clock());
      const sendBefore = input.sendBefore ?? new Date(now.getTime() + DEFAULT_SEND_WINDOW_MS);
      const _id = randomUUID();
      await collection().insertOne({
        _id,
        channel: input.channel,
        to: input.to,
        ...(input.subject !== undefined && { subject: input.subject }),
        text: box.seal(input.text),
        ...(input.html !== undefined && { html: box.seal(input.html) }),
        ...(input.language !== undefined && { language: input.language }),
        ...(input.answerUrl !== undefined && { answerUrl: input.answerUrl, answerDigits: input.answerDigits }),
        createdAt: now,
        attempts: 0,
        nextAttemptAt: now,
        status: input.decoy ? 'decoy' : 'pending',
        sendBefore,
        expiresAt: new Date(sendBefore.getTime() + KEEP_AFTER_WINDOW_MS),
      });
      // Wake this instance's sender: an idle instance sends within milliseconds instead of at its next poll.
      onEnqueued();
      return _id;
    },
  };
}

/**
 * A stored message's words in clear: opened with the configured keys (UnreadableSecretError when none opens them), or
 * as they are when an earlier release stored them in clear.
 */
export function openText(box: SecretBox, stored: string): string {
  return isSealed(stored) ? box.open(stored) : stored;
}

/** Mistakes of the calling code, caught where they are made rather than as a failed send later. */
function assertValid({ channel, to, subject, text, html, answerUrl, answerDigits }: EnqueueInput): void {
  if (!CHANNEL_NAMES.includes(channel)) throw new TypeError(`unknown delivery channel: ${String(channel)}`);
  if (typeof to !== 'string' || to.trim() === '') throw new TypeError('a message needs a recipient');
  if (channel === 'email' && !to.includes('@')) throw new TypeError('an email needs an email address');
  // Providers want E.164; normalising a typed number (libphonenumber-js) is the caller's job, before this.
  const phone = channel === 'sms' || channel === 'voice';
  if (phone && !/^\+[1-9]\d{6,14}$/.test(to)) throw new TypeError('a text message or a call needs an E.164 number');
  if (channel === 'push' && !/^[\w-]{1,100}$/.test(to)) throw new TypeError('an app notification needs a device id');
  if (typeof text !== 'string' || text === '') throw new TypeError('a message needs a text');
  if (channel === 'email' && !subject) throw new TypeError('an email needs a subject');
  if (channel !== 'email' && (subject !== undefined || html !== undefined)) throw new TypeError('a text message, a call or an app notification has neither subject nor HTML');
  const answered = channel === 'voice' || channel === 'push';
  if (answered !== (answerUrl !== undefined) || answered !== (answerDigits !== undefined)) throw new TypeError('a call or an app notification, and only these, has an answer URL and digits');
  if (answered && (!URL.canParse(answerUrl!) || !Number.isInteger(answerDigits) || answerDigits! < 1 || answerDigits! > 10)) throw new TypeError('a call or an app notification needs an absolute answer URL and 1 to 10 digits');
}
