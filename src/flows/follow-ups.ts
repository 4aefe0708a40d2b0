// What follows a change of an account once it is made (a recovery's reset or unlock, a change of password): the
// revocation's deletions, the audit record, the owner's notice. Each is tried, in order, even when one before it
// failed (a failed audit write must not also lose the owner's notice), and a failure is logged rather than thrown:
// the change stands, so the page must still say so.
import type { Logger } from '../log.ts';

/** Runs `tasks` so; a failure is logged as `event` with the task's name and `context` (ids, never secrets). */
export async function runFollowUps(log: Logger, event: string, context: Record<string, unknown>, tasks: Record<string, () => Promise<unknown>>): Promise<void> {
  for (const [task, run] of Object.entries(tasks)) {
    try {
      await run();
    } catch (error) {
      log.error({ err: error, event, task, ...context }, 'a step after the change failed');
    }
  }
}
