// The SMS pumping circuit breaker (security checklist PUMP-ANOMALY). Pumping fraud has a site text or call numbers
// whose traffic earns the fraudster a share of the bill, and never types a code back: a healthy share of codes
// proved is 60-80 %, under 20 % suggests an attack (Telnyx). The only numbers anyone can type in for a code here are
// those being added to an account ("Your security info"; recovery texts and calls only numbers already registered),
// so those codes are counted per country (or territory: +1 alone is twenty-odd of them), with how many were proved.
//
// Counted by number, not by code: a number that gets three codes, or is proved twice, counts once in its window, so
// resends do not make people look like fraud and re-adding one's own number buys no cover for pumped ones. Counted
// in 10-minute windows by the time the code was sent (a proof counts in its code's window; a number typed again in
// a later window counts again), and judged only over windows whose codes expired at least a window ago (codes live
// at most 10 minutes: the six windows ending three windows back), so a burst of people adding their numbers at nine
// o'clock is judged once they have had the time to type the codes in, with a window's margin for clocks and slow
// requests. Once that hour of windows holds `minSends` numbers of one country and fewer than `minProvedPercent` of
// them were proved, no code goes to a number typed in for that country; the refused ones are not counted, so it
// closes once the windows that opened it have passed (80-90 minutes after the last code it counted). Until it opens,
// the newest three windows are not judged yet: pumping gets those in at most. The opening is told (logged as an
// error and audited) once an hour while it stays open, by whichever instance sees it.
//
// Every count is a slot or claim of db/atomic.ts, so they hold across instances. A window's counts do not change once
// judged, so each instance reads each of them once.
import type { Connection } from 'mongoose';
import { claim, slotsTaken, takeSlot, type ExpiringDoc, type SlotLimit } from '../db/atomic.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { keyedHash, LIMITS } from './limits.ts';

/** A window: as long as a code may live (the policy's codes.lifetimeSeconds is at most 600). */
const WINDOW_MS = 600_000;
/** The newest window judged: three back, whose codes had all expired a window before the current one began. */
const SETTLED = 3;
/** How many windows are judged together: an hour. */
const JUDGED = 6;
const HOUR_MS = 3600_000;
/** Far above any window's numbers (a count is a binary search of log2 of it, 12 reads). */
const COUNT_CAP = 4096;

/** The breaker opened for a country: what it judged. */
export interface BreakerOpening {
  /** The number's country or territory, e.g. "GB" (`regionOf`; no number). */
  country: string;
  /** Numbers sent a code in the windows judged, and how many of them were proved. */
  sent: number;
  proved: number;
}

/** Whether codes may go to numbers typed in for a country now; `opened` for the one refusal that tells it this hour. */
export type BreakerVerdict = { allowed: true } | { allowed: false; opened?: BreakerOpening };

export interface PumpingBreaker {
  /** Judges the country of this (E.164) number, before any send budget is spent. */
  judge(number: string, policy: RecoveryPolicy): Promise<BreakerVerdict>;
  /** A code went at `at` to this number, typed in (counted once per window). */
  sent(number: string, at: Date, policy: RecoveryPolicy): Promise<void>;
  /** The number was proved by a code sent at `sentAt` (counted once in that code's window). */
  proved(number: string, sentAt: Date, policy: RecoveryPolicy): Promise<void>;
}

interface Counts {
  sent: number;
  proved: number;
}

/**
 * `regionOf`: the country or territory of an E.164 number (methods/sms.ts `phoneRegion`: finer than a calling code,
 * as +1 is also twenty-odd Caribbean and Pacific territories).
 */
export function createPumpingBreaker(connection: Connection, hashKey: string, regionOf: (number: string) => string | undefined, clock: () => number = Date.now): PumpingBreaker {
  const slots = connection.db!.collection<ExpiringDoc>(LIMITS);
  const hidden = keyedHash(hashKey);
  const countryOf = (number: string) => regionOf(number) ?? 'unknown';
  const windowOf = (time: number) => Math.floor(time / WINDOW_MS);
  const on = ({ pumpingBreaker }: RecoveryPolicy) => pumpingBreaker.minProvedPercent > 0;
  /** Counts are kept until the last judgement that reads them. */
  const keptUntil = (window: number) => new Date((window + SETTLED + JUDGED + 1) * WINDOW_MS);
  // A fixed cap: one taken from the policy would, lowered, cut the counts already taken when they are read.
  const counter = (name: string, country: string, window: number): SlotLimit => ({
    key: `${name}:${hidden(country)}`,
    limit: COUNT_CAP,
    windowSeconds: WINDOW_MS / 1000,
    keepUntil: keptUntil(window),
  });
  /** The count `name` of `window` takes this number, unless it was counted there already. */
  async function count(name: string, number: string, window: number): Promise<void> {
    const country = countryOf(number);
    if (!(await claim(slots, `${name}-number:${hidden(country)}:${window}:${hidden(number)}`, keptUntil(window)))) return;
    await takeSlot(slots, counter(name, country, window), new Date(window * WINDOW_MS));
  }

  const judged = new Map<number, Map<string, Counts>>(); // window → country → its counts, once settled
  async function countsOf(country: string, window: number): Promise<Counts> {
    const known = judged.get(window)?.get(country);
    if (known) return known;
    const at = new Date(window * WINDOW_MS);
    const [sent, proved] = await Promise.all(['pump-sent', 'pump-proved'].map((name) => slotsTaken(slots, counter(name, country, window), at)));
    const counts = { sent: sent!, proved: proved! };
    judged.set(window, (judged.get(window) ?? new Map<string, Counts>()).set(country, counts));
    return counts;
  }
  function forgetBefore(oldest: number) {
    for (const window of judged.keys()) if (window < oldest) judged.delete(window);
  }

  return {
    async judge(number, policy) {
      if (!on(policy)) return { allowed: true };
      const now = clock();
      const newest = windowOf(now) - SETTLED;
      forgetBefore(newest - JUDGED + 1);
      const country = countryOf(number);
      const windows = Array.from({ length: JUDGED }, (_, i) => newest - i);
      const all = await Promise.all(windows.map((window) => countsOf(country, window)));
      const sent = all.reduce((sum, counts) => sum + counts.sent, 0);
      const proved = all.reduce((sum, counts) => sum + counts.proved, 0);
      const { minSends, minProvedPercent } = policy.pumpingBreaker;
      if (sent < minSends || proved * 100 >= minProvedPercent * sent) return { allowed: true };
      const hour = Math.floor(now / HOUR_MS);
      const told = await claim(slots, `pump-told:${hidden(country)}:${hour}`, new Date((hour + 1) * HOUR_MS));
      return { allowed: false, ...(told && { opened: { country, sent, proved } }) };
    },
    async sent(number, at, policy) {
      if (on(policy)) await count('pump-sent', number, windowOf(at.getTime()));
    },
    async proved(number, sentAt, policy) {
      if (on(policy)) await count('pump-proved', number, windowOf(sentAt.getTime()));
    },
  };
}
