// Renders EJS pages: the page template first, then views/layout.ejs around it. Every page gets the translator,
// the CSP nonce and the language from ctx.state.
import ejs from 'ejs';
import { join } from 'node:path';
import type { Context } from 'koa';
import type { AppContext } from './context.ts';
import { en } from './messages/en.ts';
import { translator } from './i18n.ts';

export const VIEWS_DIR = join(import.meta.dirname, '../../views');

export interface PageData {
  /** Message id of the document title. */
  titleId: keyof typeof en;
  /** Values for the title's placeholders (a consent page's `{client}`). */
  titleParams?: Record<string, string>;
  [key: string]: unknown;
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
  const locals = { ...data, t, nonce: ctx.state.nonce ?? '', locale: ctx.state.locale ?? 'en', requestId: ctx.state.requestId };
  const options = { cache, async: true };
  const body = await ejs.renderFile(join(VIEWS_DIR, `${view}.ejs`), locals, options);
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await ejs.renderFile(join(VIEWS_DIR, 'layout.ejs'), { ...locals, body }, options);
}
