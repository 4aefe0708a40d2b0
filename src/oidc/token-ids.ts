// Opaque token values whose length tells their kind.
//
// Introspection and revocation are sent a token value without knowing (or trusting a hint of) its kind, so the
// library looks it up as an access token, a client-credentials token and a refresh token at once: three reads
// for every call a resource server makes. Each kind gets its own amount of randomness instead (at least the
// library's default 256 bits), so its values have their own length, and the adapter skips the lookups a value's
// length rules out (oidc/adapter.ts). Values of any other length (issued before this, or JWT ids) are looked up
// as every kind, as before.
import type { Configuration } from 'oidc-provider';

const DEFAULT_BITS = 256;
const BITS_PER_CHARACTER = 6; // the library's opaque values are base64url

/** Bits of randomness per looked-up token kind; each gives a distinct value length (44, 45 and 46 characters). */
const BITS_BY_KIND: Readonly<Record<string, number>> = { AccessToken: 264, ClientCredentials: 270, RefreshToken: 276 };

const lengthOf = (bits: number) => Math.ceil(bits / BITS_PER_CHARACTER);
const KIND_BY_LENGTH = new Map(Object.entries(BITS_BY_KIND).map(([kind, bits]) => [lengthOf(bits), kind]));

/** For the library's `formats.bitsOfOpaqueRandomness`. */
export const bitsOfOpaqueRandomness: NonNullable<NonNullable<Configuration['formats']>['bitsOfOpaqueRandomness']> = (_ctx, token) =>
  BITS_BY_KIND[token.kind] ?? DEFAULT_BITS;

/** True when `id`'s length belongs to another looked-up kind, so no `model` was ever stored under it. */
export function isOtherKindsId(model: string, id: string): boolean {
  if (!(model in BITS_BY_KIND)) return false;
  const kind = KIND_BY_LENGTH.get(id.length);
  return kind !== undefined && kind !== model;
}
