// Renders EJS pages: the page template first, then views/layout.ejs around it. Every page gets the translator,
// the CSP nonce and the language from ctx.state.
import ejs from 'ejs';
import { join } from 'node:path';
import type { Context } from 'koa';
import { requestSupportCode, type AppContext } from './context.ts';
import { en, type MessageId } from './messages/en.ts';
import { SUPPORTED_LOCALES, durationText, translator } from './i18n.ts';
import { DEFAULT_ACCENT, type Brand } from './brand.ts';

/** For pages rendered before request-context ran (the provider's renderError can be). */
const FALLBACK_BRAND: Brand = { name: 'Latchkey', logoUrl: undefined, accent: DEFAULT_ACCENT, helpUrl: undefined, homeUrl: undefined, privacyUrl: undefined, termsUrl: undefined };

/**
 * The language picker's links: this page again in each language. A page answering a POST links to the page it
 * belongs to (its path without the action: /recover/<flow>/code → /recover/<flow>), which shows the current step.
 */
function languageLinks(ctx: Context, current: string, fromHome: boolean, pageQuery?: Record<string, string>): Array<{ locale: string; href: string; current: boolean }> {
  const get = !fromHome && (ctx.method === 'GET' || ctx.method === 'HEAD');
  // The path as the browser asked for it: inside the mounted provider, ctx.path has lost the issuer's prefix.
  const requestPath = ctx.originalUrl.split('?')[0] || '/';
  const segments = requestPath.split('/');
  const path = fromHome ? '/' : get || segments.length <= 3 ? requestPath : segments.slice(0, -1).join('/');
  return SUPPORTED_LOCALES.map((locale) => {
    const query = new URLSearchParams(fromHome ? '' : (pageQuery ?? (get ? ctx.querystring : '')));
    query.set('lang', locale);
    return { locale, href: `${path}?${query.toString()}`, current: locale === current };
  });
}

export const VIEWS_DIR = join(import.meta.dirname, '../../views');

export interface PageData {
  /** Message id of the document title. */
  titleId: keyof typeof en;
  /** Values for the title's placeholders (a consent page's `{client}`). */
  titleParams?: Record<string, string>;
  /** Error pages: the language links lead to the home page, never echoing the path (it may hold private detail). */
  languagesFromHome?: boolean;
  /**
   * The query the language links keep, when not the request's own (a GET page keeps its query, a POST page none): a
   * page answering a POST gives what its GET address needs (the form's hidden context, such as the sign-in a
   * recovery came from); a GET page can leave out a part that says what just happened ("a new code was sent").
   */
  languageQuery?: Record<string, string>;
  [key: string]: unknown;
}

/**
 * What a page template may say about its document title, by calling `setTitle(…)` before the layout renders:
 * `step`, the part of a multi-step page that is shown, goes first ("Who are you? – Get back into your account");
 * `error` puts "Error: " in front, so that the first words a screen reader says on the new page tell that the form
 * came back with a problem; `titleId` replaces the page's title.
 */
export interface TitleParts {
  step?: MessageId;
  stepParams?: Record<string, string | number>;
  error?: boolean;
  titleId?: MessageId;
}

let cache = false;
/** Compile each template once (everywhere but development, where edits should show on reload). */
export function cacheTemplates(enabled: boolean): void {
  cache = enabled;
}

export async function renderPage(koaCtx: Context, view: string, data: PageData): Promise<void> {
  const ctx = koaCtx as AppContext;
  // Error pages can be rendered for requests that never passed request-context (e.g. the provider's renderError).
  const t = ctx.state.t ?? translator('en');
  const locale = ctx.state.locale ?? 'en';
  const brand = ctx.state.brand ?? FALLBACK_BRAND;
  const title: TitleParts = {};
  const setTitle = (parts: TitleParts) => {
    Object.assign(title, parts);
    return '';
  };
  // `duration(seconds)`: a wait as words in the page's language ("30 seconds", "30 secondes").
  const duration = (seconds: number) => durationText(seconds, locale);
  // The support code a page shows with an error (partials/support-code.ejs): the page's own when it brings one (a
  // refused post's, after its redirect), else the flow's or this request's, as in the request's log line.
  const supportCode = data.supportCode ?? requestSupportCode(ctx);
  const locals = { ...data, t, duration, nonce: ctx.state.nonce ?? '', locale, requestId: ctx.state.requestId, supportCode, brand, returnApp: ctx.state.returnApp, languages: languageLinks(ctx, locale, data.languagesFromHome === true, data.languageQuery), setTitle };
  const options = { cache, async: true };
  const body = await ejs.renderFile(join(VIEWS_DIR, `${view}.ejs`), locals, options);
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await ejs.renderFile(join(VIEWS_DIR, 'layout.ejs'), { ...locals, body, titleParts: title }, options);
}
