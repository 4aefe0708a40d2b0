// One-time codes: digits from a CSPRNG, stored only as a keyed hash (HMAC-SHA256 with a server secret), compared
// in constant time. The purpose and the challenge id are part of the hashed text, so a code's hash is worthless
// anywhere else.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

export function generateCode(digits: number): string {
  let code = '';
  for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
  return code;
}

export type CodeHasher = (challengeId: string, code: string) => string;

export function createCodeHasher(key: string): CodeHasher {
  return (challengeId, code) => createHmac('sha256', key).update(`${challengeId}\u0000${code}`).digest('base64url');
}

export function sameHash(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Codes are typed by people: full-width digits (a Japanese or Chinese keyboard) read as digits (NFKC), and the spaces
 * and dashes they add (123 456, 123-456) are ignored; anything else but digits is wrong.
 */
export function normalizeCode(input: string): string {
  return input.normalize('NFKC').replace(/[\s\p{Pd}]/gu, '');
}
