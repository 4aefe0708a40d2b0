// Discovery is fixed for a given deployment (issuer, configuration, features): it is built once by the provider,
// then answered from memory ahead of it, with an ETag, so relying parties polling it cost next to nothing.
// Relying parties and proxies may also cache it for a few minutes (the library sends no Cache-Control of its own).
// Error answers are neither kept nor cached, and only an answer whose every endpoint lies under the issuer is kept:
// the library takes the endpoints' scheme (and, but for http/origin.ts, their host) from the request, and one that
// reached us without the proxy's X-Forwarded-Proto (a health check on the plain-http port) would otherwise publish
// http:// endpoints to every relying party until a restart. Such a request gets the library's own answer, uncached,
// or the kept one once there.
//
// The authorization server metadata is also answered where RFC 8414 §3.1 puts it for an issuer with a path: the
// well-known prefix first, then the issuer's path (`/.well-known/oauth-authorization-server/oidc`). The library,
// mounted under the issuer's path, only serves `<issuer>/.well-known/oauth-authorization-server`; that location
// answers for both, from one snapshot (the same body, ETag and headers).
import type { Middleware } from 'koa';
import { answerFromSnapshot, etagOf, type PreparedAnswer, type PreparedDocument } from '../http/snapshots.ts';

const DISCOVERY_MAX_AGE_SECONDS = 300;

export function discoveryDocument(issuer: string, issuerPath: string): PreparedDocument {
  // The issuer as the library writes URLs from it (host in lower case, no default port).
  const base = new URL(issuer).href.replace(/\/$/, '');
  /** Every URL the document names (`*_endpoint`, `*_uri`; features switched off leave theirs undefined) is the issuer's own. */
  const underIssuer = (document: object) =>
    Object.entries(document).every(([name, value]) => !/(_endpoint|_uri)$/.test(name) || value === undefined || (typeof value === 'string' && value.startsWith(`${base}/`)));
  const authorizationServerPath = `${issuerPath}/.well-known/oauth-authorization-server`;
  const rfc8414Path = `/.well-known/oauth-authorization-server${issuerPath}`;
  /** The provider's path for a path this document answers at (the same for all but the RFC 8414 location). */
  const providerPath = (path: string) => (path === rfc8414Path ? authorizationServerPath : path);
  const paths = new Set([`${issuerPath}/.well-known/openid-configuration`, authorizationServerPath]);
  const answers = new Map<string, PreparedAnswer>();
  const cacheControl = `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`;
  const answerOrPrepare: Middleware = async (ctx, next) => {
    if (!paths.has(ctx.path) || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    const kept = answers.get(ctx.path);
    if (kept) return answerFromSnapshot(ctx, kept);
    await next();
    if (ctx.status !== 200 || ctx.method !== 'GET' || typeof ctx.body !== 'object' || ctx.body === null || !underIssuer(ctx.body)) return;
    const text = JSON.stringify(ctx.body);
    const snapshot = { body: Buffer.from(text), type: ctx.response.get('Content-Type') || 'application/json; charset=utf-8', etag: etagOf(text) };
    const answer = { snapshot, cacheControl };
    answers.set(ctx.path, answer);
    answerFromSnapshot(ctx, answer);
  };
  return {
    paths: [...paths, rfc8414Path],
    ready: (path) => answers.get(providerPath(path)),
    async prepare(ctx, next) {
      const asked = ctx.path;
      if (providerPath(asked) === asked) return answerOrPrepare(ctx, next);
      // The RFC 8414 location goes on as the provider's own, whatever the method (a CORS preflight gets the
      // provider's answer there too); the log still shows the path asked for.
      ctx.path = providerPath(asked);
      try {
        await answerOrPrepare(ctx, next);
      } finally {
        ctx.path = asked;
      }
    },
  };
}
