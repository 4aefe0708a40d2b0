// A step a sign-in takes after its password was right and before the interaction records it: choosing one's own
// password in place of a temporary one (password-change.ts), registering or confirming security info
// (security-info.ts); and, outside a sign-in, the same security info page after the current password
// (flows/account-security-info.ts). What joins the step's requests is a random token in a short-lived signed cookie
// scoped to the interaction (or the page's own path); its hash keys a document naming the account, used once
// (db/atomic.ts consume), so the step's forms cannot be replayed, nor reached without the right password.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import type { Context } from 'koa';
import type { ExpiringDoc } from '../db/atomic.ts';
import { claim, consume } from '../db/atomic.ts';
import { pollFor } from '../db/poll.ts';
import { pathCookieName } from '../http/cookie-names.ts';
import { revocationMsOf, revokedSinceCheck, type Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';

interface StepDoc<State> extends ExpiringDoc {
  uid: string;
  accountId: string;
  /** When the password was accepted: an administrator's action on the account since voids the step. */
  startedAt: Date;
  /** The account's revocation the password was checked under (absent in steps begun before it was kept). */
  revocationSeenMs?: number;
  state?: State;
}

/** What a pending step is for: the account, when its password was accepted, and what the step keeps meanwhile. */
export interface PendingStep<State> {
  /** The step's document (not its cookie's token): keys what the step keeps elsewhere, such as a code's purpose. */
  id: string;
  accountId: string;
  startedAt: Date;
  revocationSeenMs?: number;
  state?: State;
}

/** The right password that begins a step: whose, when it was checked, and under which revocation of the account. */
export interface PasswordCheck {
  accountId: string;
  checkedAt: Date;
  revocationSeenMs: number;
}

/** The check of `user`'s password that began at `checkedAtMs`, on the account as that check read it. */
export const passwordCheckOf = (user: Pick<User, '_id' | 'revokedAt'>, checkedAtMs: number): PasswordCheck => ({
  accountId: user._id,
  checkedAt: new Date(checkedAtMs),
  revocationSeenMs: revocationMsOf(user),
});

export interface InteractionSteps<State = never> {
  /** The password was right: a step to take before interaction `uid` records the sign-in (a cookie holds it). */
  start(ctx: Context, uid: string, check: PasswordCheck): Promise<void>;
  /** The step interaction `uid` waits for in this browser, if any (nothing is used up). */
  pending(ctx: Context, uid: string): Promise<PendingStep<State> | undefined>;
  /** Replaces what the step keeps (`undefined`: nothing). */
  keep(step: PendingStep<State>, state: State | undefined): Promise<void>;
  /**
   * True for exactly one of any requests naming the same `key` of this step (db/atomic.ts claim): a form posted twice
   * (a double click, a replay) does its work once. The key names what the request saw, so a new state asks anew.
   */
  once(step: PendingStep<State>, key: string): Promise<boolean>;
  /** The first request of `key` (`once`) has done its work: the others waiting (`settled`) may answer. */
  settle(step: PendingStep<State>, key: string): Promise<void>;
  /** Waits (a few seconds at most) until the first request of `key` has done its work, so the page shows its outcome. */
  settled(step: PendingStep<State>, key: string): Promise<void>;
  /** Uses the step up: true for exactly one of any parallel requests, and forgets the cookie. */
  finish(ctx: Context, uid: string): Promise<boolean>;
  /**
   * Uses the step up as `finish` does, for a page whose work a double click must not turn into an error: the one
   * request that uses it up gets `done`, to call once its work is done, and the browser's other requests for the
   * step (`finishedFor`) may then answer as it did (the browser shows the answer to the last one it sent).
   * `done(false)`: the work failed, and the others answer as though nothing was finished. `revokedAt`: the account's
   * revocation the work wrote (a new password's), which the others may check is still the account's.
   */
  finishOnce(ctx: Context, uid: string, accountId: string): Promise<{ done(didIt?: boolean, revokedAt?: Date): Promise<void> } | undefined>;
  /**
   * The account of this browser's step `uid` (and the revocation its work wrote, if it wrote one), when another
   * request of the browser used it up (`finishOnce`) within the last minute and has done its work: waited for (a few
   * seconds at most) while that work goes on; the step's cookie is then forgotten. Undefined for a step not finished so.
   */
  finishedFor(ctx: Context, uid: string): Promise<{ accountId: string; revokedAt?: Date } | undefined>;
}

export interface StepOptions {
  collection: string;
  cookie: string;
  /** As long as a person may take over the step; then they sign in again. */
  lifetimeMs: number;
  secureCookies: boolean;
  clock?: () => number;
  /** Where the step's pages are, which its cookie is scoped to: the interaction's by default. */
  pathOf?: (uid: string) => string;
}

/**
 * The account of a step its right password began, while that password still stands: active, not locked down, and
 * not revoked since (an administrator's new password, a disable even if undone, a reset). `again`: the account read
 * anew, though this request read it already.
 */
export async function accountOfStep(accounts: Pick<Accounts, 'findById' | 'findAgain'>, step: PendingStep<unknown>, again = false): Promise<User | undefined> {
  const user = await (again ? accounts.findAgain : accounts.findById)(step.accountId);
  const revokedSince =
    user?.revokedAt !== undefined &&
    (new Date(user.revokedAt).getTime() >= step.startedAt.getTime() || (step.revocationSeenMs !== undefined && revokedSinceCheck(user, step.revocationSeenMs)));
  return user && user.status === 'active' && !user.lockedDownAt && !revokedSince ? user : undefined;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');
const onceId = (step: { id: string }, key: string) => `once:${step.id}:${hashOf(key)}`;
/** The mark `finishOnce` leaves for a step (`finishedFor` reads it). */
const finishedId = (stepId: string) => `finished:${stepId}`;
/** How long a second request waits for the first one's work (a code checked, a message queued: milliseconds). */
const SETTLE_WAIT_MS = 5000;
const SETTLE_POLL_MS = 50;
/**
 * How long a step's finished mark (`finishOnce`) answers for it: well past a double click's other request and its
 * wait, and no longer (a form posted again much later, by the next person at this browser say, goes back to the
 * password rather than to what the finished step said).
 */
const FINISHED_MARK_MS = 60_000;

export function createInteractionSteps<State = never>(connection: Connection, { collection, cookie, lifetimeMs, secureCookies, clock = Date.now, pathOf = (uid) => `/interaction/${uid}` }: StepOptions): InteractionSteps<State> {
  const steps = connection.db!.collection<StepDoc<State>>(collection);
  /** The `once` claims and the finished marks, beside the steps (swept with them). */
  const claims = connection.db!.collection<ExpiringDoc & { settled?: boolean; accountId?: string; revokedAt?: Date }>(collection);
  const cookieName = pathCookieName(cookie, secureCookies);
  const cookieOptions = (uid: string) => ({ httpOnly: true, secure: secureCookies, sameSite: 'lax' as const, path: pathOf(uid), signed: true, overwrite: true });
  const tokenOf = (ctx: Context) => ctx.cookies.get(cookieName, { signed: true });

  return {
    async start(ctx, uid, { accountId, checkedAt, revocationSeenMs }) {
      const token = randomBytes(32).toString('base64url');
      await steps.insertOne({ _id: hashOf(token), uid, accountId, startedAt: checkedAt, revocationSeenMs, expiresAt: new Date(clock() + lifetimeMs) });
      ctx.cookies.set(cookieName, token, { ...cookieOptions(uid), maxAge: lifetimeMs });
    },

    async pending(ctx, uid) {
      const token = tokenOf(ctx);
      if (!token) return undefined;
      const step = await steps.findOne({ _id: hashOf(token) });
      if (!step || step.uid !== uid || step.expiresAt.getTime() <= clock()) return undefined;
      const { accountId, startedAt, revocationSeenMs, state } = step;
      return { id: step._id, accountId, startedAt, ...(revocationSeenMs !== undefined && { revocationSeenMs }), ...(state !== undefined && { state }) };
    },

    async keep(step, state) {
      await steps.updateOne({ _id: step.id }, state === undefined ? { $unset: { state: '' } } : { $set: { state } });
    },

    once(step, key) {
      return claim(claims, onceId(step, key), new Date(clock() + lifetimeMs));
    },

    async settle(step, key) {
      await claims.updateOne({ _id: onceId(step, key) }, { $set: { settled: true } });
    },

    async settled(step, key) {
      await settledClaim(onceId(step, key));
    },

    async finish(ctx, uid) {
      const token = tokenOf(ctx);
      ctx.cookies.set(cookieName, null, cookieOptions(uid));
      return Boolean(token) && consume(steps, hashOf(token!));
    },

    async finishOnce(ctx, uid, accountId) {
      const token = tokenOf(ctx);
      ctx.cookies.set(cookieName, null, cookieOptions(uid));
      if (!token) return undefined;
      const id = hashOf(token);
      // The mark first, claimed by one request: whichever finds the step used up afterwards finds the mark.
      const mark = finishedId(id);
      if (!(await claim(claims, mark, new Date(clock() + FINISHED_MARK_MS), { accountId }))) return undefined;
      const settle = (update: mongo.UpdateFilter<ExpiringDoc & { settled?: boolean; accountId?: string; revokedAt?: Date }>) =>
        // At best: without it, the others wait their few seconds and go back to the password (nothing is lost).
        claims.updateOne({ _id: mark }, update).then(
          () => undefined,
          () => undefined,
        );
      const forNobody = { $set: { settled: true }, $unset: { accountId: '' } } as const;
      // Not used up (it ended meanwhile: Cancel; or the database failed): the others need not wait for this one.
      const usedUp = await consume(steps, id).catch(async (error: unknown) => {
        await settle(forNobody);
        throw error;
      });
      if (!usedUp) {
        await settle(forNobody);
        return undefined;
      }
      return { done: (didIt = true, revokedAt?: Date) => settle(didIt ? { $set: { settled: true, ...(revokedAt && { revokedAt }) } } : forNobody) };
    },

    async finishedFor(ctx, uid) {
      const token = tokenOf(ctx);
      const mark = token ? await settledClaim(finishedId(hashOf(token))) : undefined;
      if (!mark?.accountId || mark.expiresAt.getTime() <= clock()) return undefined;
      ctx.cookies.set(cookieName, null, cookieOptions(uid)); // the other request's answer may never have been stored
      return { accountId: mark.accountId, ...(mark.revokedAt && { revokedAt: mark.revokedAt }) };
    },
  };

  /** The claim `id` once settled, waiting a few seconds at most; none when it does not exist or does not settle. */
  async function settledClaim(id: string) {
    const settled = await pollFor(async () => {
      const found = await claims.findOne({ _id: id });
      return !found || found.settled ? { value: found ?? undefined } : undefined;
    }, SETTLE_WAIT_MS, SETTLE_POLL_MS);
    return settled?.value;
  }
}
