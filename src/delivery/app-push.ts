// The channel of authenticator app notifications ("Approve a notification on my authenticator app"). A notification
// is not handed to a third party: it waits here, one per device (the newest replaces the one before), until the
// enrolled app fetches it with a request signed by its own key (methods/app-devices.ts). No push service learns who
// is recovering which account, and nothing needs configuring. An app that wants to be woken sooner polls sooner.
import type { Connection } from 'mongoose';
import type { Channel } from './channel.ts';
import { upsertRetryingDuplicateKey } from '../db/atomic.ts';

export const APP_NOTIFICATIONS = 'app_notifications';
/** How long a notification waits to be fetched: the approval it asks for expires sooner (its challenge decides). */
export const NOTIFICATION_SECONDS = 10 * 60;

export interface AppNotificationDoc {
  /** The device it is for (app-devices.ts): one waiting notification per device. */
  _id: string;
  text: string;
  /** Where the app posts its signed answer (flows/recovery/call-answers.ts). */
  answerUrl: string;
  /** How many digits the number shown on the page has: the app asks its person to type them. */
  digits: number;
  createdAt: Date;
  expiresAt: Date;
}

export function appNotificationChannel(connection: Connection): Channel {
  const notifications = () => connection.db!.collection<AppNotificationDoc>(APP_NOTIFICATIONS);
  return {
    async send({ to, text, answerUrl, answerDigits, createdAt }) {
      // A plain write by _id: it decides nothing (the answer is judged against the flow's challenge). Two at once for
      // one device both upsert; the loser's duplicate key is retried as the update it then is.
      const notification = { text, answerUrl: answerUrl!, digits: answerDigits!, createdAt, expiresAt: new Date(createdAt.getTime() + NOTIFICATION_SECONDS * 1000) };
      await upsertRetryingDuplicateKey(() => notifications().replaceOne({ _id: to }, notification, { upsert: true }));
    },
  };
}
