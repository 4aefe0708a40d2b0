// Sign-in lockout, after Entra smart lockout and OWASP's device cookies (the numbers are the policy's `lockout`,
// policy/policy.ts). Failed passwords are counted per account, never per IP address, so a forged X-Forwarded-For
// changes nothing.
//
// - Every password try claims a slot (db/atomic.ts takeSlot) BEFORE its answer counts: a round has `threshold`
//   slots, so however many tries arrive in parallel, at most `threshold` of them are ever answered per round. When
//   the tries run out the scope is locked: the holder of the last slot (or, should it vanish, whoever finds the
//   round full) claims the round's lock document, which says until when. Each further lockout of the epoch (see
//   below) lasts `growth` times longer, up to `maxSeconds`.
// - Rounds belong to the epoch, not to a day: wrong passwords count until a success, a reset or an unlock, however
//   slowly they come (nine a day are not forgotten at midnight), so the ceiling below counts every one of them.
//   What a scope's failures leave is remembered for FAILURE_MEMORY_MS (a year). A try's slot is taken on trust (it
//   expires in a day) and kept for that long only when its password was wrong: a right one moves the epoch and
//   leaves its slot to be swept, so successful sign-ins leave nothing behind for long.
// - A wrong password that is one of the last `rememberWrong` wrong ones of this scope takes no slot: repeating it
//   is not a new guess. Only keyed hashes (HMAC with a server secret) are remembered, never the passwords.
// - A browser that signed in to the account before carries a device token (signed: account, random nonce, time)
//   and has a budget of its own: its failures lock only itself, and a lockout caused by everyone else does not
//   lock it out. Tries without a valid token for the account share the account's budget, and so do tokens issued
//   before the account's last revocation (a reset, a lockdown): they may have been earned with the old password,
//   and the token of a browser whose session its owner ended ("Your sessions and apps": a lost laptop), which is
//   no longer the owner's browser.
// - A successful sign-in, a reset and an unlock clear everything by moving the account to a new random epoch,
//   which is part of every key: old slots and locks are never deleted and reused, only swept when they expire.
// - Lockouts end by themselves, so a patient guesser would get `threshold` more tries after each, day after day.
//   NIST SP 800-63B-4 §3.2.2 allows at most 100 failed attempts in a row, then the authenticator is disabled until
//   it is recovered: the lockouts of an epoch are counted (a slot each, claimed by the one winner of the round's
//   lock), and the one that brings the epoch's failures to MAX_CONSECUTIVE_FAILURES also disables password
//   sign-in for that scope, until the epoch changes (a success elsewhere, a reset, an unlock, an admin's unlock).
//   Every round's tries are counted before they are answered, so no more than that many are ever answered.
//
// - Few round trips for the account's own budget: its epoch document also holds the account scope's remembered
//   hashes and a hint of its latest lock (both tagged with the epoch), so a sign-in reads one document, claims a
//   slot and (on success) writes the epoch. The hint only saves reads, it decides nothing: a missing or stale hint
//   leads to a round whose slots are full (a lock is only ever claimed when its round is full), and a refused
//   slot is always checked against the lock documents themselves. Devices keep their state in documents of their
//   own.
//
// Locked or not is never shown: the sign-in answers exactly as for a wrong password (accounts/users.ts).
//
// The audit log gets the counted failures and the lockouts, both bounded per round; refused and repeated tries
// (unbounded under attack) are only in the request log.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import { claim, isDuplicateKey, keepSlot, slotsTaken, takeSlot, upsertRetryingDuplicateKey, NEVER_EXPIRES, type ExpiringDoc } from '../db/atomic.ts';
import { sharedSecret } from '../db/secrets.ts';
import { keyBeyondDatabase } from '../security/encryption.ts';
import { detached } from '../db/request-scope.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { AuditEvent } from '../audit/audit.ts';
import type { Logger } from '../log.ts';
import { LIMITS } from '../security/limits.ts';
import { normalizePassword } from './passwords.ts';


const DAY_MS = 86_400_000;

/**
 * Wrong passwords in a row (no success, reset or unlock between) after which a scope's password sign-in is disabled
 * until recovered: the ceiling of NIST SP 800-63B-4 §3.2.2. Reached in whole lockouts of `threshold` failures each.
 */
export const MAX_CONSECUTIVE_FAILURES = 100;

/**
 * What a lockout closed (LockoutOptions.onLocked): the account for a while, the account's password sign-in until it is
 * unlocked or recovered (its wrong passwords in a row reached MAX_CONSECUTIVE_FAILURES), or one browser's own.
 */
export type LockedWhat = 'account' | 'account_disabled' | 'device_disabled';
/** One window for an epoch's whole life: its failures and lockouts count until the epoch ends (a success, a reset, an unlock). */
const EPOCH_LIFE_SECONDS = 1000 * 365 * 86_400;
/** How long a wrong password, a lock and a lockout's count are kept: a year of failures in a row is still a row. */
const FAILURE_MEMORY_MS = 365 * DAY_MS;
/** How long a try's slot lives until its answer keeps it (a wrong password) or leaves it (a right one): ample. */
const UNANSWERED_TRY_MS = DAY_MS;

/** How long a device token is honoured (and its cookie kept). A new one is issued at every successful sign-in. */
export const DEVICE_TOKEN_MAX_AGE_SECONDS = 90 * 86_400;
const DEVICE_TOKEN_VERSION = 'd1';
/** A device token's random part, its nonce (16 bytes, base64url). */
const DEVICE_NONCE = /^[\w-]{22}$/;

/**
 * The nonce of the device token a browser's cookie carries, its signature unchecked: only to name that browser
 * later (the session it signs in keeps it, so that ending the session can forget the device). Anything else: none.
 */
export function deviceNonceOf(token: string | undefined): string | undefined {
  const parts = token && token.length <= 512 ? token.split('.') : [];
  return parts.length === 5 && parts[0] === DEVICE_TOKEN_VERSION && DEVICE_NONCE.test(parts[2]!) ? parts[2] : undefined;
}

export interface ClientInfo {
  /** The device cookie's value, if the browser sent one. */
  deviceToken?: string | undefined;
  /** For the audit log only: never part of any count. */
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface PasswordAttempt {
  /** False when this client may not try a password now: the answer must be a failure, whatever the password. */
  allowed: boolean;
  /** Reports that the password was wrong (remembers it; locks the scope when this try took the last slot). */
  failed(): Promise<void>;
}

export interface LockoutState {
  /** Locked for clients without a device token of this account. */
  locked: boolean;
  /** Until when, when locked for a time (not when disabled). */
  lockedUntil?: Date;
  /** Locked until recovered: MAX_CONSECUTIVE_FAILURES wrong passwords in a row. */
  disabled: boolean;
  /** Failures counted in the current round (0..threshold). */
  failures: number;
  threshold: number;
  /** Lockouts since the last success, reset or unlock; the next one lasts growth^lockouts times the first. */
  lockouts: number;
}

export interface Lockout {
  /**
   * Takes a try for a password sign-in to `accountId` before the password is checked. `devicesSince`: the account's
   * last revocation (a reset, a lockdown); device tokens issued before it no longer earn a budget of their own.
   */
  attempt(accountId: string, password: string, client?: ClientInfo, devicesSince?: Date): Promise<PasswordAttempt>;
  /** Forgets every failure and lock of the account, for all clients (successful sign-in, reset, unlock). */
  clearLockout(accountId: string): Promise<void>;
  /** Whether the account is locked for clients without a device token. */
  isLocked(accountId: string): Promise<boolean>;
  lockoutState(accountId: string): Promise<LockoutState>;
  /** A fresh device token for a browser that has just signed in to `accountId`. */
  issueDeviceToken(accountId: string): Promise<string>;
  /** The token's nonce when it is genuine, current, for `accountId` and issued at or after `since`; undefined otherwise. */
  verifyDeviceToken(token: string | undefined, accountId: string, since?: Date): Promise<string | undefined>;
  /**
   * The browser whose device token has this nonce is no longer the owner's (its session was ended): its tries count
   * for the account again, as any other browser's, for as long as the token would have been honoured.
   */
  forgetDevice(accountId: string, nonce: string): Promise<void>;
}

export interface LockoutOptions {
  connection: Connection;
  /** The policy in force (policy/store.ts), read at each try so a change applies without a restart. */
  policy: { current(): Promise<RecoveryPolicy> };
  /** Now, in milliseconds (tests move it). */
  clock?: () => number;
  /**
   * Called once per lockout of an account ('account'; 'account_disabled' for the one that brings its wrong passwords
   * in a row to MAX_CONSECUTIVE_FAILURES and turns its password sign-in off), and once when one browser's own do the
   * same to that browser ('device_disabled'; a device's shorter locks are its own business), e.g. to tell the owner.
   * It runs off the sign-in's answer path (the answer does not wait for it); errors are logged.
   */
  onLocked?: (accountId: string, what: LockedWhat) => void | Promise<void>;
  audit?: { record(event: AuditEvent): Promise<void> };
  log?: Logger;
  /**
   * DATA_ENCRYPTION_KEY: with it, the key of the remembered wrong passwords' HMACs needs more than the database (as
   * the password hashes do), so a copy of the database gives no near-misses of a password to guess from offline.
   */
  configurationKey?: Buffer;
}

interface LockDoc extends ExpiringDoc {
  lockedAt: Date;
  until: Date;
}

interface RecentDoc extends ExpiringDoc {
  hashes: string[];
}

/** A scope whose password sign-in is disabled in `epoch` (MAX_CONSECUTIVE_FAILURES); a later epoch ignores it. */
interface DisabledDoc extends ExpiringDoc {
  epoch: string;
  disabledAt: Date;
}

/** The account's epoch document: its epoch, and the account scope's remembered hashes and latest lock as hints. */
interface EpochDoc extends ExpiringDoc {
  epoch?: string;
  recent?: { epoch: string; hashes: string[]; expiresAt: Date };
  /** `day`: written by versions whose rounds were per day (their `round` counts that day's locks only). */
  lock?: { epoch: string; round: number; until: Date; day?: number };
}

/** Whose budget a try spends: everyone without a device token, or one device. */
interface Scope {
  accountId: string;
  id: string;
  device: boolean;
}

const accountScope = (accountId: string): Scope => ({ accountId, id: `a:${accountId}`, device: false });
const deviceScope = (accountId: string, nonce: string): Scope => ({ accountId, id: `d:${accountId}:${nonce}`, device: true });

export function lockDuration({ initialSeconds, growth, maxSeconds }: RecoveryPolicy['lockout'], lockoutsBefore: number): number {
  return Math.min(initialSeconds * growth ** lockoutsBefore, maxSeconds);
}

export function createLockout({ connection, policy, clock = Date.now, onLocked, audit, log, configurationKey }: LockoutOptions): Lockout {
  const limits = connection.db!.collection<ExpiringDoc>(LIMITS);
  const locks = limits as unknown as mongo.Collection<LockDoc>;
  const recents = limits as unknown as mongo.Collection<RecentDoc>;
  const epochs = limits as unknown as mongo.Collection<EpochDoc>;
  const disabledDocs = limits as unknown as mongo.Collection<DisabledDoc>;

  // Loaded on first use, so composing the lockout needs no database round trip.
  let keys: Promise<{ wrong: string; device: string }> | undefined;
  const secrets = () =>
    (keys ??= Promise.all([sharedSecret(connection, 'signin-wrong-password-key'), sharedSecret(connection, 'device-token-key')]).then(
      ([wrong, device]) => ({ wrong: configurationKey ? keyBeyondDatabase(configurationKey, wrong, 'sign-in wrong passwords') : wrong, device }),
      (error: unknown) => {
        keys = undefined;
        throw error;
      },
    ));

  const epochId = (accountId: string) => `signin:epoch:${accountId}`;
  const failKey = (scope: Scope, epoch: string, round: number) => `signin:fail:${scope.id}:${epoch}:r${round}`;
  const lockId = (scope: Scope, epoch: string, round: number) => `signin:lock:${scope.id}:${epoch}:r${round}`;
  const recentId = (scope: Scope, epoch: string) => `signin:recent:${scope.id}:${epoch}`;
  const lockoutCountKey = (scope: Scope, epoch: string) => `signin:lockouts:${scope.id}:${epoch}`;
  // Keyed by the scope alone, so that it is read alongside the epoch document; it holds the epoch it disables.
  const disabledId = (scope: Scope) => `signin:disabled:${scope.id}`;
  const isDisabled = (doc: DisabledDoc | null, epoch: string) => doc?.epoch === epoch;

  const epochIn = (doc: EpochDoc | null): string => (typeof doc?.epoch === 'string' ? doc.epoch : '0');

  async function epochOf(accountId: string): Promise<string> {
    return epochIn(await epochs.findOne({ _id: epochId(accountId) }));
  }

  /**
   * Writes a hint into the account's epoch document, only while it still has `epoch` (a clear since makes the hint
   * moot). A conditional update decides nothing here: losing the race only loses a hint, which the next slot
   * refusal corrects; creating the document for the first epoch can race with a clear, and then the clear wins.
   */
  async function hint(accountId: string, epoch: string, fields: Partial<Pick<EpochDoc, 'recent' | 'lock'>>): Promise<void> {
    try {
      await epochs.updateOne({ _id: epochId(accountId), epoch }, { $set: { ...fields, expiresAt: NEVER_EXPIRES } }, { upsert: true });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  /** The epoch's lockouts are rounds 1..n, claimed in order; n and the last one, by exponential then binary search. */
  async function lastLock(scope: Scope, epoch: string): Promise<{ count: number; last?: LockDoc }> {
    const read = (round: number) => locks.findOne({ _id: lockId(scope, epoch, round) });
    let last = await read(1);
    if (!last) return { count: 0 };
    let present = 1;
    let absent = 2;
    for (let doc = await read(absent); doc; doc = await read(absent)) {
      [present, last, absent] = [absent, doc, absent * 2];
    }
    while (absent - present > 1) {
      const middle = Math.floor((present + absent) / 2);
      const doc = await read(middle);
      if (doc) [present, last] = [middle, doc];
      else absent = middle;
    }
    return { count: present, last };
  }

  interface ScopeNow {
    epoch: string;
    now: Date;
    /** The current round: one more than the epoch's lockouts. */
    round: number;
    /** The lock in force, if any: the epoch's last. */
    lockedUntil?: Date;
  }

  const stillHolds = (until: Date | undefined, now: Date) => (until && until.getTime() > now.getTime() ? until : undefined);

  async function scopeNow(scope: Scope, epoch: string, now: Date): Promise<ScopeNow> {
    const { count, last } = await lastLock(scope, epoch);
    const lockedUntil = stillHolds(last?.until, now);
    return { epoch, now, round: count + 1, ...(lockedUntil && { lockedUntil }) };
  }

  /** The account scope's state from its epoch document's hint, with no read. Exact when the hint is; see the header for when not. */
  function hintedScopeNow(doc: EpochDoc | null, epoch: string, now: Date): ScopeNow {
    const lock = doc?.lock?.epoch === epoch ? doc.lock : undefined;
    const lockedUntil = stillHolds(lock?.until, now);
    // A hint from a version with rounds per day: its lock still holds until its time, but its round is not one of
    // this epoch's chain of locks (r1, r2…), which then starts at the first.
    const round = lock && lock.day === undefined ? lock.round + 1 : 1;
    return { epoch, now, round, ...(lockedUntil && { lockedUntil }) };
  }

  const memoryEnd = (now: Date) => new Date(now.getTime() + FAILURE_MEMORY_MS);
  const slotLimit = (scope: Scope, state: ScopeNow, threshold: number) => ({
    key: failKey(scope, state.epoch, state.round),
    limit: threshold,
    windowSeconds: EPOCH_LIFE_SECONDS,
    expiresAt: new Date(state.now.getTime() + UNANSWERED_TRY_MS),
  });

  /**
   * Claims this round's lock; the first claim sets the time. `won` for the one caller whose claim won; `disabled`
   * when that lock brought the epoch's failures to the ceiling and the scope's password sign-in is now disabled.
   * The winner (the last slot's holder, or a try that found the round full first) announces what the lock closed,
   * so exactly one announcement goes per lock: every account lock, and a device's only when it disables it.
   */
  async function lock(scope: Scope, state: ScopeNow, settings: RecoveryPolicy['lockout']): Promise<{ won: boolean; disabled: boolean }> {
    const until = new Date(state.now.getTime() + lockDuration(settings, state.round - 1) * 1000);
    const expiresAt = new Date(Math.max(until.getTime(), memoryEnd(state.now).getTime()));
    const won = await claim(limits, lockId(scope, state.epoch, state.round), expiresAt, { lockedAt: state.now, until });
    if (!won) return { won, disabled: false };
    if (!scope.device) await safely('lock hint', () => hint(scope.accountId, state.epoch, { lock: { epoch: state.epoch, round: state.round, until } }));
    const disabled = await countLockout(scope, state.epoch, settings);
    if (!scope.device) announce(scope.accountId, disabled ? 'account_disabled' : 'account');
    else if (disabled) announce(scope.accountId, 'device_disabled');
    return { won, disabled };
  }

  /**
   * Counts a lockout of the epoch (called once per round, by the lock's winner); true when it is the one that makes
   * `MAX_CONSECUTIVE_FAILURES` (each lockout closes a round of `threshold` answered failures), which disables the
   * scope. The lock just claimed holds meanwhile, so no try is answered between the count and the mark.
   */
  async function countLockout(scope: Scope, epoch: string, settings: RecoveryPolicy['lockout']): Promise<boolean> {
    const allowed = Math.max(1, Math.floor(MAX_CONSECUTIVE_FAILURES / settings.threshold));
    const now = new Date(clock());
    const count = await takeSlot(limits, { key: lockoutCountKey(scope, epoch), limit: allowed, windowSeconds: EPOCH_LIFE_SECONDS, expiresAt: memoryEnd(now) }, now);
    if (count.allowed && count.slot! < allowed) return false;
    // Unconditional by `_id`: the mark names its epoch, so one left from an earlier epoch simply no longer applies.
    await setById(disabledId(scope), { epoch, disabledAt: new Date(clock()), expiresAt: NEVER_EXPIRES });
    return true;
  }

  /**
   * An unconditional `$set` by `_id`, creating the document when missing. Two upserts of a missing document can
   * race to insert it; the loser gets a duplicate key error, and its second try updates the winner's.
   */
  async function setById(id: string, fields: Record<string, unknown>): Promise<void> {
    await upsertRetryingDuplicateKey(() => limits.updateOne({ _id: id }, { $set: fields }, { upsert: true }));
  }

  /** Tells `onLocked` what a lock closed, off the answer's path, so that this try takes no longer than any other failure. */
  function announce(accountId: string, what: LockedWhat): void {
    if (onLocked) void detached(() => safely('onLocked', () => onLocked(accountId, what)));
  }

  async function safely(what: string, task: () => unknown): Promise<void> {
    try {
      await task();
    } catch (error) {
      log?.error({ err: error, event: what }, `lockout: ${what} failed`);
    }
  }

  function wrongHash(key: string, accountId: string, password: string): string {
    return createHmac('sha256', key).update(`${accountId}\u0000${normalizePassword(password)}`).digest('base64url').slice(0, 22);
  }

  function deviceMac(key: string, payload: string): string {
    return createHmac('sha256', key).update(`latchkey-device\u0000${payload}`).digest('base64url');
  }

  async function verifyDeviceToken(token: string | undefined, accountId: string, since?: Date): Promise<string | undefined> {
    if (!token || token.length > 512) return undefined;
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== DEVICE_TOKEN_VERSION) return undefined;
    const [, account, nonce, issued, mac] = parts as [string, string, string, string, string];
    const expected = Buffer.from(deviceMac((await secrets()).device, parts.slice(0, 4).join('.')));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    if (Buffer.from(account, 'base64url').toString() !== accountId) return undefined;
    const issuedAt = parseInt(issued, 36);
    const age = clock() / 1000 - issuedAt;
    if (!(age >= -300 && age <= DEVICE_TOKEN_MAX_AGE_SECONDS)) return undefined;
    // Whoever signed in before a reset may have done so with the old password: that browser is no longer the owner's.
    // (Whole seconds: a token from the reset's own second counts as before it, which costs the owner nothing.)
    if (since && issuedAt * 1000 < since.getTime()) return undefined;
    return DEVICE_NONCE.test(nonce) ? nonce : undefined;
  }

  /** A device its owner let go of (`forgetDevice`): kept beside the limits, by `_id`, as long as its token could live. */
  const forgottenId = (accountId: string, nonce: string) => `signin:forgotten:${accountId}:${nonce}`;
  /** The nonce of a device token that still earns its browser a budget of its own (verifyDeviceToken, not forgotten). */
  async function ownDevice(token: string | undefined, accountId: string, since?: Date): Promise<string | undefined> {
    const nonce = await verifyDeviceToken(token, accountId, since);
    if (!nonce) return undefined;
    return (await limits.findOne({ _id: forgottenId(accountId, nonce) }, { projection: { _id: 1 } })) ? undefined : nonce;
  }

  async function lockoutState(accountId: string): Promise<LockoutState> {
    const scope = accountScope(accountId);
    const [{ lockout: settings }, epoch, disabledDoc] = await Promise.all([policy.current(), epochOf(accountId), disabledDocs.findOne({ _id: disabledId(scope) })]);
    const disabled = isDisabled(disabledDoc, epoch);
    const state = await scopeNow(scope, epoch, new Date(clock()));
    const failures = await slotsTaken(limits, slotLimit(scope, state, settings.threshold), state.now);
    // A full round whose lock is not written yet is locked all the same (the next try writes it).
    const full = failures >= settings.threshold;
    const lockedUntil = state.lockedUntil ?? (full ? new Date(state.now.getTime() + lockDuration(settings, state.round - 1) * 1000) : undefined);
    return {
      locked: disabled || Boolean(lockedUntil),
      ...(!disabled && lockedUntil && { lockedUntil }),
      disabled,
      failures,
      threshold: settings.threshold,
      lockouts: state.round - 1,
    };
  }

  return {
    async attempt(accountId, password, client = {}, devicesSince) {
      // The account's disabled mark is read with its epoch (one round trip), whichever scope the try turns out to be.
      const [{ lockout: settings }, epochDoc, accountDisabled, key, nonce] = await Promise.all([
        policy.current(),
        epochs.findOne({ _id: epochId(accountId) }),
        disabledDocs.findOne({ _id: disabledId(accountScope(accountId)) }),
        secrets(),
        ownDevice(client.deviceToken, accountId, devicesSince),
      ]);
      const epoch = epochIn(epochDoc);
      const scope = nonce ? deviceScope(accountId, nonce) : accountScope(accountId);
      const hash = wrongHash(key.wrong, accountId, password);
      const now = new Date(clock());
      const [hinted, remembered, disabled] = scope.device
        ? await Promise.all([
            scopeNow(scope, epoch, now),
            recents.findOne({ _id: recentId(scope, epoch) }).then((doc) => doc?.hashes ?? []),
            disabledDocs.findOne({ _id: disabledId(scope) }).then((doc) => isDisabled(doc, epoch)),
          ])
        : [
            hintedScopeNow(epochDoc, epoch, now),
            epochDoc?.recent?.epoch === epoch && epochDoc.recent.expiresAt.getTime() > now.getTime() ? epochDoc.recent.hashes : [],
            isDisabled(accountDisabled, epoch),
          ];
      let state = hinted;
      const where = { ...(client.ip && { ip: client.ip }), ...(client.userAgent && { userAgent: client.userAgent }) };
      const record = async (event: AuditEvent) => {
        if (audit) await safely('audit', () => audit.record({ ...event, ...where }));
      };

      const refused: PasswordAttempt = { allowed: false, failed: async () => {} };
      if (disabled || state.lockedUntil) return refused;

      // The same wrong password again: already answered in this epoch, so it is no new guess and takes no slot.
      if (settings.rememberWrong > 0 && remembered.includes(hash)) return { allowed: true, failed: async () => {} };

      let slot = await takeSlot(limits, slotLimit(scope, state, settings.threshold), state.now);
      if (!slot.allowed && !scope.device) {
        // A full round: locked, or the hint is behind (a lock it does not know of, perhaps one that has ended).
        // The lock documents say which.
        state = await scopeNow(scope, epoch, now);
        if (state.lockedUntil) return refused;
        if (state.round !== hinted.round) slot = await takeSlot(limits, slotLimit(scope, state, settings.threshold), state.now);
      }
      if (!slot.allowed) {
        // The round is full: locked. Normally the last slot's holder has written the lock already; if it has not
        // (it failed, or is still checking its password), write it, so the time the lock ends is fixed.
        await lock(scope, state, settings);
        return refused;
      }
      return {
        allowed: true,
        async failed() {
          const rememberHash = async () => {
            if (settings.rememberWrong === 0) return;
            // A lost update here (parallel failures) only forgets a hash, so a repeat counts again: never looser.
            const hashes = [...remembered.filter((h) => h !== hash), hash].slice(-settings.rememberWrong);
            const expiresAt = new Date(state.now.getTime() + DAY_MS);
            if (scope.device) await setById(recentId(scope, epoch), { hashes, expiresAt });
            else await hint(accountId, epoch, { recent: { epoch, hashes, expiresAt } });
          };
          // The slot was taken on trust; a wrong password keeps it for as long as failures are remembered.
          await Promise.all([keepSlot(limits, slot, memoryEnd(state.now)), rememberHash()]);
          await record({ type: 'signin.failed', accountId, reason: scope.device ? 'wrong_password_device' : 'wrong_password' });
          if (slot.slot !== settings.threshold) return;
          // This try took the last slot (exactly one does per round): it locks, unless a try that found the round full
          // locked first (whose lock then announced it), and records the lockout.
          const { disabled: nowDisabled } = await lock(scope, state, settings);
          const reason = nowDisabled ? 'consecutive_limit' : 'threshold';
          await record({ type: 'account.locked', accountId, reason: scope.device ? `device_${reason}` : `signin_${reason}` });
        },
      };
    },

    async clearLockout(accountId) {
      // A new random epoch: every slot, lock and remembered hash of the old one is out of reach at once. An
      // unconditional write by `_id`; a racing clear simply wins with another fresh epoch.
      await setById(epochId(accountId), { epoch: randomBytes(12).toString('base64url'), expiresAt: NEVER_EXPIRES });
    },

    async isLocked(accountId) {
      return (await lockoutState(accountId)).locked;
    },

    lockoutState,

    async issueDeviceToken(accountId) {
      const payload = [DEVICE_TOKEN_VERSION, Buffer.from(accountId).toString('base64url'), randomBytes(16).toString('base64url'), Math.floor(clock() / 1000).toString(36)].join('.');
      return `${payload}.${deviceMac((await secrets()).device, payload)}`;
    },

    verifyDeviceToken,

    async forgetDevice(accountId, nonce) {
      // A plain write by `_id`: it decides nothing against a racing try (which the device's own budget still bounds).
      await setById(forgottenId(accountId, nonce), { expiresAt: new Date(clock() + DEVICE_TOKEN_MAX_AGE_SECONDS * 1000) });
    },
  };
}
