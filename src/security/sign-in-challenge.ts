// A challenge, not a block, against password spraying and credential stuffing (one address trying a password or two
// on many accounts, which the per-account lockout never sees): failed password sign-ins are counted per client
// address (the /64 for IPv6) and for the whole installation, in the staggered hourly slot limits of db/atomic.ts.
// Once a count is full, sign-ins from that address (from every address, for the installation's count) must carry a
// right CAPTCHA answer before any password is looked at. Nobody is refused: the people behind a busy NAT or proxy
// address still sign in, with one more field to fill (a hard block would let anyone there lock them all out).
//
// Whether a CAPTCHA is asked is known from memory, so a sign-in costs no database command more. Each instance
// remembers, per address (and for the installation), the count its last failure's claim saw in the current window,
// and how many of its own unchallenged tries are still in flight: a try is let through without a CAPTCHA only while
// those two together stay within the threshold, so tries sent all at once are challenged as soon as they could fill
// the count, before any of their failures is counted. Another instance's failures are learnt at the next failure
// counted here, so across several instances an address gets at most the threshold's worth of unchallenged tries per
// instance and window. It depends on the address and the installation, never on the account.
import type { PolicyStore } from '../policy/store.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { addressBudgetKey, type Limits } from './limits.ts';

const HOUR = 3600;
const EVERYONE = 'all';
/**
 * Addresses remembered at most per instance (those with a failure counted in the last hour). Past it the oldest is
 * forgotten, and its count learnt again at its next failure.
 */
const MAX_REMEMBERED = 100_000;

export interface SignInChallenge {
  /** Whether a sign-in from this address would have to carry a right CAPTCHA answer now (the page asks for one). */
  required(ip: string): Promise<boolean>;
  /** A password sign-in from this address begins (see SignInAttempt). */
  begin(ip: string): Promise<SignInAttempt>;
}

export interface SignInAttempt {
  /** It must carry a right CAPTCHA answer before its password is looked at. */
  challenged: boolean;
  /** Counts its failure for the address and the installation; from then on it is counted, no longer in flight. */
  failed(): Promise<void>;
  /** It is over (call once it has been answered, whatever happened; more calls do nothing). */
  end(): void;
}

/** The failures of a window as this instance last saw them counted (the slot its last claim took). */
interface Seen {
  taken: number;
  /** When that window ends. */
  until: number;
}

type Threshold = (policy: RecoveryPolicy) => number;
/** One count of failed sign-ins: its limit's name and key (db/atomic.ts slots), and its threshold in the policy. */
interface Scope {
  name: string;
  key: string;
  threshold: Threshold;
}
const perAddress: Threshold = ({ limits }) => limits.signInFailuresPerIpHour;
const installationWide: Threshold = ({ limits }) => limits.signInFailuresGlobalHour;

export function createSignInChallenge(limits: Limits, policy: PolicyStore, clock: () => number = Date.now): SignInChallenge {
  const seen = new Map<string, Seen>(); // `${name}:${key}` → what the last count saw; the map's order is the age
  const inFlight = new Map<string, number>(); // `${name}:${key}` → unchallenged tries not yet ended

  /** What a try from `ip` counts against: the installation's failures, and its address's. */
  const scopes = (ip: string): Scope[] => [
    { name: 'signin-fail-all', key: EVERYONE, threshold: installationWide },
    { name: 'signin-fail-ip', key: addressBudgetKey(ip), threshold: perAddress },
  ];
  const idOf = ({ name, key }: Scope) => `${name}:${key}`;

  function countedNow(id: string): number {
    const last = seen.get(id);
    if (!last) return 0;
    if (last.until > clock()) return last.taken;
    seen.delete(id);
    return 0;
  }

  /** Whether `extra` more tries, with those counted and those in flight, would go past the threshold. */
  async function past(id: string, threshold: Threshold, extra: number): Promise<boolean> {
    const tries = countedNow(id) + (inFlight.get(id) ?? 0) + extra;
    // The common case, one try with none counted or in flight, needs no policy read: no threshold is below 1.
    if (tries <= 1) return false;
    return tries > threshold(await policy.current());
  }

  async function pastAny(ip: string, extra: number): Promise<boolean> {
    for (const scope of scopes(ip)) if (await past(idOf(scope), scope.threshold, extra)) return true;
    return false;
  }

  const adjust = (id: string, by: number) => {
    const next = (inFlight.get(id) ?? 0) + by;
    if (next > 0) inFlight.set(id, next);
    else inFlight.delete(id);
  };

  async function count(scope: Scope): Promise<void> {
    const limit = scope.threshold(await policy.current());
    const taken = await limits.take(scope.name, scope.key, limit, HOUR);
    const id = idOf(scope);
    const until = taken.resetsAt.getTime();
    // A full window refuses the claim: it holds the threshold's worth (as it was then; raised since, it eases).
    // Claims answered out of order must not lower what an earlier answer of the same window saw.
    const before = seen.get(id);
    const counted = Math.max(taken.allowed ? taken.slot! : limit, before?.until === until ? before.taken : 0);
    seen.delete(id);
    if (seen.size >= MAX_REMEMBERED) seen.delete(seen.keys().next().value!);
    seen.set(id, { taken: counted, until });
  }

  return {
    required: (ip) => pastAny(ip, 1),
    async begin(ip) {
      // In flight before it is judged, so that tries arriving while the policy is read see each other.
      const ids = scopes(ip).map(idOf);
      for (const id of ids) adjust(id, 1);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        for (const id of ids) adjust(id, -1);
      };
      let challenged: boolean;
      try {
        challenged = await pastAny(ip, 0);
      } catch (error) {
        end(); // the policy could not be read: the try is answered with an error, and must not stay in flight
        throw error;
      }
      if (challenged) end(); // answered with a CAPTCHA, it is no unchallenged try
      const failed = async () => {
        try {
          await Promise.all(scopes(ip).map(count));
        } finally {
          end(); // counted now (or the count failed): not in flight as well
        }
      };
      return { challenged, failed, end };
    },
  };
}
