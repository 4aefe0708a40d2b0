// `<issuer path>/jwks`, answered from the key store instead of the keys oidc-provider loaded at start, so that a
// revocation (`keys revoke`) and a new next pair reach every running instance's JWKS within about a second. The
// provider's own JWKS route stays behind this one; it only ever sees the methods this one does not answer.
import type { JWK } from 'oidc-provider';
import type { KeyStore } from './keys.ts';
import { answerFromSnapshot, etagOf, type PreparedAnswer, type PreparedDocument } from '../http/snapshots.ts';

/** The members a public JWK may carry; everything else (d, p, q, dp, dq, qi, oth, …) is private or unneeded. */
const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'] as const;

/** Short, so relying parties refetch soon after a revocation; must-revalidate so caches never serve it stale. */
export const JWKS_CACHE_CONTROL = 'public, max-age=60, must-revalidate';
/**
 * While the store cannot be read (the database is down), the last answer is given for this long after it was
 * read, cacheable only for what is left of it: a relying party may hold that very copy as long anyway (max-age).
 * Relying parties keep verifying tokens through a short outage. A key revoked meanwhile through another instance
 * that can still reach the database leaves this one's answer within that minute.
 */
const LAST_ANSWER_ON_FAILURE_MS = 60_000;
const CONTENT_TYPE = 'application/jwk-set+json; charset=utf-8'; // what oidc-provider sends

export interface JwksRouteOptions {
  issuerPath: string;
  keyStore: Pick<KeyStore, 'published'>;
  /**
   * The keys this instance loaded at start. oidc-provider signs with the first of each algorithm; that key stays
   * published here (unless revoked) until the instance restarts, even past its retention in the store.
   */
  loaded: JWK[];
  /** How long a read of the store is reused, in milliseconds. */
  cacheMs?: number;
  now?: () => number;
}

export function publicJwk(jwk: JWK): JWK {
  const out: Record<string, unknown> = {};
  for (const member of PUBLIC_MEMBERS) if (jwk[member] !== undefined) out[member] = jwk[member];
  return out as JWK;
}

/** Ready while the last read of the store is younger than `cacheMs`; an older one is read again in the full chain. */
export function jwksDocument({ issuerPath, keyStore, loaded, cacheMs = 1000, now = Date.now }: JwksRouteOptions): PreparedDocument {
  const path = `${issuerPath}/jwks`;
  const signing = loaded.filter((key, index) => loaded.findIndex((other) => other.alg === key.alg) === index);
  let cached: { at: number; answer: PreparedAnswer } | undefined;
  let reading: Promise<{ at: number; answer: PreparedAnswer }> | undefined;
  let lastFailureAt = -Infinity;

  async function read(): Promise<{ at: number; answer: PreparedAnswer }> {
    const at = now(); // the age counts from the start of the read
    const { keys, revoked } = await keyStore.published();
    const kids = new Set(keys.map((k) => k.kid));
    const own = signing.filter((k) => !kids.has(k.kid) && !revoked.has(k.kid!));
    const body = JSON.stringify({ keys: [...keys, ...own].map(publicJwk) });
    // The same keys give the same ETag on every instance, so a client's copy stays valid across them.
    const snapshot = { body: Buffer.from(body), type: CONTENT_TYPE, etag: etagOf(body) };
    return { at, answer: { snapshot, cacheControl: JWKS_CACHE_CONTROL } };
  }

  const fresh = () => (cached && now() - cached.at < cacheMs ? cached.answer : undefined);

  async function current(): Promise<PreparedAnswer> {
    const kept = fresh();
    if (kept) return kept;
    const last = cached && now() - cached.at < LAST_ANSWER_ON_FAILURE_MS ? cached : undefined;
    // A read failed a moment ago: the last answer at once, rather than each request waiting for another to fail.
    if (last && now() - lastFailureAt < cacheMs) return lastAnswer(last);
    // Requests arriving during a read share it rather than each reading the store.
    reading ??= read().finally(() => (reading = undefined));
    try {
      cached = await reading;
    } catch (error) {
      lastFailureAt = now();
      if (last) return lastAnswer(last);
      throw error;
    }
    return cached.answer;
  }

  /** The last answer, cacheable only for what is left of its minute: a relying party never keeps it longer. */
  function lastAnswer({ at, answer }: { at: number; answer: PreparedAnswer }): PreparedAnswer {
    const left = Math.max(0, Math.floor((at + LAST_ANSWER_ON_FAILURE_MS - now()) / 1000));
    return { ...answer, cacheControl: JWKS_CACHE_CONTROL.replace(/max-age=\d+/, `max-age=${left}`) };
  }

  return {
    paths: [path],
    ready: (requested) => (requested === path ? fresh() : undefined),
    async prepare(ctx, next) {
      if (ctx.path !== path || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
      answerFromSnapshot(ctx, await current());
    },
  };
}
