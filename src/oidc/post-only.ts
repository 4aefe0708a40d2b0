// The provider's POST-only endpoints answer other methods with 405 and `Allow: POST` (RFC 9110 §15.5.6), instead
// of falling through to the not-found page (oidc-provider's router has no 405 of its own). OPTIONS stays with the
// provider, which answers CORS preflights.
import type { Middleware } from 'koa';
import { MethodNotAllowedError } from '../errors.ts';

const POST_ONLY = ['/token', '/token/introspection', '/token/revocation', '/session/end/confirm', '/request'];

export function postOnlyEndpoints(issuerPath: string): Middleware {
  const paths = new Set(POST_ONLY.map((path) => `${issuerPath}${path}`));
  return async (ctx, next) => {
    if (paths.has(ctx.path) && ctx.method !== 'POST' && ctx.method !== 'OPTIONS') {
      throw new MethodNotAllowedError(['POST'], `${ctx.method} ${ctx.path}`);
    }
    await next();
  };
}
