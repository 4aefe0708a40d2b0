// The recovery limits, all built on the slot primitive of db/atomic.ts, so they hold across flows, IP addresses and
// instances: sends per destination, per IP (per /64 for IPv6), per account and for the whole installation; proof
// attempts per account per day (renewed by an unlock or a completed recovery); flow starts per IP. Keys are keyed
// hashes, so the limits collection holds no addresses or numbers.
import { createHmac } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Connection } from 'mongoose';
import { slotsFull, takeSlot, type ExpiringDoc, type SlotResult } from '../db/atomic.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';

/**
 * The one collection of expiring limit documents: these limits' slots, the sign-in lockout's slots, locks and
 * epochs (accounts/lockout.ts), the proof ceiling's runs (proof-ceiling.ts).
 */
export const LIMITS = 'limits';

const MINUTE = 60;
const HOUR = 3600;
const DAY = 24 * HOUR;

export type SendRefusal = 'limit_destination' | 'limit_number_block' | 'limit_account' | 'limit_ip' | 'limit_global';

/**
 * The block of 100 numbers an E.164 phone number belongs to (all its digits but the last two), for the budget of
 * codes to neighbouring numbers typed in: SMS pumping types runs of consecutive premium numbers (+…0001, +…0002, …),
 * which the per-number budgets never see. Undefined for what is no phone number (an email address).
 */
export function numberBlock(destination: string): string | undefined {
  return /^\+\d{6,15}$/.test(destination) ? destination.slice(0, -2) : undefined;
}

export interface Limits {
  /**
   * Takes a send from every budget it counts against, the sender's address first; the first one exhausted refuses.
   * `typed`: to an address or number typed in to be added, not to a registered one (its per-destination budget is
   * kept apart); a typed phone number also counts against its block of 100 numbers (`numberBlock`).
   */
  allowSend(input: { accountKey: string; destination: string; ip: string; typed?: boolean }, policy: RecoveryPolicy): Promise<{ allowed: true } | { allowed: false; reason: SendRefusal }>;
  /**
   * One code or phone number entered for this account (counted before it is compared). The key is the account's
   * within its base proof epoch (proof-ceiling.ts `proofBudgetKey`), so an unlock or a completed recovery renews it.
   */
  takeProofAttempt(budgetKey: string, policy: RecoveryPolicy): Promise<SlotResult>;
  /**
   * Whether the day's budget of proofs is spent (nothing is taken): a code or call that could not be accepted is not
   * sent, since a text or a call costs money.
   */
  proofBudgetSpent(budgetKey: string, policy: RecoveryPolicy): Promise<boolean>;
  /** One try at this code; `slot` says which (the last one is `codes.maxTries`). */
  takeCodeTry(challengeId: string, policy: RecoveryPolicy): Promise<SlotResult>;
  allowFlowStart(ip: string, policy: RecoveryPolicy): Promise<boolean>;
  /** One code or phone number entered in a recovery from this address, whichever account it names (counted first). */
  allowProofFrom(ip: string, policy: RecoveryPolicy): Promise<boolean>;
  /** One security notice by text message that anyone can cause (a lockout): `globalPerHour` of them, apart from codes. */
  allowNoticeText(policy: RecoveryPolicy): Promise<boolean>;
  /** Generic: one of `limit` per window for `name` (e.g. notices). */
  allow(name: string, key: string, limit: number, windowSeconds: number): Promise<boolean>;
  /** As `allow`, with the slot taken and when the window ends (so a caller can tell that it took the last one). */
  take(name: string, key: string, limit: number, windowSeconds: number): Promise<SlotResult>;
}

/**
 * The network a per-IP budget belongs to. An IPv6 client usually holds a whole /64 (often more) and can pick any
 * address in it, so its budget is the /64's; an IPv4-mapped IPv6 address is its IPv4 address.
 */
export function addressBudgetKey(ip: string): string {
  const address = ip.replace(/%.*$/, '').toLowerCase(); // no zone index
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (mapped && isIPv4(mapped[1]!)) return mapped[1]!;
  // Expanded to eight groups (an IPv4 tail counts as two), the first four are the /64.
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string) => (part ? part.split(':').flatMap((group) => (group.includes('.') ? ['0', '0'] : [group])) : []);
  const before = groups(head);
  const after = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? before : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${all.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(':')}::/64`;
}

/** The keyed hash limit keys are stored as, so that the limits collection holds no address or number. */
export function keyedHash(hashKey: string): (value: string) => string {
  return (value) => createHmac('sha256', hashKey).update(value).digest('base64url').slice(0, 22);
}

export function createLimits(connection: Connection, hashKey: string, clock: () => number = Date.now): Limits {
  const slots = connection.db!.collection<ExpiringDoc>(LIMITS);
  const hidden = keyedHash(hashKey);

  // Staggered: a burst across a window's end (midnight, for the daily budgets) gets no second budget.
  const slotLimit = (name: string, key: string, limit: number, windowSeconds: number) => ({ key: `${name}:${hidden(key)}`, limit, windowSeconds, staggered: true });

  function take(name: string, key: string, limit: number, windowSeconds: number): Promise<SlotResult> {
    return takeSlot(slots, slotLimit(name, key, limit, windowSeconds), new Date(clock()));
  }

  async function allow(name: string, key: string, limit: number, windowSeconds: number): Promise<boolean> {
    return (await take(name, key, limit, windowSeconds)).allowed;
  }

  return {
    allow,
    take,
    async allowSend({ accountKey, destination, ip, typed = false }, { limits }) {
      // The sender's own budget first: a send it refuses takes nothing from anyone else's, so an address that has
      // used its budget cannot go on spending an account's or a phone's (and lock its owner out of codes).
      // Then the narrowest: a send the mailbox's or phone's own limit refuses takes nothing from the account's.
      // A typed phone number's block of 100 numbers has at least the number's own hourly budget, so that one person's
      // resends alone cannot refuse the other numbers of the block sooner than their own. Registered numbers have none: recovery texts a number only once it has been
      // typed in full and matched, so pumping cannot choose them, and colleagues' office lines are often one block.
      // A destination typed in to be added has its own budget, apart from the one it has once registered: anyone can
      // type anyone's address, and were the budget shared, a refusal on one side would tell whoever typed it whether an
      // account (named by its username in a recovery) has that address. A mailbox gets at most both budgets.
      const block = typed ? numberBlock(destination) : undefined;
      const dest = typed ? 'send-typed' : 'send-dest';
      type Budget = [SendRefusal, string, string, number, number];
      const blockBudget: Budget[] = block ? [['limit_number_block', 'send-block', block, Math.max(limits.perNumberBlockHour, limits.perDestinationHour), HOUR]] : [];
      const budgets: Budget[] = [
        ['limit_ip', 'send-ip', addressBudgetKey(ip), limits.perIpHour, HOUR],
        ['limit_destination', `${dest}-10m`, destination, limits.perDestination10Min, 10 * MINUTE],
        ['limit_destination', `${dest}-1h`, destination, limits.perDestinationHour, HOUR],
        ...blockBudget,
        ['limit_account', 'send-account', accountKey, limits.perAccountHour, HOUR],
        ['limit_global', 'send-global', 'all', limits.globalPerHour, HOUR],
      ];
      for (const [reason, name, key, limit, window] of budgets) {
        if (!(await allow(name, key, limit, window))) return { allowed: false, reason };
      }
      return { allowed: true };
    },
    takeProofAttempt: (budgetKey, { limits }) => take('proof', budgetKey, limits.proofAttemptsPerDay, DAY),
    proofBudgetSpent: (budgetKey, { limits }) => slotsFull(slots, slotLimit('proof', budgetKey, limits.proofAttemptsPerDay, DAY), new Date(clock())),
    takeCodeTry: (challengeId, { codes }) => take('code-try', challengeId, codes.maxTries, DAY),
    allowFlowStart: (ip, { limits }) => allow('flow-ip', addressBudgetKey(ip), limits.flowsPerIpHour, HOUR),
    allowProofFrom: (ip, { limits }) => allow('proof-ip', addressBudgetKey(ip), limits.proofAttemptsPerIpHour, HOUR),
    allowNoticeText: ({ limits }) => allow('notice-text-global', 'all', limits.globalPerHour, HOUR),
  };
}
