// Database commands as a test records them (startTestServer's onCommand): what each filters on, and which belong to
// an instance's own background work rather than to the request under test.

/** The filters a command applies, by command shape (find, update, delete, findAndModify, count, aggregate…). */
export function filtersOf(name: string, command: Record<string, unknown>): unknown[] {
  switch (name) {
    case 'find':
    case 'count':
    case 'distinct':
      return [command.filter ?? command.query ?? {}];
    case 'update':
      return (command.updates as { q: unknown }[]).map((u) => u.q);
    case 'delete':
      return (command.deletes as { q: unknown }[]).map((d) => d.q);
    case 'findAndModify':
      return [command.query ?? {}];
    case 'aggregate':
      return [command.pipeline];
    default:
      return [];
  }
}

/**
 * An instance's own background work, which runs whether or not anyone signs in and may land in the recording: the
 * client cache's poll, the delivery sender's pass (and what it delivers to the development outbox), and the expiry
 * sweeper's deletes by `expiresAt`.
 */
export function isBackgroundWork(name: string, collection: string | undefined, command: Record<string, unknown>): boolean {
  if (collection === 'cache_epochs' || collection === 'outbox' || collection === 'outbox_claims' || collection === 'dev_outbox') return true;
  return name === 'delete' && filtersOf(name, command).every((f) => typeof f === 'object' && f !== null && Object.keys(f).join() === 'expiresAt');
}
