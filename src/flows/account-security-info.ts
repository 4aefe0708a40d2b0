// "Your security info" outside a sign-in (SPEC: users "register and manage their security info"): a person opens
// /account/security-info at any time (a new phone, a lost one, an application's account settings linking here), gives
// their login and current password, checked as at sign-in (current-password.ts), and gets the page a sign-in may stop
// at (interactions/security-info-routes.ts), with the same rules: nothing registered changes until one registered
// method is proved in this visit, each addition is proved before it is stored, every change is told to the owner
// and audited. "Looks good" records the confirmation (the policy's re-confirmation counts from it); Cancel leaves.
// The policy's `registration.selfService` (on by default) turns the page off: it then answers 404, saying so.
//   GET  /account/security-info              the current password (`?login_hint=` fills in the login)
//   POST /account/security-info              login and current password (and the CAPTCHA when asked): the page
//   GET  /account/security-info/:step        the page, while its step holds (30 minutes, its cookie, this browser)
//   POST /account/security-info/:step/add …  the page's forms (security-info-routes.ts)
//   POST /account/security-info/:step/cancel leaves the page
//   GET  /account/security-info/done         once, after "Looks good"
import Router from '@koa/router';
import type { Context } from 'koa';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Accounts } from '../accounts/users.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import { AppError } from '../errors.ts';
import { readForm } from '../http/body.ts';
import { checkForm, readCheckedForm } from '../http/checked-form.ts';
import { issueCsrfToken } from '../http/csrf.ts';
import type { MessageId } from '../http/messages/en.ts';
import { createOnceCookie } from '../http/once-cookie.ts';
import { createRetryCookie, PASSWORD_REFUSALS, type Retry } from '../http/retry-cookie.ts';
import { renderPage } from '../http/render.ts';
import { accountOfStep } from '../interactions/interaction-steps.ts';
import { createSecurityInfoSteps } from '../interactions/security-info.ts';
import { securityInfoRoutes, type SecurityInfoDeps } from '../interactions/security-info-routes.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { currentPasswordForm, isRefused, loginHintOf, RETRY_MAX_AGE_MS, type CurrentPasswordCheck } from './current-password.ts';

export const ACCOUNT_SECURITY_INFO_PATH = '/account/security-info';
const CSRF_SCOPE = 'account:security-info';
/** A step's id in its path: 16 random bytes, base64url. Anything else is no step. */
const STEP_ID = /^[A-Za-z0-9_-]{22}$/;

export interface AccountSecurityInfoDeps {
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit' | 'issuer' | 'brand'>;
  accounts: Pick<Accounts, 'findById' | 'findAgain' | 'setSecurityInfo' | 'confirmSecurityInfo'>;
  /** The current password, checked as at sign-in. */
  passwords: CurrentPasswordCheck;
  policy: { current(): Promise<RecoveryPolicy> };
  audit: Pick<AuditLog, 'record'>;
  /** What the page needs besides its steps: the methods, codes, limits, notices (as a sign-in's page has them). */
  securityInfo: Omit<SecurityInfoDeps, 'steps'>;
  connection: Parameters<typeof createSecurityInfoSteps>[0];
  clock?: () => number;
}

const openForm = currentPasswordForm.extend({ action: z.enum(['open', 'new-captcha']).default('open') });
const csrfOnly = z.object({ csrf: z.string() });

/** What the password form shows again: a refusal (after its redirect), or a note on why the password is asked again. */
type Shown = Retry & { note?: MessageId };
/** What the form says again after a redirect (http/retry-cookie.ts): its own refusals. */
const REFUSALS: readonly MessageId[] = [...PASSWORD_REFUSALS, 'security_info.temporary_password'];

export function accountSecurityInfoRoutes(deps: AccountSecurityInfoDeps): Router {
  const { config, accounts, passwords, policy, audit, clock = Date.now } = deps;
  const csrfOptions = { secure: config.cookieSecure };
  const pagePath = (id: string) => `${ACCOUNT_SECURITY_INFO_PATH}/${id}`;
  const steps = createSecurityInfoSteps(deps.connection, { secureCookies: config.cookieSecure, clock, cookie: 'lk_account_security_info', pathOf: pagePath });
  const done = createOnceCookie('lk_security_info_confirmed', `${ACCOUNT_SECURITY_INFO_PATH}/done`, config.cookieSecure);
  const router = new Router({ prefix: ACCOUNT_SECURITY_INFO_PATH });
  const stepRouter = new Router({ prefix: '/:step' });

  /** Refuses everything here while the policy keeps the page off (a step begun before, too). */
  async function assertOn() {
    if (!(await policy.current()).registration.selfService) throw new AppError(404, 'security_info_off', 'security_info.off', 'the policy keeps the page off (registration.selfService)');
  }

  const retries = createRetryCookie('lk_security_info_retry', config.cookieSecure, REFUSALS, { maxAgeMs: RETRY_MAX_AGE_MS });

  async function showForm(ctx: Context, { login = '', error, note, captchaId }: Shown = {}) {
    await renderPage(ctx, 'account-security-info', {
      titleId: 'security_info.title_manage',
      csrf: issueCsrfToken(ctx, CSRF_SCOPE, csrfOptions),
      login,
      error,
      note,
      ...(await passwords.captchaFor(ctx, captchaId)),
    });
  }

  /** Back to the password: the step's time is over, it was used, or the account changed since (`again`: say so). */
  function backToPassword(ctx: Context, { again = true } = {}) {
    ctx.status = 303;
    ctx.redirect(again ? `${ACCOUNT_SECURITY_INFO_PATH}?again=1` : ACCOUNT_SECURITY_INFO_PATH);
  }

  router.get('/', async (ctx) => {
    await assertOn();
    const note = ctx.query.again === '1' ? ('security_info.open_again' as const) : undefined;
    await showForm(ctx, { login: loginHintOf(ctx), ...(note && { note }), ...retries.take(ctx, ACCOUNT_SECURITY_INFO_PATH) });
  });

  router.post('/', async (ctx) => {
    await assertOn();
    const submitted = await readForm(ctx, config.formBodyLimit);
    const refused = await passwords.attempt(ctx, async (attempt): Promise<Retry | undefined> => {
      const form = checkForm(ctx, submitted, openForm, CSRF_SCOPE, csrfOptions);
      if (form.action === 'new-captcha') return { login: form.login };
      // Before the password is checked: an administrator's action on the account while it is (a reset landing during
      // the argon2 run) then postdates the step and voids it.
      const checkedAt = new Date(clock());
      const checked = await passwords.check(ctx, form, attempt, 'security_info');
      if (isRefused(checked)) return checked;
      // A password an administrator (or a helpdesk) knows must not choose what the account recovers with.
      if (checked.passwordChangeRequired) return { login: form.login, error: 'security_info.temporary_password' };
      const id = randomBytes(16).toString('base64url');
      await steps.start(ctx, id, checked._id, checkedAt);
      ctx.status = 303; // never 307: the browser must not post the password again
      ctx.redirect(pagePath(id));
      return undefined;
    });
    if (refused) retries.redirect(ctx, ACCOUNT_SECURITY_INFO_PATH, refused); // a reload then posts no password again
  });

  router.get('/done', async (ctx) => {
    const account = done.take(ctx);
    if (!account) return backToPassword(ctx, { again: false }); // a reload: nothing to say
    await renderPage(ctx, 'account-security-info-done', { titleId: 'security_info.done_title', account });
  });

  /** The step's id in the URL, which names no step unless this browser's cookie does too. */
  const stepIdOf = (ctx: Context) => (STEP_ID.test(ctx.params.step ?? '') ? ctx.params.step! : '-');
  const stepCsrfScope = (id: string) => `${CSRF_SCOPE}:${id}`;
  const readStepForm = <T>(ctx: Context, schema: z.ZodType<T>, id: string) => readCheckedForm(ctx, schema, stepCsrfScope(id), { limit: config.formBodyLimit, ...csrfOptions });

  const pages = securityInfoRoutes(
    stepRouter,
    { ...deps.securityInfo, steps },
    {
      pagePath,
      formsPath: '',
      cancelPath: (id) => `${pagePath(id)}/cancel`,
      manage: true,
      config,
      accounts,
      policy,
      audit,
      clock,
      async stepIdOf(ctx) {
        await assertOn();
        return stepIdOf(ctx);
      },
      readValidForm: readStepForm,
      csrfToken: (ctx, id) => issueCsrfToken(ctx, stepCsrfScope(id), csrfOptions),
      accountOfStep: (step, again) => accountOfStep(accounts, step, again),
      async finished(ctx, user) {
        done.set(ctx, user.username);
        ctx.status = 303;
        ctx.redirect(`${ACCOUNT_SECURITY_INFO_PATH}/done`);
      },
      noStep: (ctx) => backToPassword(ctx),
    },
  );

  stepRouter.get('/', async (ctx) => {
    await assertOn();
    if (!(await pages.showPending(ctx, stepIdOf(ctx)))) backToPassword(ctx);
  });

  stepRouter.post('/cancel', async (ctx) => {
    const id = stepIdOf(ctx);
    await readStepForm(ctx, csrfOnly, id);
    await steps.finish(ctx, id);
    ctx.status = 303;
    ctx.redirect(config.brand.homeUrl || '/');
  });

  router.use(stepRouter.routes());
  return router;
}
