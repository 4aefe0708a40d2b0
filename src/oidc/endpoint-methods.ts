// The provider's endpoints answer a method they do not take with 405 and `Allow` (RFC 9110 §15.5.6), instead of
// falling through to the not-found page (oidc-provider's router has no 405 of its own). OPTIONS stays with the
// provider, which answers CORS preflights.
import type { Middleware } from 'koa';
import { MethodNotAllowedError } from '../errors.ts';

const POST_ONLY = ['/token', '/token/introspection', '/token/revocation', '/session/end/confirm', '/request'];
/** Taken by POST as well only when AUTHORIZATION_POST is on (the provider's `enableHttpPostMethods`). */
const POST_WHEN_ENABLED = ['/auth', '/session/end'];

export function endpointMethods(issuerPath: string, acceptsPost: boolean): Middleware {
  const allowed = new Map<string, string[]>(POST_ONLY.map((path) => [`${issuerPath}${path}`, ['POST']]));
  if (!acceptsPost) for (const path of POST_WHEN_ENABLED) allowed.set(`${issuerPath}${path}`, ['GET', 'HEAD']);
  return async (ctx, next) => {
    const allow = allowed.get(ctx.path);
    if (allow && !allow.includes(ctx.method) && ctx.method !== 'OPTIONS') {
      throw new MethodNotAllowedError(allow, `${ctx.method} ${ctx.path}`);
    }
    await next();
  };
}
