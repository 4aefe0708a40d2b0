// The door of an account page opened outside a sign-in ("Your security info", "Your sessions and apps"): the login
// and current password, checked as at sign-in (current-password.ts), then a step of the page's own that the right
// password begins (interactions/interaction-steps.ts) and the browser is sent to. A refusal is a redirect back here
// (http/retry-cookie.ts), so that a reload posts no password again.
//   GET  <path>        the password form (`?login_hint=` fills in the login; `?again=1` says why it is asked again)
//   POST <path>        login and current password (and the CAPTCHA when asked): to the page's step
//   GET  <path>/done   once, after the page's work is finished
import type Router from '@koa/router';
import type { Context } from 'koa';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Accounts } from '../accounts/users.ts';
import type { Config } from '../../config/index.ts';
import { readForm } from '../http/body.ts';
import type { AppContext } from '../http/context.ts';
import { checkForm, csrfOnly, readCheckedForm } from '../http/checked-form.ts';
import { issueCsrfToken } from '../http/csrf.ts';
import type { MessageId } from '../http/messages/en.ts';
import { createOnceCookie } from '../http/once-cookie.ts';
import { renderPage } from '../http/render.ts';
import { passwordCheckOf, type InteractionSteps } from '../interactions/interaction-steps.ts';
import { createRetryCookie, PASSWORD_REFUSALS, type Retry } from '../http/retry-cookie.ts';
import { loginOfferedToSignIn, offerLoginToRecovery } from './recovery/prefill.ts';
import { refusalAsShown } from '../security/captcha-gate.ts';
import { currentPasswordForm, isRefused, loginHintOf, RETRY_MAX_AGE_MS, type CurrentPasswordCheck } from './current-password.ts';

/** What the door says, by message id. */
export interface AccountEntryTexts {
  title: MessageId;
  heading: MessageId;
  intro: MessageId;
  submit: MessageId;
  /** Why the password is asked again: the page's step ended, or the account changed meanwhile. */
  again: MessageId;
}

export interface AccountEntryOptions {
  path: string;
  csrfScope: string;
  /** The cookie that carries a refusal through its redirect. */
  retryCookie: string;
  texts: AccountEntryTexts;
  /** How failures are logged (`signin.failed` with `via`). */
  via: string;
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit' | 'brand'>;
  passwords: CurrentPasswordCheck;
  clock: () => number;
  /** Throws when the page is off. */
  assertOn?: () => Promise<void>;
  /**
   * The page's steps: the right password of an account begins one, from the moment the password was checked (an
   * administrator's action on the account since voids it), and the browser goes to its page.
   */
  steps: Pick<InteractionSteps<unknown>, 'start' | 'finish' | 'finishedFor'>;
  accounts: Pick<Accounts, 'findById'>;
  pagePath(stepId: string): string;
  /** The page that says once whose work the page finished (`<path>/done`): its view, title and cookie. */
  done: { view: string; title: MessageId; cookie: string };
}

/** A page step's id in its path: 16 random bytes, base64url. Anything else is no step. */
const STEP_ID = /^[A-Za-z0-9_-]{22}$/;
export const newPageStepId = () => randomBytes(16).toString('base64url');
/** The step's id in the URL, which names no step unless this browser's cookie does too ('-' when it is no id). */
export const pageStepIdOf = (ctx: Context): string => (STEP_ID.test(ctx.params.step ?? '') ? ctx.params.step! : '-');

const openForm = currentPasswordForm.extend({ action: z.enum(['open', 'new-captcha']).default('open') });

/** What the password form shows again: a refusal (after its redirect), or a note on why the password is asked again. */
type Shown = Retry & { note?: MessageId };
/** What the form says again after a redirect: its own refusals. */
const REFUSALS: readonly MessageId[] = [...PASSWORD_REFUSALS, 'account.temporary_password'];

export interface AccountEntry {
  /** Back to the password: the step's time is over, it was used, or the account changed since (`again`: say so). */
  backToPassword(ctx: Context, options?: { again?: boolean }): void;
  /** The page's work for `account` (its login) is finished: to the page that says so, once. */
  toDonePage(ctx: Context, account: string): void;
  /**
   * A form came without a step (any more): to the done page when another request of this browser finished the step
   * (a double click on the button that finishes it: the browser shows the answer to the last one), else back to the
   * password. The account is not judged again: its work was done.
   */
  answerWithoutStep(ctx: Context): Promise<void>;
  /** A form of the step's page (its id from the path), with the step's own CSRF token. */
  readStepForm<T>(ctx: Context, schema: z.ZodType<T>): Promise<T>;
  /** The CSRF token of step `stepId`'s forms. */
  stepCsrfToken(ctx: Context, stepId: string): string;
  /** Cancel or Done: uses the step up and leaves for the home page. */
  leave(ctx: Context): Promise<void>;
}

export function accountEntry(router: Router, options: AccountEntryOptions): AccountEntry {
  const { path, csrfScope, texts, config, passwords, clock, assertOn = async () => {} } = options;
  const csrfOptions = { secure: config.cookieSecure };
  const retries = createRetryCookie(options.retryCookie, config.cookieSecure, REFUSALS, { maxAgeMs: RETRY_MAX_AGE_MS });
  const donePath = `${path}/done`;
  const done = createOnceCookie(options.done.cookie, donePath, config.cookieSecure);

  function backToPassword(ctx: Context, { again = true } = {}) {
    ctx.status = 303;
    ctx.redirect(again ? `${path}?again=1` : path);
  }

  async function showForm(ctx: Context, { login = '', error, note, captchaId, supportCode }: Shown = {}) {
    // "Forgot your password?" then starts with the login this form shows, as the sign-in page's link does.
    if (login) offerLoginToRecovery(ctx, path, login, config.cookieSecure);
    const shown = await passwords.captchaFor(ctx, captchaId);
    await renderPage(ctx, 'account-open', {
      titleId: texts.title,
      texts,
      action: path,
      csrf: issueCsrfToken(ctx, csrfScope, csrfOptions),
      login,
      error: refusalAsShown(error, Boolean(shown)),
      supportCode,
      note,
      ...shown,
    });
  }

  router.get('/', async (ctx) => {
    await assertOn();
    const note = ctx.query.again === '1' ? texts.again : undefined;
    // The login typed in a recovery begun at this door comes back with its "Sign in"; else the application's hint.
    const login = loginOfferedToSignIn(ctx, path, config.cookieSecure) ?? loginHintOf(ctx);
    await showForm(ctx, { login, ...(note && { note }), ...retries.take(ctx, path) });
  });

  router.post('/', async (ctx) => {
    await assertOn();
    const submitted = await readForm(ctx, config.formBodyLimit);
    const refused = await passwords.attempt(ctx, async (attempt): Promise<Retry | undefined> => {
      const form = checkForm(ctx, submitted, openForm, csrfScope, csrfOptions);
      if (form.action === 'new-captcha') return { login: form.login };
      // Before the password is checked: an administrator's action on the account while it is (a reset landing during
      // the argon2 run) then postdates the step and voids it.
      const checkedAt = new Date(clock());
      const checked = await passwords.check(ctx, form, attempt, options.via);
      if (isRefused(checked)) return checked;
      // A password an administrator (or a helpdesk) knows must not change what the account recovers with, nor who is
      // signed in to it.
      if (checked.passwordChangeRequired) return { login: form.login, error: 'account.temporary_password' };
      const id = newPageStepId();
      await options.steps.start(ctx, id, passwordCheckOf(checked, checkedAt.getTime()));
      ctx.status = 303; // never 307: the browser must not post the password again
      ctx.redirect(options.pagePath(id));
      return undefined;
    });
    if (refused) retries.redirect(ctx, path, refused); // a reload then posts no password again
  });

  router.get('/done', async (ctx) => {
    const account = done.take(ctx);
    if (!account) return backToPassword(ctx, { again: false }); // a reload: nothing to say
    await renderPage(ctx, options.done.view, { titleId: options.done.title, account });
  });

  function toDonePage(ctx: Context, account: string) {
    done.set(ctx, account);
    ctx.status = 303;
    ctx.redirect(donePath);
  }

  const stepCsrfScope = (stepId: string) => `${csrfScope}:${stepId}`;
  const readStepForm = <T>(ctx: Context, schema: z.ZodType<T>) => readCheckedForm(ctx, schema, stepCsrfScope(pageStepIdOf(ctx)), { limit: config.formBodyLimit, ...csrfOptions });

  return {
    backToPassword,
    toDonePage,
    readStepForm,
    stepCsrfToken: (ctx, stepId) => issueCsrfToken(ctx, stepCsrfScope(stepId), csrfOptions),
    async leave(ctx) {
      await readStepForm(ctx, csrfOnly);
      await options.steps.finish(ctx, pageStepIdOf(ctx));
      ctx.status = 303;
      // Back to the application the page was opened from (http/return-to-app.ts), else home.
      ctx.redirect((ctx as AppContext).state.returnApp?.url ?? (config.brand.homeUrl || '/'));
    },
    async answerWithoutStep(ctx) {
      const accountId = (await options.steps.finishedFor(ctx, pageStepIdOf(ctx)))?.accountId;
      const user = accountId && (await options.accounts.findById(accountId));
      if (user) toDonePage(ctx, user.username);
      else backToPassword(ctx);
    },
  };
}
