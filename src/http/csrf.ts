// CSRF protection for our forms: a random secret in an HttpOnly cookie, and per-form tokens derived from it
// (HMAC of the form's scope, e.g. the interaction uid). A cross-site page can neither read the cookie nor
// compute the token, and a token for one interaction does not work for another.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { CsrfError } from '../errors.ts';
import { siteCookieName } from './cookie-names.ts';

export interface CsrfOptions {
  secure: boolean;
}

export function csrfCookieName(secure: boolean): string {
  return siteCookieName('latchkey.csrf', secure);
}

function tokenFor(secret: string, scope: string): string {
  return createHmac('sha256', secret).update(scope).digest('base64url');
}

/** The token to embed in a form for `scope`; sets the secret cookie when the browser has none. */
export function issueCsrfToken(ctx: Context, scope: string, { secure }: CsrfOptions): string {
  const name = csrfCookieName(secure);
  let secret = ctx.cookies.get(name, { signed: true });
  if (!secret || !/^[\w-]{43}$/.test(secret)) {
    secret = randomBytes(32).toString('base64url');
    ctx.cookies.set(name, secret, { httpOnly: true, sameSite: 'lax', secure, path: '/', signed: true, overwrite: true });
  }
  return tokenFor(secret, scope);
}

/** Throws CsrfError unless `token` was issued to this browser for `scope`. */
export function verifyCsrfToken(ctx: Context, scope: string, token: unknown, { secure }: CsrfOptions): void {
  const secret = ctx.cookies.get(csrfCookieName(secure), { signed: true });
  if (!secret) throw new CsrfError('no csrf cookie');
  if (typeof token !== 'string' || token.length === 0) throw new CsrfError('no csrf token');
  const expected = Buffer.from(tokenFor(secret, scope));
  const given = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new CsrfError('csrf token mismatch');
}
