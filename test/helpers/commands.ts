// Database commands as a test records them (startTestServer's onCommand): what each filters on, and which belong to
// an instance's own background work rather than to the request under test.
import type { ConnectOptions } from '../../src/db/connection.ts';
import { POLICY_COLLECTION } from '../../src/policy/store.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { REVOCATION_PASSES } from '../../src/oidc/revocation-passes.ts';

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
 * client cache's poll, the delivery sender's pass (and what it delivers to the development outbox), the expiry
 * sweeper's deletes by `expiresAt`, the audit retention's prune (a minute after the start, then hourly; no request
 * deletes audit events), and the look for revocation passes that are due (at the start, then every few seconds).
 */
export function isBackgroundWork(name: string, collection: string | undefined, command: Record<string, unknown>): boolean {
  if (collection === 'cache_epochs' || collection === 'outbox' || collection === 'outbox_claims' || collection === 'dev_outbox') return true;
  if (name === 'delete' && collection === AUDIT_COLLECTION) return true;
  if (name === 'find' && collection === REVOCATION_PASSES) return true;
  return name === 'delete' && filtersOf(name, command).every((f) => typeof f === 'object' && f !== null && Object.keys(f).join() === 'expiresAt');
}

/**
 * A read that lands in whichever request runs when a few seconds in memory lapse: the policy's
 * (POLICY_CACHE_SECONDS). It depends on the clock, not on the request, so steps compared with each other leave it out.
 */
export const isTimedRefresh = (collection: string | undefined): boolean => collection === POLICY_COLLECTION;

type CommandEvent = Parameters<NonNullable<ConnectOptions['onCommand']>>[0];

/**
 * The database work of one step at a time: give `onCommand` to startTestServer, then `commandsOf(step)` answers
 * with the step's result and its commands as `<name> <collection>`, sorted (commands that run side by side may
 * arrive in either order). `counts`: which commands are the step's (by default all but background work and timed
 * refreshes).
 */
export function stepRecorder(counts: (event: CommandEvent) => boolean = (e) => !isBackgroundWork(e.commandName, e.collection, e.command) && !isTimedRefresh(e.collection)) {
  let recorded: string[] | undefined;
  return {
    onCommand(event: CommandEvent) {
      if (recorded && counts(event)) recorded.push(`${event.commandName} ${event.collection}`);
    },
    async commandsOf<T>(step: () => Promise<T>): Promise<{ page: T; commands: string[] }> {
      recorded = [];
      try {
        const page = await step();
        return { page, commands: recorded.sort() };
      } finally {
        recorded = undefined;
      }
    },
  };
}
