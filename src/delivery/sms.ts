// Text messages through a provider: the development outbox, a signed webhook to your own gateway, or a
// Twilio-compatible HTTPS API. Which one runs is configuration (config.delivery.sms); the rest of Latchkey sees
// only SmsProvider.
import { post } from './provider-post.ts';
import type { DevOutbox } from './dev-outbox.ts';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook-signature.ts';

export { verifyWebhookSignature, signWebhook } from './webhook-signature.ts';

export interface SmsMessage {
  /** The outbox id, the same on every retry: lets a gateway drop a duplicate. */
  id: string;
  /** E.164, e.g. +33612345678 (the caller normalises it). */
  to: string;
  text: string;
  createdAt: Date;
}

export interface SmsProvider {
  readonly name: 'outbox' | 'webhook' | 'twilio';
  /** Resolves once the provider has accepted the message; throws a DeliveryError otherwise. */
  send(message: SmsMessage): Promise<void>;
}

/** Development and tests: the message lands in the development outbox (/dev/outbox) instead of a phone. */
export function outboxSmsProvider(devOutbox: DevOutbox): SmsProvider {
  return { name: 'outbox', send: (message) => devOutbox.deliver('sms', message) };
}

/**
 * POSTs `{"to","text","id"}` as JSON to your gateway, signed with HMAC-SHA256 over "<timestamp>.<body>" (see
 * webhook-signature.ts for the headers and how the gateway checks them). The secret never travels; the timestamp
 * bounds replays to 5 minutes; the id makes retries recognisable. The timestamp is wall-clock time, not the app's
 * injectable clock: the gateway compares it with its own clock.
 */
export function webhookSmsProvider({ url, secret, clock = Date.now }: { url: string; secret: string; clock?: () => number }): SmsProvider {
  return {
    name: 'webhook',
    async send({ id, to, text }) {
      const body = JSON.stringify({ to, text, id });
      const timestamp = String(Math.floor(clock() / 1000));
      await post('SMS webhook', url, {
        headers: {
          'content-type': 'application/json',
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        },
        body,
      });
    },
  };
}

export interface TwilioSettings {
  accountSid: string;
  authToken: string;
  /** The sending number or messaging service sender, as the provider expects it in `From`. */
  from: string;
  /** https://api.twilio.com, or the base URL of a compatible API. */
  apiBase: string;
}

/** Twilio's Messages API (and the providers that copy it): a form POST with HTTP Basic auth; 2xx means accepted. */
export function twilioSmsProvider({ accountSid, authToken, from, apiBase }: TwilioSettings): SmsProvider {
  const url = `${apiBase.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send({ to, text }) {
      await post('SMS API', url, {
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: to, From: from, Body: text }).toString(),
      });
    },
  };
}
