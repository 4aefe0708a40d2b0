// A refused form answered by a redirect to its page (post, redirect, get), so that a reload shows the page rather
// than posting the form again (a password sent again, one more failure or one more try counted). What the page shows
// again rides in a short-lived signed cookie scoped to the page's path and is read once there, with the refused post's
// support code: the page shows that one, whose request line in the log says what was refused.
//
// `createRedirectNote` is that mechanism for any page, whose reader checks the fields it gets back;
// `createRetryCookie` is the password forms' (sign-in, account pages): the error, the login typed, the CAPTCHA whose
// wait goes on and the values its message names. Only errors the page itself gives are shown from it (`allowed`).
import type { Context } from 'koa';
import { requestSupportCode } from './context.ts';
import { pathCookieName } from './cookie-names.ts';
import { fromCookieValue, toCookieValue } from './json-cookie.ts';
import type { MessageId } from './messages/en.ts';

/** Long enough to follow the redirect. */
const DEFAULT_MAX_AGE_MS = 60_000;
/** A login longer than any the forms accept is not kept (a cookie holds about 4 KB). */
const MAX_KEPT_LOGIN = 320;

export interface RedirectNote {
  /** Answers with a 303 to `path`, whose page then reads `note` once (`take`). */
  redirect(ctx: Context, path: string, note: object): void;
  /**
   * What the form left for the page at `path`, cleared as it is read; undefined if absent, forged or malformed. Its
   * `supportCode` is the post's (`supportCodeOfNote`).
   */
  take(ctx: Context, path: string): Record<string, unknown> | undefined;
}

/** Support codes as request-context and the recovery flows make them. */
const SUPPORT_CODE = /^[A-Z0-9]{8}$/;

/** The support code of the post that left `note`, for its page to show with the error: the one its log line has. */
export function supportCodeOfNote(note: Record<string, unknown> | undefined): string | undefined {
  const code = note?.supportCode;
  return typeof code === 'string' && SUPPORT_CODE.test(code) ? code : undefined;
}

/** `maxAgeMs`: how long an unfollowed redirect's note may still show (on a shared computer, to the next person). */
export function createRedirectNote(name: string, secure: boolean, { maxAgeMs = DEFAULT_MAX_AGE_MS } = {}): RedirectNote {
  const cookieName = pathCookieName(name, secure);
  const options = (path: string) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path, signed: true, overwrite: true });
  return {
    redirect(ctx, path, note) {
      // The refused post's support code goes along: its request line in the log is the one that says what happened.
      const code = requestSupportCode(ctx);
      ctx.cookies.set(cookieName, toCookieValue({ ...note, ...(code && { supportCode: code }) }), { ...options(path), maxAge: maxAgeMs });
      ctx.status = 303; // never 307: the browser must not post the form again
      ctx.redirect(path);
    },

    take(ctx, path) {
      const value = ctx.cookies.get(cookieName, { signed: true });
      if (!value) return undefined;
      ctx.cookies.set(cookieName, null, options(path));
      return fromCookieValue(value);
    },
  };
}

/** What a refused password form's page shows again; nothing of it when the form was not refused. */
export interface Retry {
  error?: MessageId;
  login?: string;
  captchaId?: string;
  /** What the error's message names (a password rule's numbers). */
  values?: Record<string, string | number>;
  /** The refused post's support code, shown with its error. */
  supportCode?: string;
}

export interface RetryCookie {
  /** Answers with a 303 to `path`, whose page then shows `retry` once (an error-free one: a new CAPTCHA asked for). */
  redirect(ctx: Context, path: string, retry: Retry): void;
  /** What the form left for the page at `path`, cleared as it is read; nothing if absent, forged or malformed. */
  take(ctx: Context, path: string): Retry;
}

/** The refusals of a password as the sign-in page gives them, and every form asking for one (current-password.ts). */
export const PASSWORD_REFUSALS: readonly MessageId[] = ['login.invalid', 'login.missing', 'login.captcha_wrong', 'login.captcha_stale', 'login.captcha_wait_early', 'login.captcha_wait_used_up'];

/** `allowed`: the errors the page at the cookie's path gives (a value signed for another page is not shown). */
export function createRetryCookie(name: string, secure: boolean, allowed: readonly MessageId[], options: { maxAgeMs?: number } = {}): RetryCookie {
  const own = new Set<string>(allowed);
  const notes = createRedirectNote(name, secure, options);
  return {
    redirect(ctx, path, { error, login = '', captchaId, values }) {
      notes.redirect(ctx, path, { error, login: login.length <= MAX_KEPT_LOGIN ? login : '', ...(captchaId && { captchaId }), ...(values && { values }) });
    },

    take(ctx, path) {
      const note = notes.take(ctx, path);
      const { error, login, captchaId, values } = note ?? {};
      if (typeof login !== 'string') return {};
      if (error === undefined) return { login }; // a new CAPTCHA picture asked for: nothing went wrong
      if (typeof error !== 'string' || !own.has(error)) return {};
      const supportCode = supportCodeOfNote(note);
      return { error: error as MessageId, login, ...(typeof captchaId === 'string' && { captchaId }), ...(isValues(values) && { values }), ...(supportCode && { supportCode }) };
    },
  };
}

/** The values a message names, as a note brings them back: strings and numbers only. */
export const isValues = (values: unknown): values is Record<string, string | number> =>
  typeof values === 'object' && values !== null && !Array.isArray(values) && Object.values(values).every((v) => typeof v === 'string' || typeof v === 'number');
