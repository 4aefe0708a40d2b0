// The request's context, for everything but the documents answered first (prepared-documents.ts): an id, a CSP
// nonce, a language and a child logger for each request, and its request line once answered.
import type { Context, Middleware } from 'koa';
import type { Logger } from '../log.ts';
import { chooseLocale, SUPPORTED_LOCALES, translator, type Translate } from './i18n.ts';
import type { Brand } from './brand.ts';
import type { AppContext, RequestState } from './context.ts';
import { pooledRandomBytes } from '../security/random-pool.ts';
import { siteCookieName } from './cookie-names.ts';

/** Short enough to read out on the phone, random enough to find one request in the logs. */
export function newSupportCode(): string {
  return pooledRandomBytes(6).toString('base64url').toUpperCase().replace(/[-_]/g, 'X');
}

/** A fresh CSP nonce for one response. */
export const newNonce = () => pooledRandomBytes(16).toString('base64');

/**
 * What the request line says. Only the path (query strings can carry codes and tokens), or what stands in its
 * place when the path carries a secret (`loggedPath`). `started`: from `process.hrtime.bigint()` when the request
 * arrived.
 */
export function requestLine(ctx: Context, started: bigint) {
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const { loggedPath, supportCode } = ctx.state as Partial<RequestState>;
  return { method: ctx.method, path: loggedPath ?? ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10, ...(supportCode && { supportCode }) };
}

/** Rounds of %XX decoding: a link encoded twice over (%252F) is still read as what it names. */
const DECODING_ROUNDS = 3;

/**
 * The path as it may have been meant: %XX sequences decoded (each one to its byte's character, so a malformed or
 * partial sequence cannot throw), repeated slashes made one, in lower case. Only to decide what logs show.
 */
function normalizedPath(path: string): string {
  let decoded = path;
  for (let round = 0; round < DECODING_ROUNDS && decoded.includes('%'); round += 1) {
    decoded = decoded.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return decoded.replace(/\/{2,}/g, '/').toLowerCase();
}

/**
 * The path as logs may show it: under a prefix whose next segment is a secret (a "This wasn't me" token: whoever
 * reads it can lock an account down), only the prefix. Matched on the start of the path, so a trailing slash or
 * anything after the token, a page or a 404, is covered too; and on its normalized form (normalizedPath), so a
 * token under the prefix spelled otherwise (/recover/%6Cockdown/…, /recover//lockdown/…, /recover/lockdown%2F…,
 * /Recover/Lockdown/…, which routing serves) is covered as well, whether routing serves it or answers 404.
 */
export function pathForLogs(path: string, secretPrefixes: readonly string[]): string | undefined {
  const normalized = normalizedPath(path);
  const prefix = secretPrefixes.find((candidate) => normalized.startsWith(candidate.toLowerCase()));
  return prefix === undefined ? undefined : `${prefix}…`;
}

/**
 * Where the language picker's choice is kept (a year): it wins over a relying party's ui_locales. With Secure
 * cookies it is `__Host-lk_lang` (siteCookieName), so a sibling subdomain cannot set it.
 */
export const LANGUAGE_COOKIE = 'lk_lang';
const LANGUAGE_COOKIE_MAX_AGE_MS = 365 * 86_400_000;

/**
 * The person's own choice: `?lang=` from the picker (remembered), else the remembered one. Where cookies must be
 * Secure, a request that did not come over https is refused further on (http/origin.ts refusePlainHttp): its page
 * speaks the language asked for, but nothing is remembered from it.
 */
function chosenLocale(ctx: AppContext, secureCookies: boolean): string | undefined {
  const supported = (value: unknown) => (typeof value === 'string' && SUPPORTED_LOCALES.includes(value) ? value : undefined);
  const picked = supported(ctx.query.lang);
  if (picked) {
    if (ctx.secure || !secureCookies) {
      ctx.cookies.set(siteCookieName(LANGUAGE_COOKIE, secureCookies), picked, { httpOnly: true, sameSite: 'lax', secure: ctx.secure, path: '/', maxAge: LANGUAGE_COOKIE_MAX_AGE_MS, overwrite: true });
    }
    return picked;
  }
  return supported(ctx.cookies.get(siteCookieName(LANGUAGE_COOKIE, secureCookies)));
}

/**
 * Sets the page language: the person's own choice first, then the RP's ui_locales (known once the interaction is
 * loaded), then Accept-Language. Worked out when first used: only pages and error answers need it, not the JSON
 * documents and files most requests fetch.
 */
export function useLocale(ctx: AppContext, uiLocales: string | undefined): void {
  let locale: string | undefined;
  let t: Translate | undefined;
  const localeNow = () => (locale ??= chooseLocale(ctx.state.chosenLocale ?? uiLocales, ctx.get('accept-language')));
  Object.defineProperties(ctx.state, {
    locale: { get: localeNow, enumerable: true, configurable: true },
    t: { get: () => (t ??= translator(localeNow())), enumerable: true, configurable: true },
  });
}

/** `secureCookies`: cookies must be Secure (production), so none is set on a request that did not come over https. */
export function requestContext(log: Logger, brand: Brand, secretPathPrefixes: readonly string[] = [], secureCookies = false): Middleware {
  return async (koaCtx, next) => {
    const ctx = koaCtx as AppContext;
    const started = process.hrtime.bigint();
    const requestId = newSupportCode();
    const uiLocales = typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined;
    ctx.state.requestId = requestId;
    const loggedPath = pathForLogs(ctx.path, secretPathPrefixes);
    if (loggedPath) ctx.state.loggedPath = loggedPath;
    ctx.state.nonce = newNonce();
    const chosen = chosenLocale(ctx, secureCookies);
    if (chosen) ctx.state.chosenLocale = chosen;
    ctx.state.brand = brand;
    useLocale(ctx, uiLocales);
    // The request's logger is made when first used: the documents answered from memory (discovery, JWKS, static
    // files) log nothing at the usual level, and a child logger per request is a measurable part of their cost.
    let requestLog: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (requestLog ??= log.child({ requestId })), enumerable: true, configurable: true });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      // What browsers and relying parties fetch again and again (a page's stylesheet, logo, script; discovery and
      // JWKS) only at debug level, so one page is one line.
      const level = ctx.state.routine || ctx.path.startsWith('/static/') ? 'debug' : 'info';
      if (log.isLevelEnabled(level)) {
        const line = requestLine(ctx, started);
        // The same line either way; without a child logger made already, none is made just for it.
        if (requestLog) requestLog[level](line, 'request');
        else log[level]({ requestId, ...line }, 'request');
      }
    }
  };
}
