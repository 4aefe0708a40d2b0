// A sign-in whose password was right but temporary (an administrator's: `users create` or `users set-password`
// without --permanent) does not complete yet: the person chooses their own password first, on a page of the same
// interaction, and only then does the interaction record the sign-in. What joins the two requests is a random token
// in a short-lived signed cookie scoped to the interaction; its hash keys a document naming the account, used once
// (db/atomic.ts consume), so the page's form cannot be replayed, nor reached without the right password.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { Context } from 'koa';
import type { ExpiringDoc } from '../db/atomic.ts';
import { consume } from '../db/atomic.ts';
import { pathCookieName } from '../http/cookie-names.ts';

export const PASSWORD_CHANGES = 'password_changes';
/** As long as a person may take to choose a password; then they sign in again with the temporary one. */
const LIFETIME_MS = 10 * 60_000;

interface PendingChange extends ExpiringDoc {
  uid: string;
  accountId: string;
  /** When the temporary password was accepted: an administrator's action on the account since voids the change. */
  startedAt: Date;
}

/** What a pending change is for: the account, and when its temporary password was accepted. */
export interface Pending {
  accountId: string;
  startedAt: Date;
}

export interface PasswordChanges {
  /** The password was right: a change to ask for before interaction `uid` records the sign-in (a cookie holds it). */
  start(ctx: Context, uid: string, accountId: string): Promise<void>;
  /** The change interaction `uid` waits for in this browser, if any (nothing is used up). */
  pending(ctx: Context, uid: string): Promise<Pending | undefined>;
  /** Uses the change up: true for exactly one of any parallel requests, and forgets the cookie. */
  finish(ctx: Context, uid: string): Promise<boolean>;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

export function createPasswordChanges(connection: Connection, { secureCookies, clock = Date.now }: { secureCookies: boolean; clock?: () => number }): PasswordChanges {
  const changes = connection.db!.collection<PendingChange>(PASSWORD_CHANGES);
  const cookieName = pathCookieName('lk_password_change', secureCookies);
  const cookieOptions = (uid: string) => ({ httpOnly: true, secure: secureCookies, sameSite: 'lax' as const, path: `/interaction/${uid}`, signed: true, overwrite: true });
  const tokenOf = (ctx: Context) => ctx.cookies.get(cookieName, { signed: true });

  return {
    async start(ctx, uid, accountId) {
      const token = randomBytes(32).toString('base64url');
      await changes.insertOne({ _id: hashOf(token), uid, accountId, startedAt: new Date(clock()), expiresAt: new Date(clock() + LIFETIME_MS) });
      ctx.cookies.set(cookieName, token, { ...cookieOptions(uid), maxAge: LIFETIME_MS });
    },

    async pending(ctx, uid) {
      const token = tokenOf(ctx);
      if (!token) return undefined;
      const change = await changes.findOne({ _id: hashOf(token) });
      return change && change.uid === uid && change.expiresAt.getTime() > clock() ? { accountId: change.accountId, startedAt: change.startedAt } : undefined;
    },

    async finish(ctx, uid) {
      const token = tokenOf(ctx);
      ctx.cookies.set(cookieName, null, cookieOptions(uid));
      return Boolean(token) && consume(changes, hashOf(token!));
    },
  };
}
