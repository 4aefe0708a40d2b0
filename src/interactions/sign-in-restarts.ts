// A sign-in page lives config.ttl.interaction from the relying party's request; a recovery started from it lives
// FLOW_SECONDS from its own start, so it can outlast the sign-in. Its "Sign in" (and "Back to sign in") then asks the
// relying party's same request again, as a sign-in whose session is gone does (routes.ts), instead of ending on the
// expired page. The request is kept for that in this browser only: a signed cookie scoped to that one sign-in's
// pages, set as the recovery starts from it, and dropped once the sign-in has its result or the request was asked
// again.
import type { Context } from 'koa';
import { pathCookieName } from '../http/cookie-names.ts';
import { fromCookieValue, toCookieValue } from '../http/json-cookie.ts';

/** Longer requests are not kept (a cookie holds about 4 KB): their sign-in ends on the expired page, as it did. */
const MAX_KEPT_QUERY = 2400;

export interface SignInRestarts {
  /** Keeps `query`, the authorization request of sign-in `uid`, in this browser. */
  keep(ctx: Context, uid: string, query: string): void;
  /** The request kept for sign-in `uid` in this browser, if any. */
  kept(ctx: Context, uid: string): string | undefined;
  /** Forgets it (the sign-in has its result, or its request was asked again: its page must not ask for it again). */
  drop(ctx: Context, uid: string): void;
}

export function createSignInRestarts(secure: boolean, maxAgeMs: number): SignInRestarts {
  const name = pathCookieName('lk_signin_restart', secure);
  const options = (uid: string) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path: `/interaction/${uid}`, signed: true, overwrite: true });
  const read = (ctx: Context, uid: string) => {
    const value = fromCookieValue(ctx.cookies.get(name, { signed: true }));
    return value?.from === uid && typeof value.query === 'string' ? value.query : undefined;
  };
  return {
    keep(ctx, uid, query) {
      if (query.length <= MAX_KEPT_QUERY) ctx.cookies.set(name, toCookieValue({ from: uid, query }), { ...options(uid), maxAge: maxAgeMs });
    },
    kept: read,
    drop(ctx, uid) {
      if (ctx.cookies.get(name)) ctx.cookies.set(name, null, options(uid));
    },
  };
}
