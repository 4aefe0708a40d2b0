// The current password, asked again outside a sign-in (ASVS 6.2.3, 6.3.x: a sensitive change of the account needs
// it): by "Change your password" and by "Your security info". It is checked exactly as at sign-in (Accounts.signIn):
// the same answer and time for an unknown login, a wrong password, a locked, disabled or locked-down account; the
// same lockout count; the address's CAPTCHA past its failures, one budget with the sign-in page; the device cookie it
// reads (none is set: what follows may revoke it). Failures are logged as the sign-in logs them, with `via`, so that
// watching for guesses sees these pages too.
import type { Context } from 'koa';
import { z } from 'zod';
import { MAX_PASSWORD_INPUT_LENGTH } from '../accounts/passwords.ts';
import type { Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import type { Pseudonymize } from '../audit/pseudonym.ts';
import type { Config } from '../../config/index.ts';
import type { AppContext } from '../http/context.ts';
import { deviceOf } from '../http/device-cookie.ts';
import type { MessageId } from '../http/messages/en.ts';
import { SIGN_IN_CAPTCHA_ERRORS, type CaptchaGate } from '../security/captcha-gate.ts';
import type { SignInAttempt, SignInChallenge } from '../security/sign-in-challenge.ts';
import { MAX_LOGIN_LENGTH, usableLogin } from './recovery/prefill.ts';

export interface CurrentPasswordDeps {
  config: Pick<Config, 'cookieSecure'>;
  accounts: Pick<Accounts, 'signIn' | 'prefetchLogin' | 'rememberLanguage'>;
  /** The sign-in's count of failures per address, and its CAPTCHA past them: one budget for every page. */
  challenge: SignInChallenge;
  captcha: CaptchaGate;
  /** Keyed hash for logging login names. */
  pseudonymize: Pseudonymize;
}

/** The fields of a form asking for the current password; each form extends them with its own. */
export const currentPasswordForm = z.object({
  csrf: z.string(),
  login: z.string().trim().max(MAX_LOGIN_LENGTH).default(''),
  current: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
  captchaId: z.string().max(64).default(''),
  captcha: z.string().max(64).default(''),
});
export type CurrentPasswordFields = z.infer<typeof currentPasswordForm>;

/**
 * The login an application's link fills in (`?login_hint=`, as in an authorization request: its account settings
 * linking here), at the current password; a hint too long to be a login is ignored.
 */
export function loginHintOf(ctx: Context): string {
  return usableLogin(ctx.query.login_hint) ?? '';
}

/**
 * How long a refused form's redirect may still show its refusal (http/retry-cookie.ts): a page anyone may open at
 * any time, unlike a sign-in's, so not much beyond following the redirect (the next person at a shared computer).
 */
export const RETRY_MAX_AGE_MS = 15_000;

/** A refusal, as the form shows it again: the login typed, the error, the CAPTCHA whose wait goes on. */
export interface Refused {
  login: string;
  error: MessageId;
  captchaId?: string;
}

export interface CurrentPasswordCheck {
  /** The CAPTCHA the form shows, when this address must answer one before its next try (else nothing). */
  captchaFor(ctx: Context, captchaId?: string): Promise<Awaited<ReturnType<CaptchaGate['show']>> | undefined>;
  /**
   * Runs `work` as one sign-in try of this address: counted as it begins when let through without a CAPTCHA
   * (sign-in-challenge.ts), and ended before its answer is drawn (still in flight, it would count towards the CAPTCHA
   * the page asks for).
   */
  attempt<T>(ctx: Context, work: (attempt: SignInAttempt) => Promise<T>): Promise<T>;
  /**
   * The account whose login and current password these are, or why not. `firstRefusal` is checked once both fields
   * are there and before anything is read (a form's own mistake, the same whoever the account is).
   */
  check(ctx: Context, fields: CurrentPasswordFields, attempt: SignInAttempt, via: string, firstRefusal?: () => MessageId | undefined): Promise<User | Refused>;
}

export function createCurrentPasswordCheck({ config, accounts, challenge, captcha, pseudonymize }: CurrentPasswordDeps): CurrentPasswordCheck {
  return {
    async captchaFor(ctx, captchaId) {
      // Asked of everyone at this address alike, as the sign-in page asks (never a sign of an account).
      return (await challenge.required(ctx.ip)) ? captcha.show(captchaId) : undefined;
    },

    async attempt(ctx, work) {
      const attempt = await challenge.begin(ctx.ip);
      try {
        return await work(attempt);
      } finally {
        attempt.end();
      }
    },

    async check(ctx, fields, attempt, via, firstRefusal) {
      const { login } = fields;
      const logFailure = (reason: string) =>
        (ctx as AppContext).state.log.info({ event: 'signin.failed', factor: 'password', via, reason, ...(login && { loginHash: pseudonymize(login) }), ip: ctx.ip }, `sign-in failed (${via})`);
      if (!login || !fields.current) {
        logFailure('missing_field');
        return { login, error: 'login.missing', captchaId: fields.captchaId };
      }
      const early = firstRefusal?.();
      if (early) return { login, error: early, captchaId: fields.captchaId };
      if (attempt.challenged) {
        const outcome = await captcha.pass(fields.captchaId, fields.captcha, ctx.ip);
        if (!outcome.passed) {
          logFailure(`captcha_${outcome.reason}`);
          return { login, error: SIGN_IN_CAPTCHA_ERRORS[outcome.reason], ...('keep' in outcome && { captchaId: outcome.keep }) };
        }
      } else {
        accounts.prefetchLogin(login);
      }
      const result = await accounts.signIn(login, fields.current, deviceOf(ctx, config.cookieSecure), undefined, () => attempt.failed());
      if (result.ok) {
        // As the sign-in page logs its own: who opened an account page with the password shows in the log too.
        (ctx as AppContext).state.log.info({ event: 'signin.succeeded', factor: 'password', via, accountId: result.user._id }, `sign-in succeeded (${via})`);
        await keepSignInLanguage(accounts, ctx, result.user);
        return result.user;
      }
      logFailure('invalid'); // which of wrong password, unknown login, locked or disabled is not for the log either
      return { login, error: 'login.invalid' };
    },
  };
}

/**
 * Keeps the page language of a sign-in with the password for the owner's notices (Accounts.rememberLanguage); a
 * failure to keep it is logged and costs the sign-in nothing.
 */
export async function keepSignInLanguage(accounts: Pick<Accounts, 'rememberLanguage'>, ctx: Context, user: User): Promise<void> {
  await accounts.rememberLanguage(user, (ctx as AppContext).state.locale).catch((error: unknown) => {
    (ctx as AppContext).state.log.warn({ err: error }, "could not keep the sign-in's language for the owner's notices");
  });
}

/** Whether `checked` is a refusal rather than the account. */
export const isRefused = (checked: User | Refused): checked is Refused => 'error' in checked && !('_id' in checked);
