// One origin: the issuer's. oidc-provider builds every endpoint URL (discovery, redirects, form actions) from the
// request's Host, or X-Forwarded-Host behind a trusted proxy; a forged header would put the attacker's host into
// discovery and pages. Every request is therefore answered as if addressed to the issuer's host. The scheme still
// comes from the connection or the trusted proxy, so Secure cookies are only set over https.
//
// The request target is pinned too: HTTP/1.1 allows an absolute URL as the target (`GET https://other.example/x`,
// RFC 9112 §3.2.2), whose authority Koa's `href` (and so the library) would prefer to the Host header. Only its path
// and query are kept. Any other target that is not a path (`*`, garbage) becomes one, which then answers 404.
//
// The scheme is the one the trusted proxy saw (trustedScheme); where cookies must be Secure, a request that did not
// come over https is refused (refusePlainHttp).
import type { Middleware } from 'koa';
import { HttpsRequiredError } from '../errors.ts';

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

/**
 * Behind a trusted proxy: X-Forwarded-Proto reduced to the value that proxy wrote, which Koa's `protocol` and
 * `secure` (and so the cookies library and the provider) then read. A proxy may append to the header rather than
 * replace it, and Koa reads its first value, which the client wrote itself ("https" typed by anyone over plain http).
 * The value taken is the one `hops` entries from the right, as Koa takes the client's address from X-Forwarded-For
 * (app.maxIpsCount): the outermost trusted proxy's, the one that saw the client's connection.
 */
export function trustedScheme(hops: number): Middleware {
  return async (ctx, next) => {
    const values = ctx.get('X-Forwarded-Proto').split(',').map((value) => value.trim()).filter(Boolean);
    if (values.length > 1) ctx.req.headers['x-forwarded-proto'] = values.slice(-hops)[0];
    await next();
  };
}

/**
 * Where cookies must be Secure (production, an https issuer): a request that did not come over https, for the pages
 * and the provider, is refused with an error page (or JSON) and its support code. Nothing is read or changed, and no
 * cookie is set: the cookies library refuses a Secure cookie over plain http (a 500 otherwise). `publicPaths`, the
 * documents read with GET that set no cookie (discovery, JWKS), are still answered: a health check may ask for them
 * straight from the instance.
 */
export function refusePlainHttp(publicPaths: Iterable<string>): Middleware {
  const open = new Set(publicPaths);
  return async (ctx, next) => {
    const publicDocument = open.has(ctx.path) && (ctx.method === 'GET' || ctx.method === 'HEAD');
    if (!ctx.secure && !publicDocument) throw new HttpsRequiredError(`${ctx.protocol} request where cookies are Secure`);
    await next();
  };
}
