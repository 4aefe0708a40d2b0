// User administration shared by the admin CLI (and, later, the admin console): finding the user an operator
// names, and the view of a user that may be shown. The view is an allow-list, so a field added to the user
// document later (a hash, a TOTP secret) is not printed by accident.
import type { Accounts } from '../accounts/users.ts';
import type { Role, User, UserStatus } from '../accounts/user-model.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import type { AuditType } from '../audit/audit.ts';
import { recordAdminChange } from './admin-audit.ts';
import type { AdminSession } from './session.ts';
import { createOutbox } from '../delivery/outbox.ts';
import { publishedServerIdentity } from '../delivery/server-identity.ts';
import { securityNotices } from '../flows/recovery/index.ts';
import type { Notifier } from '../flows/recovery/notices.ts';

export interface UserView {
  id: string;
  username: string;
  email: string;
  emailVerified: boolean;
  name: string;
  status: UserStatus;
  roles: Role[];
  /** Set by an administrator for one sign-in: the user chooses their own then. */
  passwordTemporary: boolean;
  createdAt: string;
  updatedAt: string;
}

export function userView(user: User): UserView {
  return {
    id: user._id,
    username: user.username,
    email: user.email,
    emailVerified: user.emailVerified,
    name: user.name,
    status: user.status,
    roles: [...user.roles],
    passwordTemporary: Boolean(user.passwordChangeRequired),
    createdAt: new Date(user.createdAt).toISOString(),
    updatedAt: new Date(user.updatedAt).toISOString(),
  };
}

/**
 * The user named by an id, a username or an email address. When the text is one user's id and another user's
 * login, nothing is guessed: acting on the wrong account (disabling it, making it an admin) is worse than asking.
 */
export async function findUser(accounts: Accounts, idOrLogin: string): Promise<User> {
  const [byId, byLogin] = await Promise.all([accounts.findById(idOrLogin), accounts.findByLogin(idOrLogin)]);
  if (byId && byLogin && byId._id !== byLogin._id) {
    throw new ConflictError('ambiguous_user', `'${idOrLogin}' is one user's id and another user's login; nothing was changed`);
  }
  const user = byId ?? byLogin;
  if (!user) throw new NotFoundError('user_not_found', `none has the id, username or email '${idOrLogin}'`);
  return user;
}

/**
 * The longest email address there is (methods/email.ts); a longer one could be stored but never found again, since
 * sign-in and lookups refuse logins over 320 characters.
 */
export { MAX_EMAIL_LENGTH } from '../methods/email.ts';
/** A display name is shown on pages and in messages: a line, not a document. */
export const MAX_NAME_LENGTH = 200;

/**
 * Refuses an email address or display name longer than the limits above, or with a control character (a line
 * break, a tab, an escape: a name is one line on pages, in messages and in what the CLI prints), naming the option.
 */
export function checkLine(value: string | undefined, max: number, flag: string, code: string): void {
  if (value === undefined) return;
  if (value.trim().length > max) throw new ValidationError(code, `${flag} has ${value.trim().length} characters; at most ${max}`);
  if (/\p{Cc}/u.test(value)) throw new ValidationError(code, `${flag} must not contain control characters (a line break, a tab)`);
}

/** The roles an operator can choose; `none` removes every role. */
export const ROLE_CHOICES = ['admin', 'none'] as const;
export type RoleChoice = (typeof ROLE_CHOICES)[number];

export function rolesFor(choice: RoleChoice): Role[] {
  return choice === 'none' ? [] : [choice];
}

/** Records an administrator's change to an account in the audit log (admin-audit.ts); `detail` goes in `method`. */
export async function auditAdminChange(session: AdminSession, type: AuditType, user: Pick<User, '_id'>, detail?: string): Promise<void> {
  await recordAdminChange(session, { type, accountId: user._id, ...(detail && { method: detail }) });
}

/**
 * The owner's security notices as admin commands send them: into the outbox, for the running server's sender (this
 * process may well exit before a mail server answers), sealed with the servers' DATA_ENCRYPTION_KEY (refused, with
 * `data_key_mismatch`, in a shell with another key: ask for this before changing anything).
 */
export async function ownerNotices(session: AdminSession): Promise<Notifier> {
  const connection = await session.connection();
  // Sealed with the servers' key, as theirs are: their sender opens them.
  const outbox = createOutbox(connection, { clock: Date.now, onEnqueued: () => {}, box: await session.serversSecretBox() });
  // Worded as the running server words them (its origin in the links, its brand), whatever this shell's environment
  // says; this process's own configuration only before any server has started on the database.
  const published = await publishedServerIdentity(connection);
  const config = published ? { ...session.config(), ...published } : session.config();
  return securityNotices({ connection, config, enqueue: outbox.enqueue }).notifier;
}
