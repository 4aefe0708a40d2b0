// Every email Latchkey sends wears the operator's brand (src/http/brand.ts), so people know which service wrote to
// them and can compare it with the pages they use: the logo and product name at the top, the accent colour on the
// frame and links, and the product name signing the text. The plain-text part stays plain (signature only).
import type { Brand } from '../http/brand.ts';
import { DEFAULT_LOCALE } from '../http/i18n.ts';

export interface Email {
  channel: 'email';
  to: string;
  subject?: string;
  text: string;
  /** The message's own HTML paragraphs (a fragment); made from the text when absent. */
  html?: string;
  /** The language it is written in; Latchkey's own (the translator's fallback) when not said. */
  language?: string;
}

export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Paragraphs of plain text (blank-line separated) as HTML, line breaks kept. */
function paragraphsOf(text: string): string {
  return text
    .trim()
    .split(/\n{2,}/)
    .map((paragraph) => `<p>${escapeHtml(paragraph).replace(/\n/g, '<br>')}</p>`)
    .join('');
}

const BUILT_IN_LOGO = '/static/logo.svg';

/**
 * The logo's absolute address (a mail client has no page to resolve a path against): an https:// URL as configured,
 * or a path resolved against `origin`. A "path" that resolves to another site ("//host/x", "/\host/x") gives the
 * built-in logo instead: every email opened would load it, and tell that site. config refuses those at start; this
 * holds for a brand built any other way.
 */
function logoAddress(logoUrl: string | undefined, origin: string): string {
  const builtIn = new URL(BUILT_IN_LOGO, origin);
  if (logoUrl?.startsWith('https://')) return URL.parse(logoUrl)?.href ?? builtIn.href;
  const resolved = URL.parse(logoUrl ?? BUILT_IN_LOGO, origin);
  return resolved?.origin === builtIn.origin ? resolved.href : builtIn.href;
}

/**
 * Returns a function that brands an email. `origin`, the issuer's, is where a logo path is found. Inline styles
 * only: mail clients drop stylesheets.
 */
export function brandEmails(brand: Brand, origin: string): <T extends Email>(email: T) => T & { html: string } {
  const name = escapeHtml(brand.name);
  const logo = escapeHtml(logoAddress(brand.logoUrl, origin));
  const accent = brand.accent;
  const signature = `— ${brand.name}`;
  return (email) => {
    const body = (email.html ?? paragraphsOf(email.text)).replace(/<a /g, `<a style="color:${accent}" `);
    const html =
      // The language lets screen readers read it with the right voice (WCAG 3.1.1).
      `<!doctype html><html lang="${escapeHtml(email.language ?? DEFAULT_LOCALE)}"><body style="margin:0;padding:24px 12px;background:#f3f5f8;color:#1b1f24;font-family:system-ui,sans-serif;line-height:1.5">` +
      `<div style="max-width:560px;margin:0 auto;background:#ffffff;border-top:4px solid ${accent};border-radius:8px;padding:24px">` +
      `<p style="margin:0 0 16px;font-weight:600;font-size:18px;color:${accent}"><img src="${logo}" alt="" width="28" height="28" style="vertical-align:middle;margin-right:8px">${name}</p>` +
      `${body}<p style="color:#4a5260">${escapeHtml(signature)}</p></div></body></html>`;
    return { ...email, text: `${email.text.trimEnd()}\n\n${signature}\n`, html };
  };
}
