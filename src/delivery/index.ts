// Delivery: how Latchkey's messages reach people. One entry point for whatever needs to send something:
//
//   const delivery = createDelivery({ connection, config, log, clock });
//   await delivery.start();                       // indexes, expiry, and the background sender
//   await delivery.enqueue({ channel: 'email', to, subject, text, html });
//   await delivery.enqueue({ channel: 'sms', to: '+33612345678', text });
//   if (delivery.devOutboxRoutes) app.use(delivery.devOutboxRoutes.routes());   // development only
//   await delivery.stop();                        // at shutdown
//
// enqueue only stores the message (outbox.ts); the sender (sender.ts) sends it through its channel: email over
// SMTP (email.ts), text messages through the configured provider (sms.ts), or, in development with nothing
// configured, the development outbox (dev-outbox.ts). Callers never learn which; they write what to say.
import type { Connection } from 'mongoose';
import type Router from '@koa/router';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../log.ts';
import { manageExpiry, type ExpiryManager } from '../db/expiry.ts';
import { configuredSecretBox } from '../security/encryption.ts';
import { DeliveryError, type Channel, type ChannelName } from './channel.ts';
import { createDevOutbox, DEV_OUTBOX_COLLECTION, devOutboxChannel, type DevOutbox } from './dev-outbox.ts';
import { devOutboxRoutes } from './dev-outbox-routes.ts';
import { createEmailChannel } from './email.ts';
import { appNotificationChannel, APP_NOTIFICATIONS } from './app-push.ts';
import { createOutbox, OUTBOX_COLLECTION, type EnqueueInput, type Outbox } from './outbox.ts';
import { createSender, OUTBOX_CLAIMS_COLLECTION, type Sender, type SenderOptions } from './sender.ts';
import { outboxSmsProvider, twilioSmsProvider, webhookSmsProvider, type SmsProvider } from './sms.ts';
import { outboxVoiceProvider, twilioVoiceProvider, webhookVoiceProvider, type VoiceProvider } from './voice.ts';

export type { EnqueueInput } from './outbox.ts';
export type { ChannelName } from './channel.ts';
export type { VoiceProvider } from './voice.ts';

export interface DeliveryDeps {
  connection: Connection;
  /** DATA_ENCRYPTION_KEY (and the keys it replaced) seal and open the messages' words while they wait. */
  config: Pick<Config, 'production' | 'issuer' | 'delivery' | 'sweepIntervalSeconds' | 'dataEncryptionKey' | 'previousDataEncryptionKeys'>;
  log: Logger;
  /** Now, in ms: when messages are due, and their timestamps. */
  clock?: () => number;
  /** The sender's timing (poll interval, attempts, backoff …); see SenderOptions for the defaults. */
  sender?: SenderOptions;
}

export interface Delivery {
  /** Stores a message for the background sender and returns its id. Resolves after one insert, never waits for a provider. */
  enqueue(message: EnqueueInput): Promise<string>;
  sender: Sender;
  /** What places calls and proves their answers; undefined when VOICE_PROVIDER is none (no call methods then). */
  voice: VoiceProvider | undefined;
  /** GET /dev/outbox and /dev/outbox.json; undefined in production, where these pages do not exist. */
  devOutboxRoutes: Router | undefined;
  /** Creates indexes and the expiry of delivery's collections, then starts the sender. */
  start(): Promise<void>;
  /** Stops the sender (and the sweeper); resolves when its lanes' passes in flight have finished. */
  stop(): Promise<void>;
}

export function createDelivery({ connection, config, log, clock = Date.now, sender: senderOptions = {} }: DeliveryDeps): Delivery {
  const devOutbox = config.production ? undefined : createDevOutbox(connection);
  const voice = createVoiceProvider(config, devOutbox);
  const channels = { ...createChannels(config, devOutbox, voice), push: appNotificationChannel(connection) };
  const box = configuredSecretBox(config);
  const sender = createSender({ connection, channels, box, log: log.child({ component: 'delivery' }), clock, ...senderOptions });
  const outbox: Outbox = createOutbox(connection, { clock, onEnqueued: () => sender.poke(), box });
  let expiry: ExpiryManager | undefined;

  return {
    enqueue: (message) => outbox.enqueue(message),
    sender,
    voice,
    devOutboxRoutes: devOutbox && devOutboxRoutes(devOutbox, config.issuer),
    async start() {
      // For MongoDB; FerretDB creates these but only ever uses _id (see ferretdb.md), which is why the hot path
      // never queries the outbox by anything else.
      await outbox.collection().createIndex({ status: 1, nextAttemptAt: 1 }, { name: 'due' });
      expiry = await manageExpiry(connection, [OUTBOX_COLLECTION, OUTBOX_CLAIMS_COLLECTION, DEV_OUTBOX_COLLECTION, APP_NOTIFICATIONS], {
        intervalSeconds: config.sweepIntervalSeconds,
        log,
      });
      sender.start();
    },
    async stop() {
      expiry?.stop();
      await sender.stop();
    },
  };
}

/** Each channel from configuration: the real provider when one is configured, else (development only) the outbox. */
function createChannels(config: DeliveryDeps['config'], devOutbox: DevOutbox | undefined, voice: VoiceProvider | undefined): Record<Exclude<ChannelName, 'push'>, Channel> {
  const { smtpUrl, smtpRequiresTls, mailFrom, sms } = config.delivery;
  const toDevOutbox = (channel: ChannelName): Channel => {
    // config refuses these settings in production already; this keeps a hand-built config from sending codes nowhere.
    if (!devOutbox) throw new Error(`no ${channel} provider is configured, and production has no development outbox`);
    return devOutboxChannel(devOutbox, channel);
  };
  const email = smtpUrl ? createEmailChannel({ smtpUrl, from: mailFrom, requireTls: smtpRequiresTls }) : toDevOutbox('email');
  let smsProvider: SmsProvider | undefined;
  if (sms.provider === 'webhook') smsProvider = webhookSmsProvider({ url: sms.url, secret: sms.secret });
  else if (sms.provider === 'twilio') smsProvider = twilioSmsProvider(sms);
  else if (devOutbox) smsProvider = outboxSmsProvider(devOutbox);
  // Without a voice provider no call method exists (app.ts), so nothing is enqueued for this channel.
  const noVoice: Channel = {
    send: () => Promise.reject(new DeliveryError('ENOPROVIDER', 'no voice provider is configured (VOICE_PROVIDER)', { permanent: true })),
  };
  return { email, sms: smsProvider ?? toDevOutbox('sms'), voice: voice ?? noVoice };
}

function createVoiceProvider(config: DeliveryDeps['config'], devOutbox: DevOutbox | undefined): VoiceProvider | undefined {
  const { voice } = config.delivery;
  if (voice.provider === 'webhook') return webhookVoiceProvider(voice);
  if (voice.provider === 'twilio') return twilioVoiceProvider(voice);
  // config refuses the outbox in production, where there is no development outbox.
  return voice.provider === 'outbox' && devOutbox ? outboxVoiceProvider(devOutbox) : undefined;
}
