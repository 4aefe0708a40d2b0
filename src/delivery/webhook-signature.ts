// The signature of the SMS webhook (sms.ts), shared by the sender and by whoever writes the receiving gateway.
//
// Every POST carries two headers:
//
//   X-Latchkey-Timestamp: 1767225600                          (unix seconds when it was signed)
//   X-Latchkey-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
//
// How a gateway verifies a request (this is what verifyWebhookSignature does; port it if your gateway is not in
// Node):
//   1. Read the raw body bytes as received. Do not parse and re-serialise the JSON first: any change of spacing
//      or key order changes the signature.
//   2. Refuse the request when the timestamp is not an integer or is more than 5 minutes away from your clock
//      (a captured request cannot be replayed later).
//   3. Compute HMAC-SHA256 over the ASCII timestamp, a ".", then the raw body, keyed with the shared secret
//      (SMS_WEBHOOK_SECRET), and compare its hex form with the value after "v1=" in constant time.
//   4. Only then parse the body: {"to": "+33612345678", "text": "…", "id": "<message id>"}. The id stays the same
//      when Latchkey retries after a timeout or an error answer: send each id at most once.
// Answer 2xx once the message is accepted. 4xx (other than 408 and 429) is taken as a permanent refusal and not
// retried; anything else, or no answer within 10 seconds, is retried with backoff.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'X-Latchkey-Timestamp';
export const SIGNATURE_HEADER = 'X-Latchkey-Signature';
/** How far a timestamp may be from the verifier's clock, in seconds. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

/** The X-Latchkey-Signature value for this timestamp (unix seconds, as sent) and raw body. */
export function signWebhook(secret: string, timestamp: string, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * True when `signature` (the X-Latchkey-Signature header) signs `timestamp` (the X-Latchkey-Timestamp header)
 * and the raw `body` with `secret`, and the timestamp is within 5 minutes of `now` (milliseconds since the epoch).
 */
export function verifyWebhookSignature(
  secret: string,
  timestamp: string | undefined,
  body: string | Buffer,
  signature: string | undefined,
  now: number = Date.now(),
): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(now / 1000 - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
