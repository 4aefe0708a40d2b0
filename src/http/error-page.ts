// The one place errors become responses: an HTML page or a JSON body, each with the support code (the request
// id) that is also in the log line. Private detail is logged, never shown.
import type { Context, Middleware } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError, DatabaseUnavailableError, FlowExpiredError, MethodNotAllowedError, NotFoundError, TooManyRequestsError } from '../errors.ts';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { requestSupportCode, type AppContext, type RequestState } from './context.ts';
import { renderPage } from './render.ts';
import type { MessageId } from './messages/en.ts';
import { DEFAULT_LOCALE, translator } from './i18n.ts';

interface ErrorView {
  status: number;
  code: string;
  messageId: MessageId;
}

/**
 * The page's title (and heading): what happened in a few words, so that the browser tab and the first words a screen
 * reader says tell a missing page from an expired one or an outage (WCAG 2.4.2).
 */
function titleOf({ status, code }: ErrorView): MessageId {
  if (status === 404) return 'error.title_not_found';
  if (code === 'interaction_expired') return 'error.title_expired';
  if (status === 503) return 'error.title_unavailable';
  return status < 500 ? 'error.title_refused' : 'error.title';
}

/** Seconds a client is asked to wait before retrying after a 503. */
const RETRY_AFTER_SECONDS = 5;

function classify(error: unknown): ErrorView {
  if (isDatabaseUnavailable(error)) return classify(new DatabaseUnavailableError());
  if (error instanceof AppError) return { status: error.status, code: error.code, messageId: error.messageId as MessageId };
  // The provider's helpers (interactionDetails…) throw SessionNotFound when an interaction has ended.
  if (error instanceof oidcErrors.SessionNotFound) return classify(new FlowExpiredError(error.message));
  if (error instanceof oidcErrors.OIDCProviderError) {
    return { status: error.statusCode, code: error.error, messageId: 'error.oidc' };
  }
  const status = (error as { status?: number }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) return { status, code: 'bad_request', messageId: 'error.bad_request' };
  return { status: 500, code: 'server_error', messageId: 'error.server' };
}

/**
 * `publicDetail`: the provider's own error code and description, safe to show. `format`: JSON or a page as the
 * request asks, unless the answer must stay in the format already chosen (the provider's JSON endpoints).
 */
export async function respondWithError(
  koaCtx: Context,
  error: unknown,
  publicDetail?: { error: string; description: string },
  format: 'negotiate' | 'json' = 'negotiate',
): Promise<void> {
  const ctx = koaCtx as AppContext;
  const view = classify(error);
  const log = ctx.state.log;
  // The database out of reach is an outage, not a fault of this request: one short warning per request, without the
  // driver's stack (the same at every request). Anything else unexpected is logged whole.
  if (view.status === 503) log?.warn({ error: view.code, detail: (error as Error)?.message }, 'request failed: service unavailable');
  else if (view.status >= 500) log?.error({ err: error }, 'request failed');
  else log?.info({ error: view.code, detail: (error as Error)?.message }, 'request refused');
  ctx.status = view.status;
  if (error instanceof MethodNotAllowedError) ctx.set('Allow', error.allow.join(', '));
  if (view.status === 503) ctx.set('Retry-After', String(RETRY_AFTER_SECONDS));
  if (error instanceof TooManyRequestsError) ctx.set('Retry-After', String(error.retryAfterSeconds));
  // A recovery flow's own code once the request has a flow (the one its other pages and its audit events show).
  const supportCode = requestSupportCode(ctx);
  if (format === 'json' || ctx.accepts('html', 'json') === 'json') {
    ctx.body = {
      error: view.code,
      error_description: (view.status < 500 && publicDetail?.description) || (ctx.state.t ?? translator(DEFAULT_LOCALE))(view.messageId, { app: ctx.state.brand?.name ?? 'Latchkey' }),
      support_code: supportCode,
    };
    return;
  }
  await renderPage(ctx, 'error', {
    titleId: titleOf(view),
    languagesFromHome: true,
    messageId: view.messageId,
    startAgain: view.code === 'interaction_expired',
    supportCode,
    // The provider's description of a client error helps the RP's developer; for a server error it is the
    // library's internal text ("oops! …"), which no page shows.
    publicDetail: view.status < 500 ? publicDetail : undefined,
  });
}

export function errorPages(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.body !== undefined) return;
      const where = (ctx.state as Partial<RequestState>).loggedPath ?? ctx.path;
      if (ctx.status === 404) throw new NotFoundError('not_found', where);
      // The routers' allowedMethods() answer a method a path does not take with a bare 405 and its Allow header.
      // A method they know of nowhere (TRACE, PROPFIND…) gets a 501 from them: not a server fault, so the same 405
      // when the path takes other methods, else the path's 404. Never a bare 5xx for what a client sent.
      if (ctx.status === 405 || ctx.status === 501) {
        const allow = ctx.response.get('Allow').split(/,\s*/).filter(Boolean);
        if (allow.length === 0) throw new NotFoundError('not_found', where);
        throw new MethodNotAllowedError(allow, `${ctx.method} ${where}`);
      }
    } catch (error) {
      await respondWithError(ctx, error);
    }
  };
}
