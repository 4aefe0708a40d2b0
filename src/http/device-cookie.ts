// The device cookie (OWASP "device cookies", accounts/lockout.ts): set at every successful sign-in, it gives this
// browser a failed-sign-in budget of its own for that account; a change of password reads it but sets none (the
// change revokes the account's device tokens). Its value is signed by the lockout itself, so it is not signed again.
import type { Context } from 'koa';
import { DEVICE_TOKEN_MAX_AGE_SECONDS } from '../accounts/lockout.ts';
import { siteCookieName } from './cookie-names.ts';

export function deviceCookieName(secure: boolean): string {
  return siteCookieName('latchkey.device', secure);
}

/** What a password check tells the lockout of this browser: its device cookie, address and browser. */
export function deviceOf(ctx: Context, secure: boolean): { deviceToken: string | undefined; ip: string; userAgent: string } {
  return { deviceToken: ctx.cookies.get(deviceCookieName(secure), { signed: false }), ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 300) };
}

/** Remembers the device token a right password earned this browser. */
export function setDeviceCookie(ctx: Context, token: string, secure: boolean): void {
  ctx.cookies.set(deviceCookieName(secure), token, {
    httpOnly: true,
    secure,
    sameSite: 'lax',
    path: '/',
    maxAge: DEVICE_TOKEN_MAX_AGE_SECONDS * 1000,
    signed: false,
    overwrite: true,
  });
}
