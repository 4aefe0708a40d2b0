// Security headers on every response, the provider's included. CSP has no form-action: the sign-in form's
// redirect chain ends at the relying party's origin, which form-action 'self' would block.
import type { Context, Middleware } from 'koa';
import type { AppContext } from './context.ts';

/** Sets the security headers on a response whose CSP nonce is `nonce`. */
export type SetSecurityHeaders = (ctx: Context, nonce: string) => void;

export interface SecurityHeaderOptions {
  hsts: boolean;
  /** Where the operator's logo comes from, when it is not served by Latchkey itself. */
  imageOrigin?: string | undefined;
}

/** The security headers, as fields, of a response whose CSP nonce is `nonce`: for what is answered outside Koa. */
export type SecurityHeaderFields = (nonce: string) => Record<string, string>;

/** The CSP for a nonce, and the headers that never change: built once, only the nonce changes between responses. */
function build({ hsts, imageOrigin }: SecurityHeaderOptions) {
  const withoutNonce = [
    `img-src 'self' data:${imageOrigin ? ` ${imageOrigin}` : ''}`,
    "media-src 'self'", // the audio CAPTCHA, served by our own route
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "object-src 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  const policy = (nonce: string) => `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'self' 'nonce-${nonce}'; ${withoutNonce}`;
  const fixed: Record<string, string> = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    // Not same-origin (nor same-origin-allow-popups): an application that signs in within a popup (oidc-client-ts's
    // signinPopup and the like) needs the popup, back at its callback, to reach window.opener, and either value on
    // our pages cuts that link for good. Framing is refused above; test/browser/sign-in.test.ts walks the popup.
    'Cross-Origin-Opener-Policy': 'unsafe-none',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    ...(hsts && { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' }),
  };
  return { policy, fixed };
}

export function securityHeaderSetter(options: SecurityHeaderOptions): SetSecurityHeaders {
  const { policy, fixed } = build(options);
  return (ctx, nonce) => {
    ctx.set('Content-Security-Policy', policy(nonce));
    ctx.set(fixed);
  };
}

export function securityHeaderFields(options: SecurityHeaderOptions): SecurityHeaderFields {
  const { policy, fixed } = build(options);
  return (nonce) => ({ 'Content-Security-Policy': policy(nonce), ...fixed });
}

/** The headers on everything after the request context, with the request's nonce. */
export function securityHeaders(set: SetSecurityHeaders): Middleware {
  return async (koaCtx, next) => {
    const ctx = koaCtx as AppContext;
    set(ctx, ctx.state.nonce);
    await next();
    // RFC 6749 §5.1 and OpenID Connect Core §3.1.3.3: a token response carries `Pragma: no-cache` beside
    // `Cache-Control: no-store` (for HTTP/1.0 caches); the provider sets only the latter.
    if (ctx.response.get('Cache-Control') === 'no-store') ctx.set('Pragma', 'no-cache');
  };
}
