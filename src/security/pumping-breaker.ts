// The SMS pumping circuit breaker (security checklist PUMP-ANOMALY). Pumping fraud has a site text or call numbers
// whose traffic earns the fraudster a share of the bill, and never types a code back: a healthy share of codes
// proved is 60-80 %, under 20 % suggests an attack (Telnyx). The only numbers anyone can type in for a code here are
// those being added to an account ("Your security info"; recovery texts and calls only numbers already registered),
// so those codes are counted per country calling code, in hourly windows, with how many of them were proved. Once a
// window holds `minSends` codes to one country and fewer than `minProvedPercent` of them were proved, the breaker
// opens for that country: no code goes to a number typed in it for the rest of that hour and all of the next. The
// opening is told once (logged as an error and audited), whichever instance sees it.
//
// Every count is a slot of db/atomic.ts (claims, never a conditional update), so they hold across instances. A window
// only begins counting afresh: at most `minSends` unproved codes an hour reach a country before the breaker opens.
import type { Connection } from 'mongoose';
import { claim, slotsTaken, takeSlot, type ExpiringDoc } from '../db/atomic.ts';
import { callingCode } from '../methods/sms.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { keyedHash, LIMITS } from './limits.ts';

const HOUR_MS = 3600_000;

/** The breaker has just opened for a country: what it saw. */
export interface BreakerOpening {
  /** The country calling code, e.g. "44" (no number). */
  country: string;
  sent: number;
  proved: number;
}

export type BreakerVerdict = { allowed: true } | { allowed: false; opened?: BreakerOpening };

export interface PumpingBreaker {
  /**
   * Counts a code about to go to a number typed in (E.164), once the send limits have let it go. Refused while the
   * breaker is open for the number's country, and when this code is the one that opens it (`opened`, for the one
   * caller that opened it).
   */
  allowTyped(number: string, policy: RecoveryPolicy): Promise<BreakerVerdict>;
  /** A typed number was proved by its code. */
  proved(number: string, policy: RecoveryPolicy): Promise<void>;
}

export function createPumpingBreaker(connection: Connection, hashKey: string, clock: () => number = Date.now): PumpingBreaker {
  const slots = connection.db!.collection<ExpiringDoc>(LIMITS);
  const hidden = keyedHash(hashKey);
  const countryOf = (number: string) => callingCode(number) ?? 'unknown';
  // No window holds more codes than the installation sends in an hour.
  const counter = (name: string, country: string, { limits }: RecoveryPolicy) => ({ key: `${name}:${hidden(country)}`, limit: limits.globalPerHour, windowSeconds: HOUR_MS / 1000 });
  const openId = (country: string, window: number) => `pump-open:${hidden(country)}:${window}`;

  async function isOpen(country: string, window: number): Promise<boolean> {
    const marks = await Promise.all([window, window - 1].map((w) => slots.findOne({ _id: openId(country, w) }, { projection: { _id: 1 } })));
    return marks.some(Boolean);
  }

  return {
    async allowTyped(number, policy) {
      const { minSends, minProvedPercent } = policy.pumpingBreaker;
      if (minProvedPercent === 0) return { allowed: true };
      const now = clock();
      const window = Math.floor(now / HOUR_MS);
      const country = countryOf(number);
      if (await isOpen(country, window)) return { allowed: false };
      const sending = counter('pump-sent', country, policy);
      const taken = await takeSlot(slots, sending, new Date(now));
      const sent = taken.allowed ? taken.slot! : sending.limit;
      if (sent < minSends) return { allowed: true };
      const proved = await slotsTaken(slots, counter('pump-proved', country, policy), new Date(now));
      if (proved * 100 >= minProvedPercent * sent) return { allowed: true };
      // Open for the rest of this window and all of the next (isOpen reads both).
      const opened = await claim(slots, openId(country, window), new Date((window + 2) * HOUR_MS));
      return { allowed: false, ...(opened && { opened: { country, sent, proved } }) };
    },
    async proved(number, policy) {
      if (policy.pumpingBreaker.minProvedPercent === 0) return;
      await takeSlot(slots, counter('pump-proved', countryOf(number), policy), new Date(clock()));
    },
  };
}
