// The development outbox in the browser and for scripts. Mounted only outside production (index.ts builds it
// only there; app.ts mounts it only when it exists):
//
//   GET /dev/outbox       the latest messages, newest first, as a page
//   GET /dev/outbox.json  the same as a JSON array of {to, channel, subject, text, createdAt}, and for a call
//                         (channel "voice") its answerUrl and answerDigits: POST Digits=<the number> there to answer
//
// The JSON field names are an interface: scripts outside the repository (npm run demo, end-to-end walks) read
// codes through them. Keep them exactly.
//
// Both answer only requests from this machine (the socket's peer, not a forwarded header): the outbox shows every
// code sent, and a development server listening on all interfaces (HOST=0.0.0.0) would otherwise show them to the
// whole network. And only requests addressed to this machine or the issuer by name (the Host the client sent): a web
// page whose own name an attacker points at 127.0.0.1 (DNS rebinding) comes from this machine, but with the
// attacker's name as its Host. Others get the 404 production gives.
import Router from '@koa/router';
import type { Context } from 'koa';
import { isLoopbackAddress, isLoopbackHost } from '../http/loopback.ts';
import { renderPage } from '../http/render.ts';
import type { MessageId } from '../http/messages/en.ts';
import type { DevOutbox, DevOutboxEntry } from './dev-outbox.ts';

/**
 * What the call said to the keys pressed with the page's "Answer the call" form (`?answered=`, set by the answer's
 * redirect back here: recovery/call-answers.ts), which the page repeats, since the form's own answer is that redirect.
 */
const CALL_SAID = new Map<unknown, MessageId>([
  ['accepted', 'notice.call_accepted'],
  ['wrong', 'notice.call_wrong'],
  ['ended', 'notice.call_ended'],
]);

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
  /** Calls only: where to POST the keys pressed (form field `Digits`), and how many. */
  answerUrl?: string;
  answerDigits?: number;
}

function asJson({ to, channel, subject, text, createdAt, answerUrl, answerDigits }: DevOutboxEntry): DevOutboxJson {
  return { to, channel, subject: subject ?? null, text, createdAt: createdAt.toISOString(), ...(answerUrl !== undefined && { answerUrl, answerDigits }) };
}

/** The name the client addressed (origin.ts puts the issuer's host in the header; the raw headers keep what came). */
function requestedHostname(ctx: Context): string | undefined {
  const raw = ctx.req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() !== 'host') continue;
    try {
      return new URL(`http://${raw[i + 1]}`).hostname;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function devOutboxRoutes(devOutbox: DevOutbox, issuer: string): Router {
  const router = new Router();
  const issuerHostname = new URL(issuer).hostname;
  const fromThisMachine = (ctx: Context) => {
    const hostname = requestedHostname(ctx);
    return isLoopbackAddress(ctx.socket.remoteAddress) && hostname !== undefined && (isLoopbackHost(hostname) || hostname === issuerHostname);
  };

  router.get('/dev/outbox.json', async (ctx) => {
    if (!fromThisMachine(ctx)) return;
    const entries = await devOutbox.latest(LATEST);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = entries.map(asJson);
  });

  router.get('/dev/outbox', async (ctx) => {
    if (!fromThisMachine(ctx)) return;
    const entries = await devOutbox.latest(LATEST);
    await renderPage(ctx, 'dev/outbox', {
      titleId: 'dev_outbox.title',
      messages: entries.map(asJson),
      callSaid: CALL_SAID.get(ctx.query.answered),
    });
  });

  return router;
}
