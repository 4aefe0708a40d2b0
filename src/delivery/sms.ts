// Text messages through a provider: the development outbox, a signed webhook to your own gateway, or a
// Twilio-compatible HTTPS API. Which one runs is configuration (config.delivery.sms); the rest of Latchkey sees
// only SmsProvider.
import { DeliveryError } from './channel.ts';
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

/** How long one HTTP attempt may take; well below the sender's claim lease (sender.ts). */
const HTTP_TIMEOUT_MS = 10_000;

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

/**
 * One POST with a timeout. The answer's body is discarded unread: providers echo the request (the text, which
 * carries a code) in their errors, and the failure is recorded and logged.
 */
async function post(what: string, url: string, { headers, body }: { headers: Record<string, string>; body: string }): Promise<void> {
  let request: Request;
  try {
    // A redirect is not followed: the signed body and the credentials go to the configured URL only.
    request = new Request(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  } catch {
    throw unbuildable(what, url);
  }
  let response: Response;
  try {
    response = await fetch(request);
  } catch (error) {
    throw networkFailure(what, error);
  }
  await response.body?.cancel();
  if (response.ok) return;
  // 4xx says the request itself is wrong (bad number, bad credentials): retrying cannot help. 408 and 429 are
  // "not now", and 5xx the provider's own trouble.
  const { status } = response;
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  throw new DeliveryError(`HTTP_${status}`, `${what} answered ${status}`, { permanent });
}

/**
 * A request fetch refuses to build (a URL with a user name or password, which config refuses at start but a
 * hand-built provider may be given): no attempt can ever succeed, so it is permanent, not retried as unreachable.
 * fetch's own message is not kept: it quotes the URL, and with it the credentials.
 */
function unbuildable(what: string, url: string): DeliveryError {
  const parsed = URL.parse(url);
  const reason = parsed && (parsed.username || parsed.password) ? 'its URL carries a user name or password' : 'its URL or headers are not valid';
  return new DeliveryError('EREQUEST', `${what} request refused before sending: ${reason}`, { permanent: true });
}

function networkFailure(what: string, error: unknown): DeliveryError {
  const { name, cause } = (error ?? {}) as { name?: unknown; cause?: { code?: unknown } };
  if (name === 'TimeoutError') return new DeliveryError('ETIMEDOUT', `${what} did not answer within ${HTTP_TIMEOUT_MS} ms`);
  const code = typeof cause?.code === 'string' ? cause.code : 'ENETWORK';
  return new DeliveryError(code, `${what} unreachable (${code})`);
}
