// The browser's session cookie, as a hint for the adapter (oidc/adapter.ts): the interaction pages look their
// session up by uid, which costs an alias read and a session read; the cookie names the session's current id, so
// one read usually does. The value is read unsigned on purpose: the adapter accepts the session it names only when
// that session has the uid the interaction holds, which a forged cookie cannot make true.
import type { Middleware } from 'koa';
import { remember } from '../db/request-scope.ts';

export const SESSION_COOKIE_HINT = 'hint:session-cookie';
const SESSION_ID = /^[\w-]{10,64}$/;

/** Runs inside the request scope (db/request-scope.ts). */
export function sessionCookieHint(cookieName: string): Middleware {
  return (ctx, next) => {
    const id = ctx.cookies.get(cookieName);
    if (id && SESSION_ID.test(id)) remember(SESSION_COOKIE_HINT, id);
    return next();
  };
}
