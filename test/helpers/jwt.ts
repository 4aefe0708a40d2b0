// Hand-made JWTs for the tests that send the provider one it must refuse (an HMAC where only a signature by a
// registered key will do): a JOSE library would not sign them.
import { createHmac, type KeyObject } from 'node:crypto';

/** One part of a compact JWS: the JSON, base64url-encoded. */
export const jwtPart = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact JWS of `header` and `claims` with an HS256 signature keyed by `key`. */
export function hmacJwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: string | Buffer | KeyObject): string {
  const signingInput = `${jwtPart(header)}.${jwtPart(claims)}`;
  return `${signingInput}.${createHmac('sha256', key).update(signingInput).digest('base64url')}`;
}
