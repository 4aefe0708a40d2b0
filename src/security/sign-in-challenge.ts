// A challenge, not a block, against password spraying and credential stuffing (one address trying a password or two
// on many accounts, which the per-account lockout never sees): failed password sign-ins are counted per client
// address (the /64 for IPv6) and for the whole installation, in the staggered hourly slot limits of db/atomic.ts.
// Once a count is full, sign-ins from that address (from every address, for the installation's count) must carry a
// right CAPTCHA answer before any password is looked at. Nobody is refused: the people behind a busy NAT or proxy
// address still sign in, with one more field to fill (a hard block would let anyone there lock them all out).
//
// Whether a CAPTCHA is asked is known from memory, so a sign-in costs no database command more: the failure whose
// claim takes a window's last slot (or that a full window refuses) tells its instance, which remembers it until that
// window ends. Another instance learns it at the next failure from that address that reaches it, so at most one more
// password per instance and window is checked unchallenged. It depends on the address and the installation, never
// on the account.
import type { PolicyStore } from '../policy/store.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { addressBudgetKey, type Limits } from './limits.ts';

const HOUR = 3600;
const EVERYONE = 'all';
/**
 * Addresses remembered at most per instance: each took `signInFailuresPerIpHour` failures to get here, so this is
 * millions of failures an hour. Past it the oldest is forgotten (it is learnt again at its next failure).
 */
const MAX_REMEMBERED = 100_000;

export interface SignInChallenge {
  /** Whether a sign-in from this address must carry a right CAPTCHA answer now. No database command. */
  required(ip: string): Promise<boolean>;
  /** Counts one failed password sign-in from this address, and one for the installation. */
  countFailure(ip: string): Promise<void>;
}

interface Mark {
  /** When the full window ends. */
  until: number;
  /** The threshold it was full at: raised since (an administrator easing an incident), the mark no longer holds. */
  limit: number;
}

type Threshold = (policy: RecoveryPolicy) => number;
const perAddress: Threshold = ({ limits }) => limits.signInFailuresPerIpHour;
const installationWide: Threshold = ({ limits }) => limits.signInFailuresGlobalHour;

export function createSignInChallenge(limits: Limits, policy: PolicyStore, clock: () => number = Date.now): SignInChallenge {
  const marks = new Map<string, Mark>(); // `${name}:${key}` → mark; the map's order is the age

  async function holds(id: string, threshold: Threshold): Promise<boolean> {
    const mark = marks.get(id);
    if (!mark) return false; // the common case: no policy read, nothing awaited
    if (mark.until > clock() && threshold(await policy.current()) <= mark.limit) return true;
    marks.delete(id);
    return false;
  }

  async function count(name: string, key: string, threshold: Threshold): Promise<void> {
    const limit = threshold(await policy.current());
    const taken = await limits.take(name, key, limit, HOUR);
    if (taken.allowed && taken.slot !== limit) return;
    const id = `${name}:${key}`;
    marks.delete(id);
    if (marks.size >= MAX_REMEMBERED) marks.delete(marks.keys().next().value!);
    marks.set(id, { until: taken.resetsAt.getTime(), limit });
  }

  return {
    async required(ip) {
      return (await holds(`signin-fail-all:${EVERYONE}`, installationWide)) || holds(`signin-fail-ip:${addressBudgetKey(ip)}`, perAddress);
    },
    async countFailure(ip) {
      await Promise.all([count('signin-fail-ip', addressBudgetKey(ip), perAddress), count('signin-fail-all', EVERYONE, installationWide)]);
    },
  };
}
