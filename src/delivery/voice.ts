// Phone calls for "Call my mobile phone" and "Call my office phone": a provider places the call, speaks its text
// and collects the keys the person presses, which it posts to the call's answer URL (flows/recovery/call-answers.ts
// judges them). Which provider runs is configuration (config.delivery.voice): the development outbox, a signed
// webhook to your own gateway, or Twilio's Calls API. The rest of Latchkey sees only VoiceProvider.
//
// Each provider also proves that an answer comes from it (`answerIsGenuine`) and says the answer's reply in its own
// form (`reply`): the answer URL alone must not be enough to confirm a call.
import { createHmac } from 'node:crypto';
import { sameHash } from '../security/codes.ts';
import { DeliveryError, type OutgoingMessage } from './channel.ts';
import type { DevOutbox } from './dev-outbox.ts';
import { post } from './provider-post.ts';
import type { TwilioSettings } from './sms.ts';
import { signWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from './webhook-signature.ts';

/** An answer as it arrived: the URL it was posted to (the one we gave), its raw body, its headers, its form. */
export interface CallAnswerRequest {
  url: string;
  rawBody: Buffer;
  headers: Record<string, string | string[] | undefined>;
  form: Record<string, string>;
}

/** What to say back once an answer is judged; `again`: ask for the keys once more (a wrong number, tries left). */
export interface CallReply {
  result: 'accepted' | 'wrong' | 'ended';
  say: string;
  language: string;
  again?: { prompt: string; answerUrl: string; digits: number };
}

export interface VoiceProvider {
  readonly name: 'outbox' | 'webhook' | 'twilio';
  /** Resolves once the provider has accepted the call; throws a DeliveryError otherwise. */
  send(message: OutgoingMessage): Promise<void>;
  /** Whether `answer` was surely posted by this provider. */
  answerIsGenuine(answer: CallAnswerRequest, now: number): boolean;
  reply(reply: CallReply): { type: string; body: string };
}

/**
 * What a webhook gateway signs when it answers a call: "POST <answer URL>", a newline, then the form's raw bytes. The
 * signature is X-Latchkey-Signature over "<timestamp>." and these bytes (webhook-signature.ts), with the timestamp in
 * X-Latchkey-Timestamp. (Latchkey's own requests sign a JSON body, which never starts with "POST ".)
 */
export const callAnswerSigned = (answerUrl: string, rawBody: Buffer | string) => Buffer.concat([Buffer.from(`POST ${answerUrl}\n`), Buffer.from(rawBody)]);

/** The headers a webhook gateway's answer carries (for gateways in Node, and for tests). */
export function signCallAnswer(secret: string, answerUrl: string, rawBody: string, now = Date.now()): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signWebhook(secret, timestamp, callAnswerSigned(answerUrl, rawBody)) };
}

const jsonReply = ({ result, say }: CallReply) => ({ type: 'application/json', body: JSON.stringify({ result, say }) });

function callParts(message: OutgoingMessage): { answerUrl: string; answerDigits: number } {
  if (!message.answerUrl || !message.answerDigits) throw new DeliveryError('EINVALID', 'a call without an answer URL', { permanent: true });
  return { answerUrl: message.answerUrl, answerDigits: message.answerDigits };
}

/**
 * Development and tests: the call lands in the development outbox, where the page (or a script, through
 * /dev/outbox.json's `answerUrl`) answers it by posting `Digits`. Every answer is taken as genuine: production never
 * builds this provider (config refuses it), and the outbox shows every code anyway.
 */
export function outboxVoiceProvider(devOutbox: DevOutbox): VoiceProvider {
  return { name: 'outbox', send: (message) => devOutbox.deliver('voice', message), answerIsGenuine: () => true, reply: jsonReply };
}

/**
 * POSTs `{"to","text","language","answerUrl","digits","id"}` to your gateway, signed as the SMS webhook is
 * (webhook-signature.ts). The gateway calls `to`, speaks `text` in `language`, collects `digits` keys and POSTs them
 * to `answerUrl` as a form (`Digits=42`), signed with the same secret over what `signCallAnswer` covers (the URL too,
 * so that a signed answer cannot be replayed to another call's URL); the answer's JSON `{"result","say"}` is what to
 * speak before hanging up (`result` "wrong": ask for the keys again).
 */
export function webhookVoiceProvider({ url, secret, clock = Date.now }: { url: string; secret: string; clock?: () => number }): VoiceProvider {
  return {
    name: 'webhook',
    async send(message) {
      const { answerUrl, answerDigits } = callParts(message);
      const body = JSON.stringify({ to: message.to, text: message.text, language: message.language ?? 'en', answerUrl, digits: answerDigits, id: message.id });
      const timestamp = String(Math.floor(clock() / 1000));
      await post('voice webhook', url, {
        headers: { 'content-type': 'application/json', [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body) },
        body,
      });
    },
    answerIsGenuine: ({ url: answered, rawBody, headers }, now) =>
      verifyWebhookSignature(secret, header(headers, TIMESTAMP_HEADER), callAnswerSigned(answered, rawBody), header(headers, SIGNATURE_HEADER), now),
    reply: jsonReply,
  };
}

/** Twilio's Calls API with the call's TwiML inline; its answers are checked by their X-Twilio-Signature. */
export function twilioVoiceProvider({ accountSid, authToken, from, apiBase }: TwilioSettings): VoiceProvider {
  const url = `${apiBase.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Calls.json`;
  const authorization = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send(message) {
      const { answerUrl, answerDigits } = callParts(message);
      // The prompt twice, then the call ends: whoever does not answer it has not confirmed anything.
      const gather = twimlGather(message.text, voiceLanguage(message.language), answerUrl, answerDigits);
      await post('voice API', url, {
        headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: message.to, From: from, Twiml: `<Response>${gather}${gather}</Response>` }).toString(),
      });
    },
    answerIsGenuine: ({ url: answered, form, headers }) => twilioSignatureMatches(authToken, answered, form, header(headers, 'x-twilio-signature')),
    reply({ say, language, again }) {
      const spoken = `<Say language="${voiceLanguage(language)}">${xml(say)}</Say>`;
      const more = again ? twimlGather(again.prompt, voiceLanguage(language), again.answerUrl, again.digits) : '';
      return { type: 'text/xml', body: `<?xml version="1.0" encoding="UTF-8"?><Response>${spoken}${more}</Response>` };
    },
  };
}

const twimlGather = (text: string, language: string, answerUrl: string, digits: number) =>
  `<Gather input="dtmf" numDigits="${digits}" timeout="10" method="POST" action="${xml(answerUrl)}"><Say language="${language}">${xml(text)}</Say></Gather>`;

/** The voices' language tags for ours. */
const voiceLanguage = (language: string | undefined) => (language === 'fr' ? 'fr-FR' : 'en-US');

const xml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function header(headers: CallAnswerRequest['headers'], name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? undefined : value;
}

/**
 * Twilio's request signature: HMAC-SHA1 keyed with the account's auth token over the full URL it requested, followed
 * by each form field's name and value, the fields sorted by name; base64.
 */
export function twilioSignature(authToken: string, url: string, form: Record<string, string>): string {
  const signed = Object.keys(form)
    .sort()
    .reduce((text, name) => text + name + form[name], url);
  return createHmac('sha1', authToken).update(signed, 'utf8').digest('base64');
}

const twilioSignatureMatches = (authToken: string, url: string, form: Record<string, string>, given: string | undefined) =>
  Boolean(given) && sameHash(given!, twilioSignature(authToken, url, form));
