// Discovery is fixed for a given deployment (issuer, configuration, features): it is built once by the provider,
// then answered from memory ahead of it, with an ETag, so relying parties polling it cost next to nothing.
// Relying parties and proxies may also cache it for a few minutes (the library sends no Cache-Control of its own).
// Error answers are neither kept nor cached. A request with an Origin header (a browser's CORS request) still
// goes to the provider, whose CORS handling decides its headers.
import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { RequestState } from '../http/context.ts';

const DISCOVERY_MAX_AGE_SECONDS = 300;

export interface Snapshot {
  /** Encoded once, so each answer only copies it out. */
  body: Buffer;
  type: string;
  etag: string;
}

export const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/** Answers from a snapshot: 304 when the client already has it (If-None-Match), else the body. */
export function answerFromSnapshot(ctx: Context, snapshot: Snapshot, cacheControl: string): void {
  (ctx.state as RequestState).routine = true;
  ctx.set('ETag', snapshot.etag);
  ctx.set('Cache-Control', cacheControl);
  if (ctx.get('if-none-match').split(/\s*,\s*/).includes(snapshot.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = snapshot.type;
  ctx.body = snapshot.body;
}

export function discoveryCaching(issuerPath: string): Middleware {
  const paths = new Set([`${issuerPath}/.well-known/openid-configuration`, `${issuerPath}/.well-known/oauth-authorization-server`]);
  const snapshots = new Map<string, Snapshot>();
  const cacheControl = `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`;
  return async (ctx, next) => {
    if (!paths.has(ctx.path) || (ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.get('origin')) return next();
    const kept = snapshots.get(ctx.path);
    if (kept) return answerFromSnapshot(ctx, kept, cacheControl);
    await next();
    if (ctx.status !== 200 || ctx.method !== 'GET' || typeof ctx.body !== 'object' || ctx.body === null) return;
    const text = JSON.stringify(ctx.body);
    const snapshot = { body: Buffer.from(text), type: ctx.response.get('Content-Type') || 'application/json; charset=utf-8', etag: etagOf(text) };
    snapshots.set(ctx.path, snapshot);
    answerFromSnapshot(ctx, snapshot, cacheControl);
  };
}
