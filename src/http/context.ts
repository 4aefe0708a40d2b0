// What our middleware puts on ctx.state for everything after it.
import type { Context } from 'koa';
import type { Logger } from '../log.ts';
import type { Translate } from './i18n.ts';
import type { Brand } from './brand.ts';
import type { ReturnApp } from './return-to-app.ts';

export interface RequestState {
  /** Random id of this request: logged, returned as X-Request-Id and shown as the support code on error pages. */
  requestId: string;
  /** CSP nonce for this response. */
  nonce: string;
  locale: string;
  t: Translate;
  log: Logger;
  /** A language the person chose with the language picker (kept in a cookie); wins over ui_locales. */
  chosenLocale?: string;
  /** The operator's brand, for every page. */
  brand?: Brand;
  /** A document relying parties fetch again and again (discovery, JWKS), answered from memory: logged at debug level. */
  routine?: boolean;
  /** The path as the request line logs it, when the path itself is a secret's carrier (a link's token). */
  loggedPath?: string;
  /** The support code the page showed when it is not the request id (a recovery flow's): in the request line too. */
  supportCode?: string;
  /** On the account pages: the application they were opened from, to go back to (http/return-to-app.ts). */
  returnApp?: ReturnApp;
}

export type AppContext = Context & { state: RequestState };

/**
 * The support code of this request, as its log line has it: its recovery flow's once it has one (`supportCode`),
 * else its request id.
 */
export function requestSupportCode(ctx: Context): string | undefined {
  const { supportCode, requestId } = ctx.state as Partial<RequestState>;
  return supportCode ?? requestId;
}
