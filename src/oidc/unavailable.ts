// The provider answers a database outage as any unexpected error: 500 with its own "server_error, oops! something
// went wrong". For JSON (token, introspection, userinfo …) this turns that into what it is, a 503 with
// `temporarily_unavailable` (RFC 6749 §4.1.2.1) and a Retry-After, so a relying party can retry. Pages get the same
// through renderError (http/error-page.ts).
import type { Context } from 'koa';
import { isDatabaseUnavailable } from '../db/unavailable.ts';
import { DatabaseUnavailableError } from '../errors.ts';
import { respondWithError } from '../http/error-page.ts';

/** Called from the provider's `server_error` event, after it has set its own answer. */
export function answerUnavailableDatabase(ctx: Context, error: unknown): void {
  // A page was answered already, by renderError; only the provider's JSON body is left to correct.
  if (!isDatabaseUnavailable(error) || ctx.status === 503 || typeof ctx.body !== 'object') return;
  void respondWithError(ctx, new DatabaseUnavailableError(), undefined, 'json');
}
