// Documents answered from memory (discovery, JWKS): a snapshot encoded once, answered with an ETag and the
// Cache-Control that suits it.
import { createHash } from 'node:crypto';
import type { Context, Middleware } from 'koa';
import type { RequestState } from './context.ts';

export interface Snapshot {
  /** Encoded once, so each answer only copies it out. */
  body: Buffer;
  type: string;
  etag: string;
}

/** A snapshot with the Cache-Control it is answered with. */
export interface PreparedAnswer {
  snapshot: Snapshot;
  cacheControl: string;
}

/**
 * A document kept in memory. `ready` gives its answer for a path when one is prepared, so that it can be answered
 * ahead of everything else (prepared-documents.ts); `prepare`, in the full chain, builds or refreshes it and
 * answers the requests that found it not ready.
 */
export interface PreparedDocument {
  /** Where it is answered (GET and HEAD). */
  paths: readonly string[];
  ready(path: string): PreparedAnswer | undefined;
  prepare: Middleware;
}

export const etagOf = (body: string) => `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;

/**
 * Whether an If-None-Match header names the current copy (RFC 9110 §13.1.2): `*`, or a listed tag equal to `etag`
 * by weak comparison (a cache or a proxy that compressed the body may send it back marked `W/`).
 */
function hasCopy(ifNoneMatch: string, etag: string): boolean {
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * Answers from a snapshot: 304 when the client already has it (If-None-Match), else the body. Both documents are
 * public and carry no credentials, so any origin may read them: the same CORS answer as the provider's own
 * ("open" for discovery and JWKS), without varying by Origin, so one cached copy serves every origin.
 */
export function answerFromSnapshot(ctx: Context, { snapshot, cacheControl }: PreparedAnswer): void {
  (ctx.state as RequestState).routine = true;
  ctx.set('ETag', snapshot.etag);
  ctx.set('Cache-Control', cacheControl);
  ctx.set('Access-Control-Allow-Origin', '*');
  if (hasCopy(ctx.get('if-none-match'), snapshot.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.type = snapshot.type;
  ctx.body = snapshot.body;
}
