// `npm run admin -- users …`: user accounts. Hashing uses the argon2 cost from the server's configuration, so
// accounts created here are not rehashed at their first sign-in. Password hashes are never printed.
import type { User } from '../accounts/user-model.ts';
import { MAX_USERS_PAGE, newAccountLogins } from '../accounts/users.ts';
import type { LockoutState } from '../accounts/lockout.ts';
import { defineCommand, pick, UsageError, wholeNumber, type Area } from './command.ts';
import { fields, isoDate, table, type Output } from './output.ts';
import { readPassword } from './password-input.ts';
import { auditAdminChange, checkLine, findUser, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, ownerNotices, ROLE_CHOICES, rolesFor, userView } from './user-admin.ts';
import { accounts } from './accounts-session.ts';
import { methodLines, methodsOf, securityInfoCommands } from './security-info-commands.ts';
import { DEFAULT_LOCALE } from '../http/i18n.ts';
import { createPolicyStore } from '../policy/store.ts';
import { restartProofRuns } from '../security/proof-ceiling.ts';
import { accountKeyOf } from '../flows/recovery/subject.ts';
import { ableToRecover, placesCalls, strandedNote } from './recoverability.ts';
import { createAccountAccess } from '../oidc/account-access.ts';
import type { BrowserDescription } from '../http/user-agent.ts';


/**
 * A password an administrator chooses is known to someone besides its user (ASVS 6.4.1): unless the administrator says
 * otherwise, it opens the account once, to a page where the user chooses their own before the sign-in completes.
 */
const TEMPORARY_NOTE =
  'The password works for one sign-in, which asks the user to choose their own before it completes; give\n' +
  '--permanent to make it theirs from the start (an account for a script, a password the user chose themselves).';
const PERMANENT_HELP = "The password is the user's own from the start: no new one asked for at the next sign-in";

function describe(user: User): string[] {
  const view = userView(user);
  return fields([
    ['id', view.id],
    ['username', view.username],
    ['email', `${view.email} (${view.emailVerified ? 'verified' : 'not verified'})`],
    ['name', view.name || '(none)'],
    ['status', view.status],
    ['roles', view.roles],
    ['password', view.passwordTemporary ? 'temporary: the user chooses their own at the next sign-in' : "the user's own"],
    ['created', view.createdAt],
  ]);
}

function printUser(out: Output, user: User, headline?: string): void {
  out.result(userView(user), () => [...(headline ? [headline] : []), ...describe(user)]);
}

const create = defineCommand({
  name: 'create',
  summary: 'Creates an active user account.',
  options: {
    username: { type: 'string', value: '<username>', required: true, help: '2-63 of a-z 0-9 . _ -, starting with a letter or digit' },
    email: { type: 'string', value: '<email>', required: true, help: 'Email address; the user can also sign in with it' },
    name: { type: 'string', value: '<name>', help: 'Display name' },
    'email-verified': { type: 'boolean', help: 'Mark the email address as verified (you checked it yourself)' },
    // No --password: a password on the command line is visible to other local users and stays in shell history.
    'password-stdin': { type: 'boolean', help: 'Read the password from standard input; prompts at a terminal' },
    permanent: { type: 'boolean', help: PERMANENT_HELP },
  },
  details: [
    "The password must meet the server's rules: at least the policy's passwordMinLength characters (15 unless",
    '`policy set` changed it), not a common password, and not built from the username, email address or name.',
    TEMPORARY_NOTE,
    '',
    'Examples:',
    '  npm run admin -- users create --username ada --email ada@example.com --name "Ada Lovelace" --password-stdin',
    "  printf '%s' \"$PASSWORD\" | npm run admin -- users create --username ada --email ada@example.com --password-stdin",
  ].join('\n'),
  async run({ values, out, io, session }) {
    if (!values['password-stdin']) throw new UsageError('give --password-stdin: the password is read from standard input (a prompt at a terminal)');
    checkLine(values.email, MAX_EMAIL_LENGTH, '--email', 'invalid_email');
    checkLine(values.name, MAX_NAME_LENGTH, '--name', 'invalid_name');
    // Said before the password is typed (twice, at a terminal), not after.
    newAccountLogins({ username: values.username!, email: values.email! });
    const password = await readPassword(io.stdin, io.stderr);
    const user = await (await accounts(session)).create({
      username: values.username,
      email: values.email,
      ...(values.name !== undefined && { name: values.name }),
      password,
      emailVerified: values['email-verified'] === true,
      passwordChangeRequired: values.permanent !== true,
    });
    await auditAdminChange(session, 'account.created', user);
    printUser(out, user, 'User created.');
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'Lists user accounts, a page at a time.',
  options: {
    limit: { type: 'string', value: '<n>', help: 'How many to show, at most 500 (default 50)' },
    skip: { type: 'string', value: '<n>', help: 'How many to skip, for the next page (default 0)' },
  },
  async run({ values, out, session }) {
    const limit = wholeNumber(values.limit, '--limit', 50, 1, MAX_USERS_PAGE);
    const skip = wholeNumber(values.skip, '--skip', 0);
    const users = await (await accounts(session)).list({ limit, skip });
    out.result(users.map(userView), () =>
      table(
        ['ID', 'USERNAME', 'EMAIL', 'NAME', 'STATUS', 'ROLES'],
        users.map((u) => [u._id, u.username, u.email, u.name, u.status, u.roles.join(',')]),
        '(no users)',
      ),
    );
  },
});

/** Whether the wrong passwords counted lock the account's password sign-in, as a helpdesk needs to see it. */
function signInLine(state: LockoutState): string {
  if (state.disabled) return 'turned off after too many wrong passwords in a row (unlock or a recovery ends it)';
  if (state.locked) return `locked until ${isoDate(state.lockedUntil!)} after ${state.threshold} wrong passwords (unlock or a recovery ends it)`;
  return `not locked (${state.failures} of ${state.threshold} wrong passwords counted)`;
}

const show = defineCommand({
  name: 'show',
  summary: 'Shows one user, named by id, username or email, with the verification methods they can recover with and whether wrong passwords have locked their sign-in.',
  arg: 'id-or-login',
  options: {},
  async run({ arg, out, session }) {
    const users = await accounts(session);
    const user = await findUser(users, arg);
    const methods = methodsOf(user);
    const lockout = await users.lockoutState(user._id);
    const signIn = { locked: lockout.locked, ...(lockout.lockedUntil && { lockedUntil: isoDate(lockout.lockedUntil) }), turnedOff: lockout.disabled, failures: lockout.failures };
    const lockedDownAt = user.lockedDownAt ? isoDate(user.lockedDownAt) : undefined;
    out.result({ ...userView(user), methods, signIn, ...(lockedDownAt && { lockedDownAt }) }, () => [
      ...describe(user),
      ...fields([
        ...methodLines(user),
        ['sign-in', signInLine(lockout)],
        ...(lockedDownAt ? [['locked down', `${lockedDownAt} ("This wasn't me" or lock-down; set-password or unlock ends it)`] as [string, string]] : []),
      ]),
    ]);
  },
});

function statusCommand(name: 'disable' | 'enable') {
  const status = name === 'disable' ? 'disabled' : 'active';
  return defineCommand({
    name,
    summary:
      name === 'disable'
        ? 'Disables a user: sign-in is refused with the same message as a wrong password, and every session, grant,\n' +
          'access token and refresh token of the account is revoked at once.'
        : 'Enables a disabled user again. Sessions and tokens revoked when it was disabled stay revoked.',
    arg: 'id-or-login',
    options: {},
    async run({ arg, out, session }) {
      const users = await accounts(session);
      const found = await findUser(users, arg);
      if (found.status === status) {
        // A disabled account's access was revoked when it was disabled, and nothing is issued to it since.
        printUser(out, found, `User ${found.username} was already ${status}; nothing changed.`);
        return;
      }
      const user = await users.setStatus(found._id, status);
      await auditAdminChange(session, status === 'disabled' ? 'account.disabled' : 'account.enabled', user);
      if (status === 'disabled' || !user.lockedDownAt) return printUser(out, user, `User ${user.username} is now ${status}.`);
      // Active again, but its lockdown still refuses the password: said, or the administrator would think them back in.
      // (Whether its owner was told of the lockdown is not known here: one made while the account was disabled was not.)
      const since = isoDate(user.lockedDownAt);
      out.result({ ...userView(user), lockedDownAt: since }, () => [
        `User ${user.username} is now active, but still locked down (since ${since}): sign-in is refused until a new password,`,
        'chosen with "Can\'t access your account?" (two of their methods) or given with set-password; unlock ends the lockdown.',
        'If it was locked down while disabled, its owner was not told: tell them, or run set-password.',
        ...describe(user),
      ]);
    },
  });
}

const setRole = defineCommand({
  name: 'set-role',
  summary: "Sets a user's role: admin, or none to remove it.",
  arg: 'id-or-login',
  options: { role: { type: 'string', value: '<role>', required: true, help: ROLE_CHOICES.join(' | ') } },
  async run({ arg, values, out, session }) {
    const roles = rolesFor(pick(ROLE_CHOICES, values.role, '--role'));
    const users = await accounts(session);
    const found = await findUser(users, arg);
    if ([...found.roles].sort().join() === [...roles].sort().join()) {
      // Nothing to write, to wait for or to audit.
      printUser(out, found, `Roles of ${found.username} were already ${roles.join(', ') || '(none)'}; nothing changed.`);
      return;
    }
    const user = await users.setRoles(found._id, roles);
    await auditAdminChange(session, 'account.roles_changed', user);
    printUser(out, user, `Roles of ${user.username}: ${roles.join(', ') || '(none)'}.`);
    const stranded = strandedNote(found, user, await createPolicyStore(await session.connection()).current(), placesCalls(session));
    if (stranded) out.note(stranded);
  },
});

const setPassword = defineCommand({
  name: 'set-password',
  summary:
    "Sets a new password for a user (an administrator's reset): the old one stops working, every session, grant,\n" +
    'access token and refresh token of the account is revoked at once, a lockout or a "This wasn\'t me" lockdown ends,\n' +
    'and recovery methods turned off after 100 wrong proofs in a row work again.',
  arg: 'id-or-login',
  options: {
    'password-stdin': { type: 'boolean', help: 'Read the password from standard input; prompts at a terminal' },
    permanent: { type: 'boolean', help: PERMANENT_HELP },
  },
  details: [
    TEMPORARY_NOTE,
    "The same rules as everywhere: at least the policy's passwordMinLength characters, not a common password, not",
    "built from the user's names and addresses. The user is told on every contact they registered, as after a recovery",
    '(unless the policy turns reset notices off), with the "This wasn\'t me" link; the running server sends it. Tell',
    'them the new password yourself. Recorded in the audit log (password.reset, admin).',
    '',
    'Example:',
    '  npm run admin -- users set-password ada --password-stdin',
  ].join('\n'),
  async run({ arg, values, out, io, session }) {
    if (!values['password-stdin']) throw new UsageError('give --password-stdin: the password is read from standard input (a prompt at a terminal)');
    const users = await accounts(session);
    const user = await findUser(users, arg);
    const password = await readPassword(io.stdin, io.stderr);
    // The rules, the new hash with the revocation, the lockout cleared.
    await users.resetPassword(user._id, password, { temporary: values.permanent !== true });
    await users.clearLockdown(user._id); // an administrator acting is what a lockdown waits for
    await restartProofRuns(await session.connection(), accountKeyOf(user._id)); // as after a recovery
    await auditAdminChange(session, 'password.reset', user);
    const connection = await session.connection();
    // Told like any reset (a helpdesk tricked into it is what the owner's "This wasn't me" is for). The message waits
    // in the outbox for the running server's sender; the owner's language is not known here: the default one.
    let told = 0;
    if ((await createPolicyStore(connection).current()).notify.onReset) told = await (await ownerNotices(session)).notify(user, 'reset', DEFAULT_LOCALE);
    out.result({ id: user._id, username: user.username, passwordSet: true, notified: told }, () => [
      `The password of ${user.username} is set. Every session and token of the account is revoked; tell them the new password.`,
      told ? `They are told on ${told} contact(s) they registered.` : 'They are not told (the policy turns reset notices off).',
    ]);
  },
});

const unlock = defineCommand({
  name: 'unlock',
  summary:
    "Ends a user's sign-in lockout (forgets every failed sign-in, for every browser) and a \"This wasn't me\" lockdown,\n" +
    'and turns back on the recovery methods turned off after 100 wrong proofs in a row (their counts start afresh).\n' +
    'The password stays: after a lockdown (the password may be known to someone else), set-password is what to use.\n' +
    'The owner is told on every contact they registered (with the "This wasn\'t me" link) when a lockdown ends, and when\n' +
    'a lockout ends unless the policy turns unlock notices off.',
  arg: 'id-or-login',
  options: {},
  async run({ arg, out, session }) {
    const users = await accounts(session);
    const user = await findUser(users, arg);
    const before = await users.lockoutState(user._id);
    // Told like an unlock by recovery (policy notify.onUnlock), with the "This wasn't me" link; always when a lockdown
    // ends: the password stays, so a helpdesk talked into it hands the account back to whoever the owner locked out.
    const policy = await createPolicyStore(await session.connection()).current();
    const tell = Boolean(user.lockedDownAt) || ((before.locked || before.disabled) && policy.notify.onUnlock);
    // Before anything changes: a shell without the servers' key is refused when a notice will go (it seals it).
    const notices = tell ? await ownerNotices(session) : undefined;
    await users.clearLockout(user._id);
    await restartProofRuns(await session.connection(), accountKeyOf(user._id));
    if (user.lockedDownAt) await users.clearLockdown(user._id); // "This wasn't me" too: an administrator acting is what it waits for
    await auditAdminChange(session, 'account.unlocked', user);
    const told = notices ? await notices.notify(user, 'unlock', DEFAULT_LOCALE) : 0;
    const view = {
      id: user._id,
      username: user.username,
      wasLocked: before.locked,
      ...(before.lockedUntil && { lockedUntil: before.lockedUntil }),
      wasDisabled: before.disabled,
      failures: before.failures,
      wasLockedDown: Boolean(user.lockedDownAt),
      notified: told,
    };
    out.result(view, () => [
      before.disabled
        ? `User ${user.username} had password sign-in disabled after too many wrong passwords in a row; it works again.`
        : before.locked
        ? `User ${user.username} was locked until ${isoDate(before.lockedUntil!)}; the lockout is over.`
        : user.lockedDownAt
        ? `User ${user.username} had no lockout from wrong passwords (${before.failures} failed sign-in(s) counted); the count is cleared.`
        : `User ${user.username} was not locked (${before.failures} failed sign-in(s) counted); the count is cleared.`,
      ...(user.lockedDownAt
        ? [`The "This wasn't me" lockdown since ${isoDate(user.lockedDownAt)} is over; the password is unchanged (set-password gives a new one).`]
        : []),
      'Recovery proofs are counted afresh: the daily budget is whole again, and a method turned off after 100 in a row works again.',
      ...(told ? [`They are told on ${told} contact(s) they registered.`] : []),
    ]);
  },
});

const signOut = defineCommand({
  name: 'sign-out',
  summary:
    'Signs a user out everywhere: every session, grant, access token and refresh token of the account is revoked at\n' +
    'once (a lost or shared device), and applications ask them to sign in again. The password and the methods stay.',
  arg: 'id-or-login',
  options: {},
  details: 'When the password may be known to someone else, lock-down (the owner resets it) or set-password is what to use.',
  async run({ arg, out, session }) {
    const users = await accounts(session);
    const user = await findUser(users, arg);
    await users.revokeAccess(user._id);
    await auditAdminChange(session, 'account.signed_out', user);
    out.result({ id: user._id, username: user.username, signedOut: true }, () => [
      `${user.username} is signed out everywhere: every session and token of the account is revoked. The password is unchanged.`,
    ]);
  },
});

/** A browser as the sessions page names it, in English. */
const browserText = ({ browser, os }: BrowserDescription) => `${browser ?? 'Unknown browser'}${os ? ` on ${os}` : ''}`;

const sessionsCommand = defineCommand({
  name: 'sessions',
  summary:
    'Lists where a user is signed in (each browser, when it signed in and was last used, the applications used from it)\n' +
    'and the applications holding access to the account: what its owner sees at /account/sessions. sign-out ends them all.',
  arg: 'id-or-login',
  options: {},
  async run({ arg, out, session }) {
    const users = await accounts(session);
    const user = await findUser(users, arg);
    const { sessions, apps } = await createAccountAccess(await session.connection()).list(user);
    const sessionViews = sessions.map(({ from, signedInAt, lastUsedAt, apps: used }) => ({
      browser: browserText(from),
      signedInAt: isoDate(signedInAt),
      ...(lastUsedAt && { lastUsedAt: isoDate(lastUsedAt) }),
      apps: used,
    }));
    const appViews = apps.map(({ clientId, name, since }) => ({ clientId, name, since: isoDate(since) }));
    out.result({ id: user._id, username: user.username, sessions: sessionViews, apps: appViews }, () => [
      `${user.username}: ${sessions.length === 0 ? 'signed in in no browser' : `signed in in ${sessions.length} ${sessions.length === 1 ? 'browser' : 'browsers'}`}; ${apps.length === 0 ? 'no application has' : `${apps.length} ${apps.length === 1 ? 'application has' : 'applications have'}`} access`,
      '',
      ...table(['BROWSER', 'SIGNED IN', 'LAST USED', 'APPLICATIONS USED'], sessionViews.map((view) => [view.browser, view.signedInAt, view.lastUsedAt ?? '-', view.apps.join(', ')]), '(no browser is signed in)'),
      '',
      ...table(['APPLICATION', 'CLIENT ID', 'ACCESS SINCE'], appViews.map((view) => [view.name, view.clientId, view.since]), '(no application has access)'),
    ]);
  },
});

const lockDown = defineCommand({
  name: 'lock-down',
  summary:
    'Locks an account down, as its owner\'s "This wasn\'t me" does, on evidence that someone else has its password: every\n' +
    'session and token is revoked at once, and sign-in refused (like a wrong password) until the owner chooses a new\n' +
    'password through "Can\'t access your account?", proving two of their methods, or an administrator runs\n' +
    'set-password or unlock. The owner is told on every contact they registered, with that way back in (unless the\n' +
    'account is disabled: recovery shows them nothing until users enable, which says it is still locked down).',
  arg: 'id-or-login',
  options: {},
  details: 'It warns when the account has too few methods to recover by itself: set-password is then the way back in.',
  async run({ arg, out, session }) {
    const users = await accounts(session);
    const user = await findUser(users, arg);
    // Told on every contact, with the way back in: the password alone no longer gets them anywhere. Not the owner of
    // a disabled account: that way back in shows it nothing until an administrator enables it.
    const disabled = user.status !== 'active';
    // Before anything changes: a shell without the servers' key is refused when a notice will go (it seals it).
    const notices = disabled ? undefined : await ownerNotices(session);
    await users.lockDown(user._id);
    await auditAdminChange(session, 'account.lockdown', user);
    const policy = await createPolicyStore(await session.connection()).current();
    const recoverable = ableToRecover({ ...user, lockedDownAt: new Date() }, policy, placesCalls(session));
    const told = notices ? await notices.notifyLockedDown(user, DEFAULT_LOCALE) : 0;
    out.result({ id: user._id, username: user.username, lockedDown: true, ableToRecover: recoverable, notified: told }, () => [
      `${user.username} is locked down: every session and token is revoked, and sign-in is refused until a new password.`,
      disabled
        ? 'The account is disabled too: it stays so until users enable; they are not told (recovery shows them nothing while it is disabled).'
        : recoverable
          ? 'They can choose a new one with "Can\'t access your account?" (two of their methods), or run set-password.'
          : 'They have too few methods to recover by themselves: run set-password and give them the new password.',
      ...(disabled ? [] : [`They are told on ${told} contact(s) they registered.`]),
    ]);
  },
});

export const usersArea: Area = {
  name: 'users',
  summary: 'Create, list, disable, enable, sign out, lock down and unlock user accounts, set their passwords, see where they are signed in; grant the admin role',
  commands: [create, list, show, statusCommand('disable'), statusCommand('enable'), setPassword, sessionsCommand, signOut, lockDown, unlock, setRole, ...securityInfoCommands],
};
