// Whether an error means "the database cannot be reached right now" (it is down, restarting, or the network to it
// is), as opposed to a bug or bad data. Such errors become a 503 with a plain sentence (http/error-page.ts) and,
// at the protocol endpoints, `temporarily_unavailable` (oidc/provider.ts): the request changed nothing and can
// simply be retried.
import type { Logger } from '../log.ts';

const UNREACHABLE = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  // A command cut off because the driver's heartbeat gave up on a silent server (db/connection.ts).
  'PoolClearedOnNetworkError',
]);

/** What an error wraps: its cause, or for a bulk write cut off by the network, the driver error it was built from. */
function wrapped(error: Error): unknown {
  const { errorResponse } = error as { errorResponse?: unknown };
  return error.cause ?? (errorResponse instanceof Error ? errorResponse : undefined);
}

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = wrapped(current), depth += 1) {
    if (UNREACHABLE.has(current.name)) return true;
  }
  return false;
}

/**
 * A background task's failure (a sweep, a prune): an unreachable database in one line, without a stack (the 503
 * pages and the local database's supervisor say so already); anything else is a bug, with its stack.
 */
export function warnBackgroundFailure(log: Logger, error: unknown, task: string, fields: Record<string, unknown> = {}): void {
  if (isDatabaseUnavailable(error)) log.warn({ ...fields, reason: (error as Error).message.split('\n')[0] }, `${task} failed: database unreachable`);
  else log.warn({ ...fields, err: error }, `${task} failed`);
}
