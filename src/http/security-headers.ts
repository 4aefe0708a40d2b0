// Security headers on every response, the provider's included. CSP has no form-action: the sign-in form's
// redirect chain ends at the relying party's origin, which form-action 'self' would block.
import type { Middleware } from 'koa';
import type { AppContext } from './context.ts';

/** `imageOrigin`: where the operator's logo comes from, when it is not served by Latchkey itself. */
export function securityHeaders({ hsts, imageOrigin }: { hsts: boolean; imageOrigin?: string | undefined }): Middleware {
  // Built once: only the nonce changes from one response to the next.
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
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), payment=()',
    ...(hsts && { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' }),
  };
  return async (koaCtx, next) => {
    const ctx = koaCtx as AppContext;
    ctx.set('Content-Security-Policy', policy(ctx.state.nonce));
    ctx.set(fixed);
    await next();
  };
}
