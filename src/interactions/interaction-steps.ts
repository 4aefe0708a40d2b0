// A step a sign-in takes after its password was right and before the interaction records it: choosing one's own
// password in place of a temporary one (password-change.ts), registering or confirming security info
// (security-info.ts). What joins the step's requests is a random token in a short-lived signed cookie scoped to the
// interaction; its hash keys a document naming the account, used once (db/atomic.ts consume), so the step's forms
// cannot be replayed, nor reached without the right password.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Context } from 'koa';
import type { ExpiringDoc } from '../db/atomic.ts';
import { consume } from '../db/atomic.ts';
import { pathCookieName } from '../http/cookie-names.ts';

interface StepDoc<State> extends ExpiringDoc {
  uid: string;
  accountId: string;
  /** When the password was accepted: an administrator's action on the account since voids the step. */
  startedAt: Date;
  state?: State;
}

/** What a pending step is for: the account, when its password was accepted, and what the step keeps meanwhile. */
export interface PendingStep<State> {
  /** The step's document (not its cookie's token): keys what the step keeps elsewhere, such as a code's purpose. */
  id: string;
  accountId: string;
  startedAt: Date;
  state?: State;
}

export interface InteractionSteps<State = never> {
  /** The password was right: a step to take before interaction `uid` records the sign-in (a cookie holds it). */
  start(ctx: Context, uid: string, accountId: string, startedAt?: Date): Promise<void>;
  /** The step interaction `uid` waits for in this browser, if any (nothing is used up). */
  pending(ctx: Context, uid: string): Promise<PendingStep<State> | undefined>;
  /** Replaces what the step keeps (`undefined`: nothing). */
  keep(step: PendingStep<State>, state: State | undefined): Promise<void>;
  /** Uses the step up: true for exactly one of any parallel requests, and forgets the cookie. */
  finish(ctx: Context, uid: string): Promise<boolean>;
}

export interface StepOptions {
  collection: string;
  cookie: string;
  /** As long as a person may take over the step; then they sign in again. */
  lifetimeMs: number;
  secureCookies: boolean;
  clock?: () => number;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

export function createInteractionSteps<State = never>(connection: Connection, { collection, cookie, lifetimeMs, secureCookies, clock = Date.now }: StepOptions): InteractionSteps<State> {
  const steps = connection.db!.collection<StepDoc<State>>(collection);
  const cookieName = pathCookieName(cookie, secureCookies);
  const cookieOptions = (uid: string) => ({ httpOnly: true, secure: secureCookies, sameSite: 'lax' as const, path: `/interaction/${uid}`, signed: true, overwrite: true });
  const tokenOf = (ctx: Context) => ctx.cookies.get(cookieName, { signed: true });

  return {
    async start(ctx, uid, accountId, startedAt = new Date(clock())) {
      const token = randomBytes(32).toString('base64url');
      await steps.insertOne({ _id: hashOf(token), uid, accountId, startedAt, expiresAt: new Date(clock() + lifetimeMs) });
      ctx.cookies.set(cookieName, token, { ...cookieOptions(uid), maxAge: lifetimeMs });
    },

    async pending(ctx, uid) {
      const token = tokenOf(ctx);
      if (!token) return undefined;
      const step = await steps.findOne({ _id: hashOf(token) });
      if (!step || step.uid !== uid || step.expiresAt.getTime() <= clock()) return undefined;
      return { id: step._id, accountId: step.accountId, startedAt: step.startedAt, ...(step.state !== undefined && { state: step.state }) };
    },

    async keep(step, state) {
      await steps.updateOne({ _id: step.id }, state === undefined ? { $unset: { state: '' } } : { $set: { state } });
    },

    async finish(ctx, uid) {
      const token = tokenOf(ctx);
      ctx.cookies.set(cookieName, null, cookieOptions(uid));
      return Boolean(token) && consume(steps, hashOf(token!));
    },
  };
}
