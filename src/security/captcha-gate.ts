// A CAPTCHA's answer, or a wait instead of one. WCAG 2.2 SC 3.3.8 (Accessible Authentication, Minimum) allows no
// cognitive function test in a step of signing in or recovering an account unless the step offers another way, and
// reading distorted characters is one, as is hearing them (the audio cannot be that other way). The other way here is
// time: a CAPTCHA left empty passes once its page has been open the policy's `captcha.waitSeconds`, counted from when
// the server issued it, and it is used up as an answer would be (one pass per CAPTCHA, of any parallel posts).
//
// What the CAPTCHA is for (slowing automated tries from one address) the wait keeps with a budget per address:
// `captcha.waitsPerIpHour` passes an hour per address (the /64 for IPv6), in the slot limits of db/atomic.ts, after
// which that address must answer until its window ends. A wait that is not over yet, or refused by that budget,
// leaves the CAPTCHA as it is, so its wait goes on and its characters can still be entered. Nothing about an account
// is read or counted here.
import type { MessageId } from '../http/messages/en.ts';
import type { PolicyStore } from '../policy/store.ts';
import { CAPTCHA_LIFETIME_MS, normalizeAnswer, type Captcha } from './captcha.ts';
import { addressBudgetKey, type Limits } from './limits.ts';

const HOUR = 3600;

export type CaptchaOutcome =
  | { passed: true }
  /** A wrong answer: a new CAPTCHA is shown. */
  | { passed: false; reason: 'wrong' }
  /**
   * No CAPTCHA to answer or wait for: it expired (a page left open past CAPTCHA_LIFETIME_MS), or was used (a form
   * sent twice). Nothing typed was judged; a new CAPTCHA (a new wait) is shown, and the page says why.
   */
  | { passed: false; reason: 'stale' }
  /**
   * Left empty before its wait was over: `keep` is the CAPTCHA to show again (its wait goes on). Without `keep`, the
   * form had no CAPTCHA (its page was shown before this address needed one): a new one, and its wait, begin now.
   */
  | { passed: false; reason: 'early'; keep?: string }
  /** Left empty once the wait was over, but this address has used its waits of the hour: it must answer `keep`. */
  | { passed: false; reason: 'used_up'; keep: string };

/** Why a CAPTCHA did not let a try through: what the page says next. */
export type CaptchaRefusal = Exclude<CaptchaOutcome, { passed: true }>['reason'];

/** What a password form (sign-in, change of password, security info) says when its CAPTCHA did not let a try through. */
export const SIGN_IN_CAPTCHA_ERRORS: Record<CaptchaRefusal, MessageId> = {
  wrong: 'login.captcha_wrong',
  stale: 'login.captcha_stale',
  early: 'login.captcha_wait_early',
  used_up: 'login.captcha_wait_used_up',
};

/**
 * A password form's refusal as its page says it. When the page asks for no CAPTCHA any more (the address's challenge
 * has ended since the post), one that names a new picture says that none is needed, and one about the wait is not
 * said at all: with no CAPTCHA there is no wait.
 */
export function refusalAsShown<T extends string | undefined>(error: T, captchaShown: boolean): T | 'login.captcha_not_asked' | undefined {
  if (captchaShown) return error;
  if (error === 'login.captcha_wrong' || error === 'login.captcha_stale') return 'login.captcha_not_asked';
  return error?.startsWith('login.captcha_wait') ? undefined : error;
}

export interface CaptchaGate {
  /** Whether the form's CAPTCHA lets this try through: by its answer, or (left empty) by its wait. */
  pass(captchaId: string, typed: string, ip: string): Promise<CaptchaOutcome>;
  /**
   * The CAPTCHA a page shows: `kept` while it is still live (its wait goes on), a new one otherwise; the seconds left
   * of its wait, and of its life (after which neither its answer nor its wait lets anything through).
   */
  show(kept?: string): Promise<{ captchaId: string; waitSeconds: number; lifeSeconds: number }>;
}

export function createCaptchaGate(captcha: Pick<Captcha, 'issue' | 'check' | 'sinceIssued' | 'useUnanswered'>, limits: Limits, policy: PolicyStore): CaptchaGate {
  const waitMs = async () => (await policy.current()).captcha.waitSeconds * 1000;

  return {
    async pass(captchaId, typed, ip) {
      if (normalizeAnswer(typed)) {
        const checked = await captcha.check(captchaId, typed);
        return checked === 'right' ? { passed: true } : { passed: false, reason: checked === 'gone' ? 'stale' : 'wrong' };
      }
      if (!captchaId) return { passed: false, reason: 'early' };
      const since = await captcha.sinceIssued(captchaId);
      if (since === undefined) return { passed: false, reason: 'stale' };
      const { captcha: rules } = await policy.current();
      if (since < rules.waitSeconds * 1000) return { passed: false, reason: 'early', keep: captchaId };
      // Counted only once the wait is over: pressing too early costs the address nothing.
      if (!(await limits.allow('captcha-wait-ip', addressBudgetKey(ip), rules.waitsPerIpHour, HOUR))) return { passed: false, reason: 'used_up', keep: captchaId };
      return (await captcha.useUnanswered(captchaId)) ? { passed: true } : { passed: false, reason: 'stale' };
    },

    async show(kept) {
      const since = kept === undefined ? undefined : await captcha.sinceIssued(kept);
      const captchaId = since === undefined ? (await captcha.issue()).id : kept!;
      const seconds = (ms: number) => Math.max(0, Math.ceil((ms - (since ?? 0)) / 1000));
      return { captchaId, waitSeconds: seconds(await waitMs()), lifeSeconds: seconds(CAPTCHA_LIFETIME_MS) };
    },
  };
}
