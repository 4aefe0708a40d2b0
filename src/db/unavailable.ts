// Whether an error means "the database cannot be reached right now" (it is down, restarting, or the network to it
// is), as opposed to a bug or bad data. Such errors become a 503 with a plain sentence (http/error-page.ts) and,
// at the protocol endpoints, `temporarily_unavailable` (oidc/provider.ts): the request changed nothing and can
// simply be retried.
const UNREACHABLE = new Set([
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    if (UNREACHABLE.has(current.name)) return true;
  }
  return false;
}
