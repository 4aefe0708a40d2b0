// One origin: the issuer's. oidc-provider builds every endpoint URL (discovery, redirects, form actions) from the
// request's Host, or X-Forwarded-Host behind a trusted proxy; a forged header would put the attacker's host into
// discovery and pages. Every request is therefore answered as if addressed to the issuer's host. The scheme still
// comes from the connection or the trusted proxy, so Secure cookies are only set over https.
import type { Middleware } from 'koa';

export function pinToIssuerHost(issuer: string): Middleware {
  const host = new URL(issuer).host;
  return async (ctx, next) => {
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    await next();
  };
}
