// /healthz: the process answers. /readyz: it can also reach the database (load balancers route on this one).
import type { Middleware } from 'koa';
import type { Connection } from 'mongoose';
import { isDatabaseReachable } from '../db/connection.ts';

export function healthChecks(connection: Connection, isShuttingDown: () => boolean): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      const ready = !isShuttingDown() && (await isDatabaseReachable(connection));
      ctx.set('Cache-Control', 'no-store');
      ctx.status = ready ? 200 : 503;
      ctx.body = { status: ready ? 'ready' : 'unavailable' };
      return;
    }
    return next();
  };
}
