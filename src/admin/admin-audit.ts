// An administrator's change in the audit log: reason `admin`, and who made it. The CLI works with the database's own
// credentials, so no one signs in to it; "who" is what the machine it ran on says: LATCHKEY_ADMIN when the operator
// sets it (a shared service account, a container running as root), else the operating-system account and host.
// It tells a log reader which person or machine to ask; it is not a control, since anyone who can reach the
// database could write anything.
import { hostname, userInfo } from 'node:os';
import { createAuditLog, type AuditEvent } from '../audit/audit.ts';
import type { AdminSession } from './session.ts';
import { printable } from './output.ts';

/** At most this many characters of a name an operator chose. */
const MAX_ACTOR_LENGTH = 100;

export function adminActor(env: NodeJS.ProcessEnv): string {
  // Stored escaped: a newline in it would otherwise print as a forged row of `audit list` (and of any other reader).
  const chosen = printable(env.LATCHKEY_ADMIN?.trim() ?? '');
  if (chosen) return chosen.slice(0, MAX_ACTOR_LENGTH);
  let account: string;
  try {
    account = userInfo().username;
  } catch {
    // A user id with no account entry (common in containers).
    account = `uid ${process.getuid?.() ?? '?'}`;
  }
  return `${account}@${hostname()}`;
}

/** Records an administrator's change (reason `admin`, with the actor). */
export async function recordAdminChange(session: AdminSession, event: Omit<AuditEvent, 'reason' | 'actor'>): Promise<void> {
  await createAuditLog(await session.connection()).record({ ...event, reason: 'admin', actor: session.actor() });
}
