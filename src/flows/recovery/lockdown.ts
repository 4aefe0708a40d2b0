// "This wasn't me": a single-use link in the notice of every change to an account (not in those of a lockout or of
// a method turned off, which anyone can cause: notices.ts). Opening it shows a confirmation (a GET changes nothing:
// mail scanners prefetch links); confirming locks the account down (every session, grant and token revoked,
// sign-in refused until a password reset with the full number of methods, or an administrator, ends it), then
// consumes the link (deleteOne: once), so a confirmation the database failed half-way can be made again.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { consume, type ExpiringDoc } from '../../db/atomic.ts';

export const LOCKDOWN_TOKENS = 'lockdown_tokens';
/** The link is this and the token: logs show only this (http/request-context.ts). */
export const LOCKDOWN_PATH_PREFIX = '/recover/lockdown/';
/** A notice's link works for a week. */
const LINK_SECONDS = 7 * 24 * 3600;

export interface Lockdowns {
  /** A new link token for the account (only its hash is stored). */
  issue(accountId: string): Promise<string>;
  /** The account the token names, if it is still valid (does not use it). */
  peek(token: string): Promise<string | undefined>;
  /** Uses the token; the account id for the one caller that did. */
  use(token: string): Promise<string | undefined>;
}

const idOf = (token: string) => createHash('sha256').update(token).digest('base64url');

export function createLockdowns(connection: Connection, clock: () => number = Date.now): Lockdowns {
  const tokens = connection.db!.collection<ExpiringDoc>(LOCKDOWN_TOKENS);

  async function peek(token: string): Promise<string | undefined> {
    if (!/^[\w-]{43}$/.test(token)) return undefined;
    const doc = await tokens.findOne({ _id: idOf(token) });
    return doc && doc.expiresAt.getTime() > clock() ? (doc.accountId as string) : undefined;
  }

  return {
    async issue(accountId) {
      const token = randomBytes(32).toString('base64url');
      await tokens.insertOne({ _id: idOf(token), accountId, expiresAt: new Date(clock() + LINK_SECONDS * 1000) });
      return token;
    },
    peek,
    async use(token) {
      const accountId = await peek(token);
      return accountId && (await consume(tokens, idOf(token))) ? accountId : undefined;
    },
  };
}
