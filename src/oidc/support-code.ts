// The provider answers its endpoints' errors itself, as JSON ({ error, error_description }). Our own JSON errors
// also carry the support code that is in the log line and the X-Request-Id header (http/error-page.ts); this adds it
// to the provider's, so that a relying party's developer can quote it from the body they log. Clients ignore
// members they do not know, so the error stays what RFC 6749 §5.2 defines.
import type { Middleware } from 'koa';
import type { AppContext } from '../http/context.ts';

export function supportCodeInProviderErrors(): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as AppContext;
    const body = ctx.body as Record<string, unknown> | null | undefined;
    if (ctx.status < 400 || !body || typeof body !== 'object' || Buffer.isBuffer(body) || typeof body.error !== 'string') return;
    if (body.support_code === undefined && ctx.state.requestId) body.support_code = ctx.state.requestId;
  };
}
