// "Can't access your account?" right after a refused sign-in: the person has just typed their email or username,
// so the recovery's first page starts with it filled in, as the sign-in page kept it. The sign-in page hands it
// over in a signed cookie scoped to the recovery pages and tied to that one sign-in (interaction), so a recovery
// opened any other way starts empty (an account page's door does the same for "Forgot your password?": origin.ts),
// and the login never goes into a URL (nor into logs or the history). It is only ever what this browser typed or
// the relying party's login_hint: nothing is looked up, so it says nothing about whether the account exists.
import type { Context } from 'koa';
import { fromCookieValue, toCookieValue } from '../../http/json-cookie.ts';
import { pathCookieName } from '../../http/cookie-names.ts';
import { backUrl, fromOf, type Origin } from './origin.ts';

const cookieName = (secure: boolean) => pathCookieName('lk_recover_login', secure);
/** Long enough to read the refusal and decide; after that the first page simply starts empty. */
const MAX_AGE_MS = 15 * 60_000;
/** The longest login kept for a page (an email address's maximum). */
export const MAX_LOGIN_LENGTH = 320;

/**
 * `value` as a login a page may fill in: one its form would take back. Too long, a control character (NUL, a line
 * break) or broken UTF-8 (U+FFFD, which a form post is refused for: http/body.ts) is no login, and fills in nothing.
 */
export function usableLogin(value: unknown): string | undefined {
  const login = typeof value === 'string' ? value.trim() : '';
  return login && login.length <= MAX_LOGIN_LENGTH && !/[\p{Cc}\uFFFD]/u.test(login) ? login : undefined;
}

const cookieOptions = (secure: boolean) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path: '/recover', signed: true, overwrite: true });

/**
 * Called by the sign-in page of interaction `from` (or the account page door at path `from`) when it shows `login`
 * in its field.
 */
export function offerLoginToRecovery(ctx: Context, from: string, login: string, secure: boolean): void {
  if (!usableLogin(login)) return;
  ctx.cookies.set(cookieName(secure), toCookieValue({ from, login }), { ...cookieOptions(secure), maxAge: MAX_AGE_MS });
}

/** The login the sign-in (or door) `from` offered, if this browser holds one for it. */
export function loginOfferedBy(ctx: Context, from: string | undefined, secure: boolean): string | undefined {
  const offer = from ? fromCookieValue(ctx.cookies.get(cookieName(secure), { signed: true })) : undefined;
  return offer && offer.from === from ? usableLogin(offer.login) : undefined;
}

/** Once a recovery has started, or the sign-in succeeded, the offer has served: not kept for the next person at this browser. */
export function withdrawLoginOffer(ctx: Context, secure: boolean): void {
  ctx.cookies.set(cookieName(secure), null, cookieOptions(secure));
}

// And back: the recovery's "Sign in" returns to that same sign-in (or door), whose page then starts with the login
// the person typed on "Who are you?" (they have just proved it is theirs, or typed it for nothing: either way it is
// what this browser typed, never a lookup). Scoped to that one sign-in's pages (or that door's), and gone with it.
const signInCookieName = (secure: boolean) => pathCookieName('lk_signin_login', secure);

/** Called as a recovery started from `origin` begins, with the login it was started for. */
export function offerLoginToSignIn(ctx: Context, origin: Origin, login: string, secure: boolean, maxAgeMs: number): void {
  const [from, path] = [fromOf(origin), backUrl(origin)];
  if (!from || !path || !usableLogin(login)) return;
  ctx.cookies.set(signInCookieName(secure), toCookieValue({ from, login }), { ...cookieOptions(secure), path, maxAge: maxAgeMs });
}

/** The login a recovery started from sign-in (or door) `from` offered it, if this browser holds one. */
export function loginOfferedToSignIn(ctx: Context, from: string, secure: boolean): string | undefined {
  const offer = fromCookieValue(ctx.cookies.get(signInCookieName(secure), { signed: true }));
  return offer && offer.from === from ? usableLogin(offer.login) : undefined;
}
