// The development outbox in the browser and for scripts. Mounted only outside production (index.ts builds it
// only there; app.ts mounts it only when it exists):
//
//   GET /dev/outbox       the latest messages, newest first, as a page
//   GET /dev/outbox.json  the same as a JSON array of {to, channel, subject, text, createdAt}
//
// The JSON field names are an interface: scripts outside the repository (npm run demo, end-to-end walks) read
// codes through them. Keep them exactly.
import Router from '@koa/router';
import { renderPage } from '../http/render.ts';
import type { DevOutbox, DevOutboxEntry } from './dev-outbox.ts';

/** Enough to find the code just sent, few enough for a page. */
const LATEST = 200;

export interface DevOutboxJson {
  to: string;
  channel: DevOutboxEntry['channel'];
  /** null for text messages, which have none. */
  subject: string | null;
  text: string;
  /** ISO 8601. */
  createdAt: string;
}

export function devOutboxRoutes(devOutbox: DevOutbox): Router {
  const router = new Router();

  router.get('/dev/outbox.json', async (ctx) => {
    const entries = await devOutbox.latest(LATEST);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = entries.map(
      ({ to, channel, subject, text, createdAt }): DevOutboxJson => ({ to, channel, subject: subject ?? null, text, createdAt: createdAt.toISOString() }),
    );
  });

  router.get('/dev/outbox', async (ctx) => {
    const entries = await devOutbox.latest(LATEST);
    await renderPage(ctx, 'dev/outbox', {
      titleId: 'dev_outbox.title',
      messages: entries.map(({ to, channel, subject, text, createdAt }) => ({ to, channel, subject, text, createdAt: createdAt.toISOString() })),
    });
  });

  return router;
}
