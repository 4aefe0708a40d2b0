// The first answer after the issuer host is pinned: documents relying parties fetch again and again (discovery,
// JWKS), answered straight from memory when their snapshot is ready, before the per-request machinery (language,
// logger, request scope, error pages) that only other requests need. Such an answer still carries everything any
// response does: the security headers, a request id, and its request line at debug level. Everything else, and a
// document not ready yet (discovery before its first build, a JWKS read older than its reuse time), goes through
// the full chain, where the document's own middleware prepares it.
import type { Middleware } from 'koa';
import type { Logger } from '../log.ts';
import { answerFromSnapshot, type PreparedDocument } from './snapshots.ts';
import { newNonce, newSupportCode, requestLine } from './request-context.ts';
import type { SetSecurityHeaders } from './security-headers.ts';

export function answerPreparedDocuments(documents: PreparedDocument[], setSecurityHeaders: SetSecurityHeaders, log: Logger): Middleware {
  const readyFor = (path: string) => {
    for (const document of documents) {
      const answer = document.ready(path);
      if (answer) return answer;
    }
    return undefined;
  };
  return async (ctx, next) => {
    const answer = ctx.method === 'GET' || ctx.method === 'HEAD' ? readyFor(ctx.path) : undefined;
    if (!answer) return next();
    const started = process.hrtime.bigint();
    const requestId = newSupportCode();
    ctx.set('X-Request-Id', requestId);
    setSecurityHeaders(ctx, newNonce());
    answerFromSnapshot(ctx, answer);
    if (log.isLevelEnabled('debug')) log.debug({ requestId, ...requestLine(ctx, started) }, 'request');
  };
}
