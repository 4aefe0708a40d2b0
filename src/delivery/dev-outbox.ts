// The development outbox: in development and tests, a channel with nothing real configured "delivers" into this
// collection, and /dev/outbox shows it (dev-outbox-routes.ts), so codes can be read without a mail server or a
// phone. Production never builds it (index.ts refuses, and config refuses to start without real channels).
import { mongo, type Connection } from 'mongoose';
import type { Channel, ChannelName, OutgoingMessage } from './channel.ts';

export const DEV_OUTBOX_COLLECTION = 'dev_outbox';
/** Development messages are kept for a day (swept like every expiring document). */
const KEEP_MS = 24 * 3600_000;

export interface DevOutboxEntry {
  _id: mongo.ObjectId;
  channel: ChannelName;
  to: string;
  subject?: string;
  text: string;
  html?: string;
  /** A call: where its keypad answer is posted (the page and scripts answer it there). */
  answerUrl?: string;
  answerDigits?: number;
  /** When the message was enqueued: what "newest first" means to someone waiting for a code. */
  createdAt: Date;
  expiresAt: Date;
}

export interface DevOutbox {
  deliver(channel: ChannelName, message: OutgoingMessage): Promise<void>;
  /** The latest `limit` messages, newest first. */
  latest(limit: number): Promise<DevOutboxEntry[]>;
}

export function createDevOutbox(connection: Connection): DevOutbox {
  const entries = () => connection.db!.collection<DevOutboxEntry>(DEV_OUTBOX_COLLECTION);
  return {
    async deliver(channel, { to, subject, text, html, answerUrl, answerDigits, createdAt }) {
      await entries().insertOne({
        // An ObjectId grows with each insert of this process, so messages enqueued in the same millisecond still
        // list in the order they arrived.
        _id: new mongo.ObjectId(),
        channel,
        to,
        ...(subject !== undefined && { subject }),
        text,
        ...(html !== undefined && { html }),
        ...(answerUrl !== undefined && { answerUrl, answerDigits }),
        createdAt,
        expiresAt: new Date(createdAt.getTime() + KEEP_MS),
      });
    },
    // A filterless, bounded read on a development-only page: not a hot path.
    latest: (limit) => entries().find({}).sort({ createdAt: -1, _id: -1 }).limit(limit).toArray(),
  };
}

/** The development outbox as a channel. */
export function devOutboxChannel(devOutbox: DevOutbox, channel: ChannelName): Channel {
  return { send: (message) => devOutbox.deliver(channel, message) };
}
