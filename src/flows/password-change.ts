// "Change your password" (ASVS 6.2.2 / 6.2.3): a person who knows their password chooses a new one at
// /account/password, giving the current one with it, as on Microsoft's own change-password page. The current password
// is checked exactly as at sign-in (Accounts.signIn): the same answer and time for an unknown login, a wrong password, a
// locked, disabled or locked-down account; the same lockout count, the address's CAPTCHA past its failures, the device
// cookie it reads. What the rules find wrong with the new password is said only after the right current password (the
// rules name the account's own words); that the two new fields differ, before anything is read.
// The change is written with the account's revocation, as a reset: every session and token from before it ends, and
// the owner is told on every contact, with "This wasn't me".
//   GET  /account/password        the form (`?login_hint=` fills in the login)
//   POST /account/password        login, current password, new password twice (and the CAPTCHA when asked)
//   GET  /account/password/done   once, after a change (a short-lived signed cookie says whose)
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AccountChangedError, type Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import { MAX_PASSWORD_INPUT_LENGTH } from '../accounts/passwords.ts';
import { PasswordRejectedError } from '../accounts/password-rules.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Pseudonymize } from '../audit/pseudonym.ts';
import type { Config } from '../../config/index.ts';
import { readForm } from '../http/body.ts';
import { checkForm } from '../http/checked-form.ts';
import { pathCookieName } from '../http/cookie-names.ts';
import { issueCsrfToken } from '../http/csrf.ts';
import { deviceOf } from '../http/device-cookie.ts';
import type { AppContext } from '../http/context.ts';
import type { MessageId } from '../http/messages/en.ts';
import { renderPage } from '../http/render.ts';
import { SIGN_IN_CAPTCHA_ERRORS } from '../interactions/routes.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { CaptchaGate } from '../security/captcha-gate.ts';
import type { SignInAttempt, SignInChallenge } from '../security/sign-in-challenge.ts';
import { MAX_LOGIN_LENGTH } from './recovery/prefill.ts';
import type { Notifier } from './recovery/notices.ts';
import { runFollowUps } from './follow-ups.ts';

export const CHANGE_PASSWORD_PATH = '/account/password';
const CSRF_SCOPE = 'account:password';
/** Long enough to follow the redirect to the done page; read once there. */
const DONE_COOKIE_MAX_AGE_MS = 5 * 60_000;

export interface PasswordChangeDeps {
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit'>;
  accounts: Pick<Accounts, 'signIn' | 'prefetchLogin' | 'prepareOwnPassword' | 'replacePassword' | 'revokeAccess'>;
  /** The sign-in's count of failures per address, and its CAPTCHA past them: one budget for both pages. */
  challenge: SignInChallenge;
  captcha: CaptchaGate;
  policy: { current(): Promise<RecoveryPolicy> };
  audit: Pick<AuditLog, 'record'>;
  notifier: Pick<Notifier, 'notify'>;
  /** Keyed hash for logging login names. */
  pseudonymize: Pseudonymize;
}

const changeForm = z.object({
  csrf: z.string(),
  action: z.enum(['change', 'new-captcha']).default('change'),
  login: z.string().trim().max(MAX_LOGIN_LENGTH).default(''),
  current: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
  password: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
  confirm: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
  captchaId: z.string().max(64).default(''),
  captcha: z.string().max(64).default(''),
});
type ChangeForm = z.infer<typeof changeForm>;

/** What the form shows again: the login typed, an error, the CAPTCHA whose wait goes on. Never a password. */
interface Shown {
  login?: string;
  error?: MessageId;
  errorValues?: Record<string, string | number>;
  captchaId?: string;
}

export function passwordChangeRoutes(deps: PasswordChangeDeps): Router {
  const { config, accounts, challenge, captcha, policy } = deps;
  const csrfOptions = { secure: config.cookieSecure };
  const doneCookie = pathCookieName('lk_password_changed', config.cookieSecure);
  const doneCookieOptions = { httpOnly: true, secure: config.cookieSecure, sameSite: 'lax' as const, path: `${CHANGE_PASSWORD_PATH}/done`, signed: true, overwrite: true };
  const router = new Router({ prefix: CHANGE_PASSWORD_PATH });

  async function showForm(ctx: Context, { login = '', error, errorValues, captchaId }: Shown = {}) {
    // Asked of everyone at this address alike, as the sign-in page asks (never a sign of an account).
    const shown = (await challenge.required(ctx.ip)) ? await captcha.show(captchaId) : undefined;
    await renderPage(ctx, 'change-password', {
      titleId: 'change_password.title',
      csrf: issueCsrfToken(ctx, CSRF_SCOPE, csrfOptions),
      login,
      minLength: (await policy.current()).passwordMinLength,
      error,
      errorValues,
      ...shown,
    });
  }

  // An application's account settings may link here with the person's login (`?login_hint=`, as in an authorization
  // request): the form opens with it filled in, at the current password.
  router.get('/', (ctx) => {
    const hint = typeof ctx.query.login_hint === 'string' ? ctx.query.login_hint.trim() : '';
    return showForm(ctx, { login: hint.length <= MAX_LOGIN_LENGTH ? hint : '' });
  });

  router.post('/', async (ctx) => {
    const submitted = await readForm(ctx, config.formBodyLimit);
    // Counted as a sign-in is: tries let through without a CAPTCHA are counted as they begin (sign-in-challenge.ts).
    const attempt = await challenge.begin(ctx.ip);
    let refused: Shown | undefined;
    try {
      refused = await change(ctx, checkForm(ctx, submitted, changeForm, CSRF_SCOPE, csrfOptions), attempt);
    } finally {
      attempt.end();
    }
    // Shown once the try is over: still in flight, it would count towards the CAPTCHA the page asks for.
    if (refused) await showForm(ctx, refused);
  });

  /** The change, or what the form shows again when it is refused. */
  async function change(ctx: Context, form: ChangeForm, attempt: SignInAttempt): Promise<Shown | undefined> {
    // As the sign-in logs them, so that watching for guesses sees these too; with a keyed hash of the login.
    const logFailure = (reason: string) =>
      (ctx as AppContext).state.log.info(
        { event: 'signin.failed', factor: 'password', via: 'password_change', reason, ...(form.login && { loginHash: deps.pseudonymize(form.login) }), ip: ctx.ip },
        'sign-in failed (change of password)',
      );
    const login = form.login;
    if (form.action === 'new-captcha') return { login };
    if (!form.login || !form.current) {
      logFailure('missing_field');
      return { login, error: 'login.missing', captchaId: form.captchaId };
    }
    // Before anything is read: the two new fields differ whoever the account is.
    if (form.password !== form.confirm) return { login, error: 'recover.password_mismatch', captchaId: form.captchaId };
    if (attempt.challenged) {
      const outcome = await captcha.pass(form.captchaId, form.captcha, ctx.ip);
      if (!outcome.passed) {
        logFailure(`captcha_${outcome.reason}`);
        return { login, error: SIGN_IN_CAPTCHA_ERRORS[outcome.reason], ...('keep' in outcome && { captchaId: outcome.keep }) };
      }
    } else {
      accounts.prefetchLogin(form.login);
    }
    // No device cookie is set: the change revokes the account's device tokens (as a reset does), this one included.
    const result = await accounts.signIn(form.login, form.current, deviceOf(ctx, config.cookieSecure), undefined, () => attempt.failed());
    if (!result.ok) {
      logFailure('invalid'); // which of wrong password, unknown login, locked or disabled is not for the log either
      return { login, error: 'login.invalid' };
    }
    const user = result.user;
    let prepared;
    try {
      prepared = await accounts.prepareOwnPassword(user._id, form.password); // the rules, and not the current one
    } catch (error) {
      if (!(error instanceof PasswordRejectedError)) throw error;
      return { login, error: error.reason === 'password.reused' ? 'change_password.same' : error.reason, errorValues: error.values };
    }
    // Written only over the account as the sign-in just read it: a reset or lockdown landing during the argon2 runs
    // refuses the write (the person then proves the current password again).
    try {
      await accounts.replacePassword(prepared, user);
    } catch (error) {
      if (!(error instanceof AccountChangedError)) throw error;
      return { login, error: 'change_password.account_changed' };
    }
    await afterChange(ctx, user);
    ctx.cookies.set(doneCookie, user.username, { ...doneCookieOptions, maxAge: DONE_COOKIE_MAX_AGE_MS });
    ctx.status = 303; // never 307: the browser must not post the passwords again
    ctx.redirect(`${CHANGE_PASSWORD_PATH}/done`);
    return undefined;
  }

  /** What follows a change once it is written (flows/follow-ups.ts). */
  async function afterChange(ctx: Context, user: User) {
    const state = (ctx as AppContext).state;
    state.log.info({ event: 'password.changed', reason: 'self', accountId: user._id }, 'password changed by its owner');
    const tasks: Record<string, () => Promise<unknown>> = {
      revocation: () => accounts.revokeAccess(user._id), // deletes what the write already voided
      audit: () => deps.audit.record({ type: 'password.changed', reason: 'self', accountId: user._id, ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 200), supportCode: state.requestId }),
      // A helpdesk or a phished password is what the owner's "This wasn't me" is for; the policy's reset notices cover it.
      notice: async () => (await policy.current()).notify.onReset && deps.notifier.notify(user, 'changed', state.locale),
    };
    await runFollowUps(state.log, 'password_change.follow_up_failed', { accountId: user._id }, tasks);
  }

  router.get('/done', async (ctx) => {
    const account = ctx.cookies.get(doneCookie, { signed: true });
    if (!account) {
      ctx.status = 303;
      return ctx.redirect(CHANGE_PASSWORD_PATH);
    }
    ctx.cookies.set(doneCookie, null, doneCookieOptions); // once: the next person at this browser is not told whose
    await renderPage(ctx, 'change-password-done', { titleId: 'change_password.done_title', account });
  });

  return router;
}
