// One origin: the issuer's. oidc-provider builds every endpoint URL (discovery, redirects, form actions) from the
// request's Host, or X-Forwarded-Host behind a trusted proxy; a forged header would put the attacker's host into
// discovery and pages. Every request is therefore answered as if addressed to the issuer's host. The scheme still
// comes from the connection or the trusted proxy, so Secure cookies are only set over https.
//
// The request target is pinned too: HTTP/1.1 allows an absolute URL as the target (`GET https://other.example/x`,
// RFC 9112 §3.2.2), whose authority Koa's `href` (and so the library) would prefer to the Host header. Only its path
// and query are kept. Any other target that is not a path (`*`, garbage) becomes one, which then answers 404.
import type { Middleware } from 'koa';

function originForm(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const url = new URL(target);
    if (url.protocol === 'http:' || url.protocol === 'https:') return `${url.pathname}${url.search}`;
  } catch {
    // not a URL: made a path below
  }
  return `/${target}`;
}

export function pinToIssuerHost(issuer: string): Middleware {
  const host = new URL(issuer).host;
  return async (ctx, next) => {
    ctx.req.headers.host = host;
    delete ctx.req.headers['x-forwarded-host'];
    const target = ctx.req.url ?? '/';
    if (!target.startsWith('/')) {
      // Koa copied the target into originalUrl when it made the context, and `href` reads it from there.
      ctx.req.url = ctx.originalUrl = ctx.request.originalUrl = originForm(target);
    }
    await next();
  };
}
