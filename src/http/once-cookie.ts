// A page shown once after a form's work, through a redirect (post, redirect, get): the form sets a short-lived signed
// cookie scoped to that page's path naming whose work it was, and the page reads and clears it. A reload, or the
// next person at this browser, is not told whose; without the cookie the page leads back to its form.
import type { Context } from 'koa';
import { pathCookieName } from './cookie-names.ts';

/** Long enough to follow the redirect; read once there. */
const MAX_AGE_MS = 5 * 60_000;

export interface OnceCookie {
  /** The form's work is done: the page at the cookie's path may say so, once. */
  set(ctx: Context, value: string): void;
  /** What the form left for this page, cleared as it is read; nothing when there is none. */
  take(ctx: Context): string | undefined;
}

export function createOnceCookie(name: string, path: string, secure: boolean): OnceCookie {
  const cookieName = pathCookieName(name, secure);
  const options = { httpOnly: true, secure, sameSite: 'lax' as const, path, signed: true, overwrite: true };
  return {
    set(ctx, value) {
      ctx.cookies.set(cookieName, value, { ...options, maxAge: MAX_AGE_MS });
    },
    take(ctx) {
      const value = ctx.cookies.get(cookieName, { signed: true });
      if (value) ctx.cookies.set(cookieName, null, options);
      return value;
    },
  };
}
