// "Change your password" (ASVS 6.2.2 / 6.2.3): a person who knows their password chooses a new one at
// /account/password, giving the current one with it, as on Microsoft's own change-password page. The current password
// is checked exactly as at sign-in (current-password.ts). What the rules find wrong with the new password is said only
// after the right current password (the rules name the account's own words); that the two new fields differ, before
// anything is read. A refusal is a redirect to the form, which says it once (http/retry-cookie.ts).
// The change is written with the account's revocation, as a reset: every session and token from before it ends, and
// the owner is told on every contact, with "This wasn't me" (unless the policy's notify.onReset is off, as after a reset).
//   GET  /account/password        the form (`?login_hint=` fills in the login)
//   POST /account/password        login, current password, new password twice (and the CAPTCHA when asked)
//   GET  /account/password/done   once, after a change (a short-lived signed cookie says whose)
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { AccountChangedError, type Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import { MAX_PASSWORD_INPUT_LENGTH } from '../accounts/passwords.ts';
import { PASSWORD_REASONS, PasswordRejectedError } from '../accounts/password-rules.ts';
import { requestFacts, type AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import { readForm } from '../http/body.ts';
import { checkForm } from '../http/checked-form.ts';
import { createOnceCookie } from '../http/once-cookie.ts';
import type { FirstPosts } from '../db/first-post.ts';
import type { MessageId } from '../http/messages/en.ts';
import { createRetryCookie, PASSWORD_REFUSALS, type Retry } from '../http/retry-cookie.ts';
import { issueCsrfToken } from '../http/csrf.ts';
import type { AppContext } from '../http/context.ts';
import { renderPage } from '../http/render.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { SignInAttempt } from '../security/sign-in-challenge.ts';
import { refusalAsShown } from '../security/captcha-gate.ts';
import type { Notifier } from './recovery/notices.ts';
import { currentPasswordForm, isRefused, loginHintOf, RETRY_MAX_AGE_MS, type CurrentPasswordCheck } from './current-password.ts';
import { runFollowUps } from './follow-ups.ts';

export const CHANGE_PASSWORD_PATH = '/account/password';
const CSRF_SCOPE = 'account:password';

export interface PasswordChangeDeps {
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit'>;
  accounts: Pick<Accounts, 'prepareOwnPassword' | 'replacePassword' | 'revokeAccess' | 'hasPassword'>;
  /** The current password, checked as at sign-in. */
  passwords: CurrentPasswordCheck;
  policy: { current(): Promise<RecoveryPolicy> };
  audit: Pick<AuditLog, 'record'>;
  notifier: Pick<Notifier, 'notify'>;
  /** A double click's posts: the first changes the password, the other answers as it did (db/first-post.ts). */
  firstPosts: FirstPosts<ChangeOutcome>;
}

/** What the first of identical posts did: whose password it saved, if it saved one. */
export interface ChangeOutcome {
  changedFor?: string;
  username?: string;
}

const changeForm = currentPasswordForm.extend({
  action: z.enum(['change', 'new-captcha']).default('change'),
  password: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
  confirm: z.string().max(MAX_PASSWORD_INPUT_LENGTH).default(''),
});
type ChangeForm = z.infer<typeof changeForm>;

/** What the form says again after a redirect (http/retry-cookie.ts): its own refusals, the password rules' among them. */
const REFUSALS: readonly MessageId[] = [...PASSWORD_REFUSALS, ...PASSWORD_REASONS, 'recover.password_mismatch', 'change_password.same', 'change_password.account_changed'];

export function passwordChangeRoutes(deps: PasswordChangeDeps): Router {
  const { config, accounts, passwords, policy } = deps;
  const csrfOptions = { secure: config.cookieSecure };
  const done = createOnceCookie('lk_password_changed', `${CHANGE_PASSWORD_PATH}/done`, config.cookieSecure);
  const router = new Router({ prefix: CHANGE_PASSWORD_PATH });

  const retries = createRetryCookie('lk_password_retry', config.cookieSecure, REFUSALS, { maxAgeMs: RETRY_MAX_AGE_MS });

  async function showForm(ctx: Context, { login = '', error, values, captchaId, supportCode }: Retry = {}) {
    const shown = await passwords.captchaFor(ctx, captchaId);
    await renderPage(ctx, 'change-password', {
      titleId: 'change_password.title',
      csrf: issueCsrfToken(ctx, CSRF_SCOPE, csrfOptions),
      login,
      minLength: (await policy.current()).passwordMinLength,
      error: refusalAsShown(error, Boolean(shown)),
      errorValues: values,
      supportCode,
      ...shown,
    });
  }

  // A refusal is said once after its redirect; otherwise the form, with the login an application's link gives.
  router.get('/', (ctx) => showForm(ctx, { login: loginHintOf(ctx), ...retries.take(ctx, CHANGE_PASSWORD_PATH) }));

  router.post('/', async (ctx) => {
    const submitted = await readForm(ctx, config.formBodyLimit);
    const refused = await passwords.attempt(ctx, (attempt) => change(ctx, checkForm(ctx, submitted, changeForm, CSRF_SCOPE, csrfOptions), attempt));
    if (refused) retries.redirect(ctx, CHANGE_PASSWORD_PATH, refused); // a reload then posts no password again
  });

  /**
   * The change, or what the form shows again when it is refused. The first of identical posts (this browser's, every
   * field the same: a double click, whose second answer the browser shows) does it; the other waits for it and, when
   * it saved the password, answers as it did: done. Whoever sends the very same fields knows both passwords already,
   * so that answer tells nobody anything. Otherwise (the first was refused) the twin is checked on its own.
   */
  async function change(ctx: Context, form: ChangeForm, attempt: SignInAttempt): Promise<Retry | undefined> {
    if (form.action === 'new-captcha') return { login: form.login };
    const key = [form.csrf, form.login, form.current, form.password, form.confirm]; // the CSRF token is checked already
    const first = await deps.firstPosts.claimFirst(key);
    if (!first) {
      const twin = await deps.firstPosts.outcomeOf(key);
      if (twin?.changedFor) return showDone(ctx, twin.username ?? '');
    }
    let outcome: ChangeOutcome = {};
    try {
      const result = await changeOnce(ctx, form, attempt);
      if ('refused' in result) return result.refused;
      outcome = result.saved;
      return showDone(ctx, result.saved.username ?? '');
    } finally {
      // At best: without it, a twin waits its few seconds and is checked on its own (nothing is lost).
      if (first) await deps.firstPosts.settle(key, outcome).catch(() => undefined);
    }
  }

  /** Checks and saves: what the form shows again, or what was saved. */
  async function changeOnce(ctx: Context, form: ChangeForm, attempt: SignInAttempt): Promise<{ refused: Retry } | { saved: ChangeOutcome }> {
    const login = form.login;
    // Before anything is read: the two new fields differ whoever the account is.
    const checked = await passwords.check(ctx, form, attempt, 'password_change', () => (form.password !== form.confirm ? 'recover.password_mismatch' : undefined));
    if (isRefused(checked)) return { refused: checked };
    const user = checked;
    let prepared;
    try {
      prepared = await accounts.prepareOwnPassword(user._id, form.password); // the rules, and not the current one
    } catch (error) {
      if (!(error instanceof PasswordRejectedError)) throw error;
      return { refused: { login, error: error.reason === 'password.reused' ? 'change_password.same' : error.reason, values: error.values } };
    }
    // Written only over the account as the sign-in just read it: a reset or lockdown landing during the argon2 runs
    // refuses the write (the person then proves the current password again).
    try {
      await accounts.replacePassword(prepared, user);
    } catch (error) {
      if (!(error instanceof AccountChangedError)) throw error;
      // Changed meanwhile to the very password this form chose (another tab's post, say, which saw to the revocation
      // and the notice): not "nothing was saved".
      if (await accounts.hasPassword(user._id, form.password)) return { saved: { username: user.username } };
      return { refused: { login, error: 'change_password.account_changed' } };
    }
    await afterChange(ctx, user);
    return { saved: { changedFor: user._id, username: user.username } };
  }

  function showDone(ctx: Context, username: string): undefined {
    done.set(ctx, username);
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
      audit: () => deps.audit.record({ type: 'password.changed', reason: 'self', accountId: user._id, ...requestFacts(ctx) }),
      // A helpdesk or a phished password is what the owner's "This wasn't me" is for; the policy's reset notices cover it.
      notice: async () => (await policy.current()).notify.onReset && deps.notifier.notify(user, 'changed', state.locale),
    };
    await runFollowUps(state.log, 'password_change.follow_up_failed', { accountId: user._id }, tasks);
  }

  router.get('/done', async (ctx) => {
    const account = done.take(ctx);
    if (!account) {
      ctx.status = 303;
      return ctx.redirect(CHANGE_PASSWORD_PATH);
    }
    await renderPage(ctx, 'change-password-done', { titleId: 'change_password.done_title', account });
  });

  return router;
}
