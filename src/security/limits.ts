// The recovery limits, all built on the slot primitive of db/atomic.ts, so they hold across flows, IP addresses and
// instances: sends per destination, per IP, per account and for the whole installation; proof attempts per account
// per day; flow starts per IP. Keys are keyed hashes, so the limits collection holds no addresses or numbers.
import { createHmac } from 'node:crypto';
import type { Connection } from 'mongoose';
import { takeSlot, type ExpiringDoc } from '../db/atomic.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';

export const LIMITS = 'limits';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;

export type SendRefusal = 'limit_destination' | 'limit_account' | 'limit_ip' | 'limit_global';

export interface Limits {
  /** Takes a send from every budget it counts against, the sender's address first; the first one exhausted refuses. */
  allowSend(input: { accountKey: string; destination: string; ip: string }, policy: RecoveryPolicy): Promise<{ allowed: true } | { allowed: false; reason: SendRefusal }>;
  /** One code entered for this account (counted before the code is compared). */
  allowProofAttempt(accountKey: string, policy: RecoveryPolicy): Promise<boolean>;
  /** One try at this code. */
  allowCodeTry(challengeId: string, policy: RecoveryPolicy): Promise<boolean>;
  allowFlowStart(ip: string, policy: RecoveryPolicy): Promise<boolean>;
  /** Generic: one of `limit` per window for `name` (e.g. notices). */
  allow(name: string, key: string, limit: number, windowSeconds: number): Promise<boolean>;
}

export function createLimits(connection: Connection, hashKey: string, clock: () => number = Date.now): Limits {
  const slots = connection.db!.collection<ExpiringDoc>(LIMITS);
  const hidden = (value: string) => createHmac('sha256', hashKey).update(value).digest('base64url').slice(0, 22);

  async function allow(name: string, key: string, limit: number, windowSeconds: number): Promise<boolean> {
    return (await takeSlot(slots, { key: `${name}:${hidden(key)}`, limit, windowSeconds }, new Date(clock()))).allowed;
  }

  return {
    allow,
    async allowSend({ accountKey, destination, ip }, { limits }) {
      // The sender's own budget first: a send it refuses takes nothing from anyone else's, so an address that has
      // used its budget cannot go on spending an account's or a phone's (and lock its owner out of codes).
      // Then the narrowest: a send the mailbox's or phone's own limit refuses takes nothing from the account's.
      const budgets: Array<[SendRefusal, string, string, number, number]> = [
        ['limit_ip', 'send-ip', ip, limits.perIpHour, HOUR],
        ['limit_destination', 'send-dest-10m', destination, limits.perDestination10Min, 10 * MINUTE],
        ['limit_destination', 'send-dest-1h', destination, limits.perDestinationHour, HOUR],
        ['limit_account', 'send-account', accountKey, limits.perAccountHour, HOUR],
        ['limit_global', 'send-global', 'all', limits.globalPerHour, HOUR],
      ];
      for (const [reason, name, key, limit, window] of budgets) {
        if (!(await allow(name, key, limit, window))) return { allowed: false, reason };
      }
      return { allowed: true };
    },
    allowProofAttempt: (accountKey, { limits }) => allow('proof', accountKey, limits.proofAttemptsPerDay, DAY),
    allowCodeTry: (challengeId, { codes }) => allow('code-try', challengeId, codes.maxTries, DAY),
    allowFlowStart: (ip, { limits }) => allow('flow-ip', ip, limits.flowsPerIpHour, HOUR),
  };
}
