// Accounts: creating users, finding them by login name, checking passwords. Used by the sign-in pages,
// oidc-provider's findAccount and the admin commands.
//
// A user is found by username or email through `_id`-keyed alias documents (`login:<name>` → user id), so the
// sign-in path never filters on another field. Claiming the aliases by insert also makes names unique atomically.
//
// A new password, wherever it is chosen (create, resetPassword), meets password-rules.ts with the policy's
// minimum; a sign-in spends a try of the lockout (lockout.ts) before its password counts.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, consume, NEVER_EXPIRES, type ExpiringDoc } from '../db/atomic.ts';
import { detached, forget, peek, remembered } from '../db/request-scope.ts';
import { announceChange, changeSettled, COPIES_OUTLIVED_MS, copiesOutlived, type EpochCache } from '../db/epoch-cache.ts';
import type { PasswordHasher } from './passwords.ts';
import { assertNewPassword, PasswordRejectedError } from './password-rules.ts';
import { createLockout, type ClientInfo, type LockoutOptions, type LockoutState } from './lockout.ts';
import { userModel, type Role, type User, type UserStatus } from './user-model.ts';
import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { UnreadableSecretError } from '../security/encryption.ts';
import { createPolicyStore } from '../policy/store.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';

const ALIASES = 'user_aliases';

/** An id no account has: read in place of a missing account's, so that the work (and the time) is the same. */
export const NO_ACCOUNT_ID = '\u0000no-such-user';

/** The most accounts one `list` returns. */
export const MAX_USERS_PAGE = 500;
export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,62}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * A new account's username and email address as they would be stored (trimmed, lower case), or a ValidationError
 * saying which is malformed: asked before anything else (the admin CLI asks before it prompts for the password).
 */
export function newAccountLogins(input: { username: string; email: string }): { username: string; email: string } {
  const username = input.username.trim().toLowerCase();
  const email = input.email.trim().toLowerCase();
  if (!USERNAME_PATTERN.test(username)) throw new ValidationError('invalid_username', '2 to 63 characters, each a-z, 0-9, dot, underscore or hyphen, starting with a letter or a digit');
  if (!EMAIL_PATTERN.test(email)) throw new ValidationError('invalid_email', 'email address is not valid');
  return { username, email };
}

export interface NewUser {
  username: string;
  email: string;
  name?: string;
  password: string;
  emailVerified?: boolean;
  roles?: Role[];
  /** A temporary password (an administrator's): the person chooses their own at their first sign-in. */
  passwordChangeRequired?: boolean;
}

/**
 * A successful sign-in also hands out a fresh device token, for the browser's device cookie (lockout.ts): with it,
 * this browser keeps a budget of its own when the account is locked for everyone else.
 */
export type SignInResult = { ok: true; user: User; deviceToken: string } | { ok: false };

/** Removes every session, grant and token of an account (oidc/revocation.ts); the domain only knows it exists. */
export type RevokeAccountAccess = (accountId: string, issuedBefore?: Date, options?: { prune?: boolean }) => Promise<void>;

/**
 * Whether something issued to `user` at `issuedAt` (seconds) still counts: the account is active, not locked down,
 * and its access was not revoked since. Same-second issue is allowed (token times have one-second resolution); what
 * was issued before a revocation in that same second is deleted by the revocation itself. A sign-in whose browser
 * has not yet come back for its code is not stored under the account: it brings its own time to the millisecond,
 * `issuedAtMs`, which then decides.
 */
export function isAccessCurrent(user: Pick<User, 'status' | 'revokedAt' | 'lockedDownAt'>, issuedAt: number, issuedAtMs?: number): boolean {
  if (user.status !== 'active' || user.lockedDownAt) return false;
  if (!user.revokedAt) return true;
  const revokedAtMs = new Date(user.revokedAt).getTime();
  return issuedAtMs === undefined ? issuedAt >= Math.floor(revokedAtMs / 1000) : issuedAtMs >= revokedAtMs;
}

/** The account's revocation to the millisecond (0: never revoked): the one a password check read it under. */
export const revocationMsOf = (user: Pick<User, 'revokedAt'>): number => (user.revokedAt ? new Date(user.revokedAt).getTime() : 0);

/**
 * Whether the account's access was revoked after a password check that read it under the revocation `seenMs`: a
 * reset (a sign-out everywhere, a disable) whose write landed after the check read the account and its password,
 * whatever the clocks say. `isAccessCurrent` compares times, and a revocation's time is taken by whoever made it
 * (another instance, the admin CLI's host, its clock perhaps behind) before its write reaches the database: a check
 * can fall after that time and still read the old password. Only a later revocation counts, so that a copy of the
 * account cached from before the check (another instance's, for a second or two) refuses nothing.
 */
export const revokedSinceCheck = (user: Pick<User, 'revokedAt'>, seenMs: number): boolean => revocationMsOf(user) > seenMs;

/**
 * A password change judged on the account as it was is refused: the account's access was revoked since (a reset by
 * an administrator or another flow, a lockdown, a disable). Nothing was written.
 */
export class AccountChangedError extends AppError {
  constructor() {
    super(409, 'account_changed', 'recover.verify_again', 'the account was revoked since the change was judged; nothing was written');
  }
}

declare const checkedByTheRules: unique symbol;
/** A new password that met the rules, hashed (`preparePassword`): the only thing `replacePassword` writes. */
export interface PreparedPassword {
  readonly accountId: string;
  readonly hash: string;
  readonly [checkedByTheRules]: true;
}

export interface Accounts {
  create(input: NewUser): Promise<User>;
  /** The account as stored now (sign-in, recovery, admin): never a copy from another request. */
  findById(id: string): Promise<User | null>;
  /**
   * The account as stored now, even when this request read it already: for a decision made again after a long wait
   * (an argon2 run), which must see a reset or a lockdown that landed meanwhile.
   */
  findAgain(id: string): Promise<User | null>;
  /**
   * The account for checks that run on every protocol request (findAccount, token use, the consent page): from the
   * instance's account cache when it has it (db/epoch-cache.ts; a change made elsewhere reaches it within seconds).
   */
  findCurrent(id: string): Promise<User | null>;
  /** By username or email, case-insensitive. */
  findByLogin(login: string): Promise<User | null>;
  /**
   * The same answer, in the same time and with the same argon2 work, for an unknown login, a wrong password, a
   * disabled account and a locked one. `client` carries the device cookie (and, for the audit log, the address).
   * `recordSuccess` records a successful sign-in where the caller needs it (the interaction's result); it runs at the
   * same time as the lockout's clear, and the sign-in resolves once both are done (it fails if either does).
   * `recordFailure` records any failure (the sign-in challenge's counts) while the failure waits for its minimum
   * time, so its work does not show in that time.
   */
  signIn(login: string, password: string, client?: ClientInfo, recordSuccess?: (user: User) => Promise<void>, recordFailure?: () => Promise<void>): Promise<SignInResult>;
  /**
   * Starts reading the account `login` names into this request's memory (db/request-scope.ts), for a `signIn` later
   * in the same request to find there; read errors are left for that `signIn` to meet.
   */
  prefetchLogin(login: string): void;
  /**
   * Keeps `language`, the page language the owner just signed in with, for the notices sent to them later: written
   * only when it differs from the one kept (once per account, then only when the owner's language changes).
   */
  rememberLanguage(user: User, language: string): Promise<void>;
  /** Disabling also revokes every session, grant and token of the account; enabling brings none of them back. */
  setStatus(id: string, status: UserStatus): Promise<User>;
  /** Ends the account's access everywhere: sessions, grants, access and refresh tokens (a reset, a lockdown). */
  revokeAccess(id: string): Promise<void>;
  /** True when the account exists, is active and its access was not revoked after `issuedAt` (seconds). */
  isAccessCurrent(id: string, issuedAt: number): Promise<boolean>;
  setRoles(id: string, roles: Role[]): Promise<User>;
  /**
   * A new password checked against the rules (PasswordRejectedError with the reason when refused) and hashed: the
   * slow part of a reset, done before anything changes (`replacePassword` writes it).
   */
  preparePassword(id: string, password: string): Promise<PreparedPassword>;
  /**
   * As `preparePassword`, for the person's own password in place of a temporary one: also refused
   * (`password.reused`) when it is the temporary one again.
   */
  prepareOwnPassword(id: string, password: string): Promise<PreparedPassword>;
  /**
   * As `preparePassword`, for an account locked down after "This wasn't me": also refused (`password.unchanged`)
   * when it is the account's password now, which whoever made the reported change may know.
   */
  prepareNewPassword(id: string, password: string): Promise<PreparedPassword>;
  /**
   * Whether `password` is the account's password as stored now (read anew; one argon2 verification). `savedWith`:
   * only the password written with that revocation (replacePassword's) is asked about; once the account has changed
   * since (an administrator's new password, say) the answer is false without a verification, so the question cannot
   * test guesses at a newer password.
   */
  hasPassword(id: string, password: string, options?: { savedWith?: Date }): Promise<boolean>;
  /**
   * Writes a prepared password and the account's revocation in one write: from then on no session or token issued
   * before it is honoured (`isAccessCurrent`), so a reset never leaves the old ones working, whatever fails after it.
   * Deleting them (`revokeAccess`) and clearing the lockout are the caller's. `judged`: the account as the caller
   * last judged it; written only while its revocation (`revokedAt`) is still that one, else AccountChangedError.
   * Resolves to the revocation it wrote (`revokedAt` from then on, until the account's next change).
   */
  replacePassword(prepared: PreparedPassword, judged: Pick<User, 'revokedAt'>): Promise<Date>;
  /**
   * All of a reset at once (an administrator's set-password): prepared, written with the revocation, sessions and
   * tokens deleted, lockout cleared. `temporary`: the person must choose their own at their next sign-in.
   */
  resetPassword(id: string, password: string, options?: { temporary?: boolean }): Promise<void>;
  /** Forgets the account's failed sign-ins and lockouts, for every client (an unlock; a reset does it too). */
  clearLockout(id: string): Promise<void>;
  /** Whether the account is locked for browsers without its device cookie. */
  isLocked(id: string): Promise<boolean>;
  /** The browser whose device cookie has this nonce no longer has a sign-in budget of its own (its session was ended). */
  forgetDevice(id: string, nonce: string): Promise<void>;
  lockoutState(id: string): Promise<LockoutState>;
  /**
   * Sets (a string) or clears (null) the verification methods an administrator registers for the user; phone
   * numbers must already be E.164 and authenticator seeds sealed (methods/, security/encryption.ts).
   */
  setSecurityInfo(id: string, changes: { alternateEmail?: string | null; mobilePhone?: string | null; officePhone?: string | null; totpSecret?: string | null; appDevice?: { id: string; name: string } | null }): Promise<User>;
  /** The owner said their security info is right (at sign-in: interactions/security-info.ts), at `at`. */
  confirmSecurityInfo(id: string, at: Date): Promise<void>;
  /** "This wasn't me": access revoked everywhere, and sign-in refused until a full recovery or an admin clears it. */
  lockDown(id: string): Promise<void>;
  clearLockdown(id: string): Promise<void>;
  list(options?: { limit?: number; skip?: number }): Promise<User[]>;
}

/**
 * How long after a revocation is written its second pass may run on any instance: once no instance can still serve a
 * copy of the account loaded before the write, however it was announced, and 10 s more for a clock that runs ahead.
 */
export const SECOND_PASS_DUE_MS = COPIES_OUTLIVED_MS + 10_000;

/** A revocation's second pass, written down (`schedule`) and run (`run`, which then forgets it). */
export interface SecondPasses {
  schedule(accountId: string, revokedAt: Date, dueAt: Date): Promise<void>;
  run(accountId: string, revokedAt: Date): Promise<void>;
}

export function loginKey(login: string): string {
  return `login:${login.trim().normalize('NFKC').toLowerCase()}`;
}

export interface AccountOptions extends Partial<Pick<LockoutOptions, 'clock' | 'onLocked' | 'audit' | 'log' | 'configurationKey'>> {
  /** A failed sign-in takes at least this long (ms), whatever made it fail. */
  failureMinMs?: number;
  /** The service's name as its users see it (BRAND_NAME): a new password must not be built from it. */
  serviceName?: string;
  /** The recovery and lockout policy (password minimum, lockout numbers); read from the database when absent. */
  policy?: { current(): Promise<RecoveryPolicy> };
  /** Accounts kept in memory across requests (the server's); without it every read goes to the database. */
  accountCache?: EpochCache;
  /**
   * Where the second pass of a revocation made with `accountCache` is written down until it has run, so that another
   * instance runs it should this one stop first (oidc/revocation-passes.ts); without it the pass lives in memory only.
   */
  secondPasses?: SecondPasses;
  /**
   * Runs after every change to an existing account. The default announces it to every instance's account cache
   * (the server's own cache is emptied at once); admin commands also wait until no instance can still use the old
   * version, so `users disable` takes effect everywhere by the time it returns.
   */
  afterChange?: () => Promise<void>;
}

const sleep = (ms: number) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

export function createAccounts(
  connection: Connection,
  hasher: PasswordHasher,
  revokeAccountAccess: RevokeAccountAccess,
  { failureMinMs = 0, policy, clock, onLocked, audit, log, accountCache, secondPasses, afterChange, serviceName, configurationKey }: AccountOptions = {},
): Accounts {
  const users = userModel(connection);
  const aliases = connection.db!.collection<ExpiringDoc>(ALIASES);
  const policyStore = policy ?? createPolicyStore(connection, clock);
  const lockout = createLockout({ connection, policy: policyStore, clock, onLocked, audit, log, configurationKey });

  async function checkPassword(password: string, identifiers: string[]): Promise<void> {
    const { passwordMinLength } = await policyStore.current();
    await assertNewPassword(password, { minLength: passwordMinLength, identifiers, serviceNames: serviceName ? [serviceName] : [] });
  }

  // The driver directly, not a mongoose query: this runs several times per sign-in, and once per request at most
  // (db/request-scope.ts); every write below forgets the request's copy.
  const userDocs = connection.db!.collection<User>(users.collection.name);
  const userKey = (id: string) => `users:${id}`;
  const currentKey = (id: string) => `users-current:${id}`;
  const load = (id: string) => () => userDocs.findOne({ _id: id });
  async function findById(id: string): Promise<User | null> {
    return remembered(userKey(id), () => (accountCache ? accountCache.fresh(id, load(id)) : load(id)()));
  }

  /** The account read anew, though this request read it already (another request may have changed it since). */
  function findAgain(id: string): Promise<User | null> {
    forget(userKey(id));
    return findById(id);
  }

  async function findCurrent(id: string): Promise<User | null> {
    // A copy this request read fresh is as good; otherwise the cache's.
    return remembered(currentKey(id), async () => (await peek<User | null>(userKey(id))) ?? (accountCache ? accountCache.find(id, load(id)) : load(id)()));
  }

  /** After every write to an existing account: this request's copies go, and every instance hears of it. */
  const announce = afterChange ?? (() => (accountCache ? accountCache.changed() : announceChange(connection, 'accounts').then(() => {})));
  function forgetCopies(id: string): void {
    forget(userKey(id));
    forget(currentKey(id));
  }
  async function changed(id: string): Promise<void> {
    forgetCopies(id);
    await announce();
  }

  async function findByLogin(login: string): Promise<User | null> {
    if (!login || login.length > 320) return null;
    const key = loginKey(login);
    const alias = await remembered(`${ALIASES}:${key}`, () => aliases.findOne({ _id: key }));
    if (!alias || typeof alias.userId !== 'string') return null;
    return findById(alias.userId);
  }

  async function mustFind(id: string): Promise<User> {
    const user = await findById(id);
    if (!user) throw new NotFoundError('user_not_found', `no user ${id}`);
    return user;
  }

  /** Writes `changes` to an existing account, not yet announced; this request's copies go. */
  async function write(id: string, changes: Partial<User>): Promise<void> {
    const result = await users.updateOne({ _id: id }, { $set: changes }).exec();
    forgetCopies(id);
    if (result.matchedCount === 0) throw new NotFoundError('user_not_found', `no user ${id}`);
  }

  async function update(id: string, changes: Partial<User>): Promise<User> {
    await write(id, changes);
    await announce();
    return mustFind(id);
  }

  /**
   * Whether `password` is the account's. A hash no configured key opens (DATA_ENCRYPTION_KEY changed without the old
   * one in DATA_ENCRYPTION_KEY_PREVIOUS) is the configuration's fault: the operator is told, and the person gets the
   * answer of a wrong password, in the same time (any other answer would tell which logins exist).
   */
  async function verifyStored(user: User, password: string): Promise<boolean> {
    try {
      return await hasher.verify(user.passwordHash, password);
    } catch (error) {
      if (!(error instanceof UnreadableSecretError)) throw error;
      log?.error({ event: 'secret_unreadable', accountId: user._id }, "a password hash opens with neither DATA_ENCRYPTION_KEY nor any key in DATA_ENCRYPTION_KEY_PREVIOUS: the account cannot sign in until the key is back or its password is set again");
      await hasher.verifyDummy(password);
      return false;
    }
  }

  /** `password` as a new password of `user`: refused (PasswordRejectedError) unless the rules accept it, else hashed. */
  async function prepareFor(user: User, password: string): Promise<PreparedPassword> {
    await checkPassword(password, [user.username, user.email, user.name, user.securityInfo?.alternateEmail ?? '']);
    return { accountId: user._id, hash: await hasher.hash(password) } as PreparedPassword;
  }

  async function preparePassword(id: string, password: string): Promise<PreparedPassword> {
    return prepareFor(await mustFind(id), password);
  }

  /**
   * As preparePassword, refused with `reason` when it is the account's password now. The rules judge it first, so
   * that only a password they accept is ever compared: the answer cannot tell whether a weak guess is the password.
   * A hash no configured key opens is not the same password (`verifyStored`), so such an account can still be reset.
   */
  async function prepareDifferentPassword(id: string, password: string, reason: 'password.reused' | 'password.unchanged'): Promise<PreparedPassword> {
    const user = await mustFind(id);
    const prepared = await prepareFor(user, password);
    if (await verifyStored(user, password)) throw new PasswordRejectedError(reason, (await policyStore.current()).passwordMinLength);
    return prepared;
  }

  /** `alongside`: other changes made in the same write (one announcement, one wait for an admin command). */
  async function revokeAccess(id: string, alongside: Partial<User> = {}): Promise<void> {
    // The time first: from this moment every check refuses the old sessions and tokens, including any being
    // issued while the deletions below run.
    const revokedAt = new Date();
    await write(id, { ...alongside, revokedAt });
    // The error, if telling the other instances failed: the change is written all the same, and the deletions run.
    const announced = announce().then(
      () => undefined,
      (error: unknown) => error,
    );
    if (accountCache) {
      // Other instances may act on their cached copy of the account until the trust window has passed (an
      // authorization in flight there can still save a grant or issue a code): the deletions run once more after
      // it, so nothing issued in that window outlives it, but for a sign-in made since, with its grants (the
      // owner's, with the new password). If the announcement was lost, they hear of it only when their copies age
      // out, and the second pass waits for that. Admin commands wait the window out before deleting. Written down
      // first (any instance runs it once those copies are surely gone, should this one stop before it does), and
      // set going before the first pass, so that a first pass that fails is still followed by this one.
      await secondPasses
        ?.schedule(id, revokedAt, new Date(Date.now() + SECOND_PASS_DUE_MS))
        .catch((error: unknown) => log?.error({ err: error, accountId: id }, 'writing down the second revocation pass failed: it runs from memory only'));
      const runSecondPass = () => (secondPasses ? secondPasses.run(id, revokedAt) : revokeAccountAccess(id, revokedAt));
      void detached(() =>
        announced
          .then((failure) => (failure === undefined ? changeSettled() : copiesOutlived()))
          .then(runSecondPass)
          .catch((error: unknown) => log?.error({ err: error, accountId: id }, 'second revocation pass failed')),
      );
    }
    const failure = await announced;
    // With a second pass to come, the first leaves the index as it is (oidc/revocation.ts RevocationPass).
    await revokeAccountAccess(id, undefined, { prune: !accountCache });
    if (failure === undefined) return;
    // The server's second pass covers it; an admin command has none and must say that it did not take effect
    // everywhere at once (run it again).
    if (!accountCache) throw failure;
    log?.error({ err: failure, accountId: id }, 'announcing a revocation failed: other instances learn of it within 30 seconds, and the second pass waits for that');
  }

  return {
    async create(input) {
      const { username, email } = newAccountLogins(input);
      await checkPassword(input.password, [username, email, input.name ?? '']);
      // Operators name accounts by id in admin commands: one starting with "-" would read as an option (as for
      // client ids, which start with "c").
      const id = `u${randomBytes(16).toString('base64url')}`;
      const passwordHash = await hasher.hash(input.password);
      const claimed: string[] = [];
      const releaseClaims = async () => {
        for (const mine of claimed) await consume(aliases, mine);
      };
      for (const key of [loginKey(username), loginKey(email)]) {
        if (!(await claim(aliases, key, NEVER_EXPIRES, { userId: id }))) {
          await releaseClaims();
          throw new ConflictError('login_taken', `${key.slice('login:'.length)} is already in use`);
        }
        claimed.push(key);
      }
      try {
        const created = await users.create({
          _id: id,
          username,
          email,
          emailVerified: input.emailVerified ?? false,
          name: input.name ?? '',
          passwordHash,
          roles: input.roles ?? [],
          ...(input.passwordChangeRequired && { passwordChangeRequired: true }),
        });
        return created.toObject();
      } catch (error) {
        await releaseClaims();
        throw error;
      }
    },

    findById,
    findAgain,
    findCurrent,
    findByLogin,

    prefetchLogin(login) {
      findByLogin(login).catch(() => {});
    },

    async rememberLanguage(user, language) {
      // Written even for the default language the first time: none kept means the owner never signed in since, and
      // notices then speak the language of whoever caused them.
      if (user.language === language) return;
      // Not announced to the other instances: only notices read it, from accounts read afresh (findById), so their
      // cached copies (token use) lose nothing by lacking it, and keep serving.
      await write(user._id, { language });
    },

    async signIn(login, password, client = {}, recordSuccess, recordFailure) {
      const started = performance.now();
      // Every failure answers at the same earliest moment: an unknown login, a wrong password, a disabled or
      // locked account, or a hash with older, cheaper parameters (after ARGON2_* was raised) all look alike in time.
      // A known account's bookkeeping (its lockout count) runs within that wait, not before it, so that it adds no
      // time when the verification itself ran past the minimum.
      const failed = async (bookkeeping?: Promise<unknown>): Promise<SignInResult> => {
        await Promise.all([sleep(started + failureMinMs - performance.now()), recordFailure?.(), bookkeeping]);
        return { ok: false };
      };
      const user = await findByLogin(login);
      if (!user) {
        // The same work as for a known user (a user read and an argon2 verification), so time tells nothing even
        // when an argon2 run takes longer than the minimum.
        await findById(NO_ACCOUNT_ID);
        await hasher.verifyDummy(password);
        return failed();
      }
      // The try is taken before the password's answer counts (a locked account's password is verified all the
      // same, so the work is the same); both run at once.
      const [valid, attempt] = await Promise.all([verifyStored(user, password), lockout.attempt(user._id, password, client, user.revokedAt)]);
      if (!attempt.allowed || !valid) return failed(attempt.failed());
      if (user.status !== 'active' || user.lockedDownAt) return failed();
      const rehashed = await hasher.rehash(user.passwordHash, password);
      if (rehashed) {
        // Only over the hash just verified: a password reset that lands while this one is hashed must not be
        // undone by the old password's new hash. Atomic on MongoDB; on FerretDB (no atomic conditional update,
        // and a filter beyond _id scans) it still narrows the race from an argon2 run to the write itself. Rare:
        // once per account after the argon2 cost is raised.
        const written = await users.updateOne({ _id: user._id, passwordHash: user.passwordHash }, { $set: { passwordHash: rehashed } });
        if (written.modifiedCount > 0) await changed(user._id);
      }
      const deviceToken = await lockout.issueDeviceToken(user._id);
      await Promise.all([lockout.clearLockout(user._id), recordSuccess?.(user)]);
      return { ok: true, user, deviceToken };
    },

    async setStatus(id, status) {
      if (status === 'disabled') await revokeAccess(id, { status });
      else await update(id, { status });
      return mustFind(id);
    },

    revokeAccess: (id) => revokeAccess(id),

    async isAccessCurrent(id, issuedAt) {
      const user = await findCurrent(id);
      return Boolean(user) && isAccessCurrent(user!, issuedAt);
    },
    setRoles: (id, roles) => update(id, { roles }),

    preparePassword,

    prepareOwnPassword: (id, password) => prepareDifferentPassword(id, password, 'password.reused'),
    prepareNewPassword: (id, password) => prepareDifferentPassword(id, password, 'password.unchanged'),

    async hasPassword(id, password, { savedWith } = {}) {
      const user = await findAgain(id);
      if (!user) return false;
      if (savedWith && new Date(user.revokedAt ?? 0).getTime() !== savedWith.getTime()) return false;
      return hasher.verify(user.passwordHash, password);
    },

    async replacePassword({ accountId, hash }, judged) {
      // Only over the revocation the caller judged: a reset that landed since (an administrator's, another flow's)
      // must not be undone by this older one. Atomic on MongoDB; on FerretDB (no atomic conditional update, and a
      // filter beyond _id scans) it narrows the race to the write itself. Rare: once per password change.
      // Whoever chose it, it is no longer a temporary one.
      const current = { _id: accountId, revokedAt: judged.revokedAt ?? null };
      const revokedAt = new Date();
      const result = await users.updateOne(current, { $set: { passwordHash: hash, revokedAt }, $unset: { passwordChangeRequired: '' } }).exec();
      if (result.matchedCount === 0) throw (await users.exists({ _id: accountId })) ? new AccountChangedError() : new NotFoundError('user_not_found', `no user ${accountId}`);
      // Written: the reset has happened, and nothing after this may say otherwise. Other instances learn of it now,
      // or from the revocation that follows (which announces again); until then their cached copy trusts itself
      // for the trust window at most.
      await changed(accountId).catch((error: unknown) => log?.error({ err: error, accountId }, 'announcing a new password failed'));
      return revokedAt;
    },

    async resetPassword(id, password, { temporary = false } = {}) {
      const { hash } = await preparePassword(id, password);
      await revokeAccess(id, { passwordHash: hash, passwordChangeRequired: temporary });
      await lockout.clearLockout(id);
    },

    clearLockout: (id) => lockout.clearLockout(id),
    forgetDevice: (id, nonce) => lockout.forgetDevice(id, nonce),
    isLocked: (id) => lockout.isLocked(id),
    lockoutState: (id) => lockout.lockoutState(id),

    async setSecurityInfo(id, changes) {
      const set: Record<string, unknown> = {};
      const unset: Record<string, ''> = {};
      const paths = { alternateEmail: 'securityInfo.alternateEmail', mobilePhone: 'securityInfo.mobilePhone', officePhone: 'securityInfo.officePhone', totpSecret: 'securityInfo.authenticator', appDevice: 'securityInfo.appDevice' } as const;
      for (const [key, path] of Object.entries(paths) as Array<[keyof typeof paths, string]>) {
        const value = changes[key];
        if (value === undefined) continue;
        if (value === null) unset[path] = '';
        else if (key === 'totpSecret') set[path] = { totpSecret: value, registeredAt: new Date() };
        else if (key === 'appDevice') set[path] = { ...(value as object), registeredAt: new Date() };
        else set[path] = value;
      }
      const result = await users.updateOne({ _id: id }, { ...(Object.keys(set).length && { $set: set }), ...(Object.keys(unset).length && { $unset: unset }) }).exec();
      await changed(id);
      if (result.matchedCount === 0) throw new NotFoundError('user_not_found', `no user ${id}`);
      return mustFind(id);
    },

    async confirmSecurityInfo(id, at) {
      await users.updateOne({ _id: id }, { $set: { 'securityInfo.confirmedAt': at } }).exec();
      await changed(id);
    },

    async lockDown(id) {
      await revokeAccess(id, { lockedDownAt: new Date((clock ?? Date.now)()) });
    },

    async clearLockdown(id) {
      await users.updateOne({ _id: id }, { $unset: { lockedDownAt: '' } }).exec();
      await changed(id);
    },

    async list({ limit = 50, skip = 0 } = {}) {
      return users.find().sort({ createdAt: 1, _id: 1 }).skip(skip).limit(Math.min(limit, MAX_USERS_PAGE)).lean<User[]>().exec();
    },
  };
}
