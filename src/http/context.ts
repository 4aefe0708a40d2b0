// What our middleware puts on ctx.state for everything after it.
import type { Context } from 'koa';
import type { Logger } from '../log.ts';
import type { Translate } from './i18n.ts';

export interface RequestState {
  /** Random id of this request: logged, returned as X-Request-Id and shown as the support code on error pages. */
  requestId: string;
  /** CSP nonce for this response. */
  nonce: string;
  locale: string;
  t: Translate;
  log: Logger;
}

export type AppContext = Context & { state: RequestState };
