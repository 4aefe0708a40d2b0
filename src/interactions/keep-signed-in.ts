// "Keep me signed in" on the sign-in page. Unticked (the default), the session's cookie ends with the browser, so the
// next person at a shared computer does not find the account signed in; ticked, it lasts as long as the session may
// (the session itself ends on the server all the same: idle time and absolute lifetime). The choice is made with the
// password, and applies when the sign-in is recorded, which may be a later request of the interaction (after the
// security info stop or a new password): a cookie scoped to the interaction carries it there, and back to the
// sign-in form after a refusal, which shows the box as it was left.
import type { Context } from 'koa';
import { pathCookieName } from '../http/cookie-names.ts';

const CHOSEN_HERE = Symbol('keep-signed-in');

export interface KeepSignedIn {
  /** The choice this sign-in form made (ticked or not), for interaction `uid`. */
  choose(ctx: Context, uid: string, keep: boolean): void;
  /** Whether this interaction's sign-in asked to stay signed in (asked in an interaction's own requests). */
  chosen(ctx: Context): boolean;
}

export function createKeepSignedIn(secure: boolean, lifetimeSeconds: number): KeepSignedIn {
  const name = pathCookieName('lk_keep_signed_in', secure);
  const options = (uid: string) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path: `/interaction/${uid}`, signed: true, overwrite: true });
  return {
    choose(ctx, uid, keep) {
      (ctx.state as Record<symbol, boolean>)[CHOSEN_HERE] = keep;
      if (keep) ctx.cookies.set(name, '1', { ...options(uid), maxAge: lifetimeSeconds * 1000 });
      else if (ctx.cookies.get(name, { signed: true })) ctx.cookies.set(name, null, options(uid));
    },
    chosen(ctx) {
      const here = (ctx.state as Record<symbol, boolean | undefined>)[CHOSEN_HERE];
      return here ?? ctx.cookies.get(name, { signed: true }) === '1';
    },
  };
}
