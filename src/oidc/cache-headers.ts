// Discovery is fixed for a given deployment: relying parties and proxies may cache it for a few minutes (the
// library sends no Cache-Control of its own). Error answers are not cached.
import type { Middleware } from 'koa';

const DISCOVERY_MAX_AGE_SECONDS = 300;

export function discoveryCaching(issuerPath: string): Middleware {
  const paths = new Set([`${issuerPath}/.well-known/openid-configuration`, `${issuerPath}/.well-known/oauth-authorization-server`]);
  return async (ctx, next) => {
    await next();
    if (paths.has(ctx.path) && ctx.status === 200) ctx.set('Cache-Control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`);
  };
}
