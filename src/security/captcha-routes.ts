// The CAPTCHA's picture and audio, by CAPTCHA id: GET /recover/captcha/<id>.svg and /recover/captcha/<id>.wav.
// Never cached (a CAPTCHA is single-use and short-lived); an unknown, used or expired id is a 404 like any other.
// The answer itself is never sent anywhere.
import Router from '@koa/router';
import type { Context } from 'koa';
import { NotFoundError } from '../errors.ts';
import type { AppContext } from '../http/context.ts';
import type { Captcha } from './captcha.ts';

export const CAPTCHA_PATH = '/recover/captcha';

/**
 * Where a page finds the picture and the audio of a CAPTCHA (views/partials/captcha.ejs builds the same), the audio
 * spoken in `language` (the page's) when given.
 */
export function captchaUrls(id: string, language?: string): { image: string; audio: string } {
  const audio = `${CAPTCHA_PATH}/${id}.wav${language ? `?ui_locales=${encodeURIComponent(language)}` : ''}`;
  return { image: `${CAPTCHA_PATH}/${id}.svg`, audio };
}

function send(ctx: Context, type: string, body: string | Buffer | undefined): void {
  if (body === undefined) throw new NotFoundError('captcha_not_found', `no live CAPTCHA ${String(ctx.params.id)}`);
  ctx.type = type;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = body;
}

export function captchaRoutes(captcha: Captcha): Router {
  const router = new Router({ prefix: CAPTCHA_PATH });
  router.get('/:id.svg', async (ctx) => {
    const t = (ctx as unknown as AppContext).state.t;
    send(ctx, 'image/svg+xml', await captcha.image(ctx.params.id!, t ? { title: t('captcha.picture') } : {}));
  });
  // In the page's language: the page asks with its own (`?ui_locales=`, as a relying party would), below the one
  // the person picked, as on every page.
  router.get('/:id.wav', async (ctx) => {
    send(ctx, 'audio/wav', await captcha.audio(ctx.params.id!, (ctx as unknown as AppContext).state.locale));
  });
  return router;
}
