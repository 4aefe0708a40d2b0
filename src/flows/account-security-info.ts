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
import type { Accounts } from '../accounts/users.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import { AppError } from '../errors.ts';
import { accountOfStep } from '../interactions/interaction-steps.ts';
import { createSecurityInfoSteps } from '../interactions/security-info.ts';
import { securityInfoRoutes, type SecurityInfoDeps } from '../interactions/security-info-routes.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { accountEntry, pageStepIdOf } from './account-entry.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import { ACCOUNT_SECURITY_INFO_PATH } from './account-paths.ts';

const CSRF_SCOPE = 'account:security-info';

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

export function accountSecurityInfoRoutes(deps: AccountSecurityInfoDeps): Router {
  const { config, accounts, passwords, policy, audit, clock = Date.now } = deps;
  const pagePath = (id: string) => `${ACCOUNT_SECURITY_INFO_PATH}/${id}`;
  const steps = createSecurityInfoSteps(deps.connection, { secureCookies: config.cookieSecure, clock, cookie: 'lk_account_security_info', pathOf: pagePath });
  const router = new Router({ prefix: ACCOUNT_SECURITY_INFO_PATH });
  const stepRouter = new Router({ prefix: '/:step' });

  /** Refuses everything here while the policy keeps the page off (a step begun before, too). */
  async function assertOn() {
    if (!(await policy.current()).registration.selfService) throw new AppError(404, 'security_info_off', 'security_info.off', 'the policy keeps the page off (registration.selfService)');
  }

  const { backToPassword, toDonePage, answerWithoutStep, readStepForm, stepCsrfToken, leave } = accountEntry(router, {
    path: ACCOUNT_SECURITY_INFO_PATH,
    csrfScope: CSRF_SCOPE,
    retryCookie: 'lk_security_info_retry',
    texts: { title: 'security_info.title_manage', heading: 'security_info.heading_manage', intro: 'security_info.open_intro', submit: 'account.open_submit', again: 'security_info.open_again' },
    via: 'security_info',
    config,
    passwords,
    clock,
    assertOn,
    steps,
    accounts,
    pagePath,
    done: { view: 'account-security-info-done', title: 'security_info.done_title', cookie: 'lk_security_info_confirmed' },
  });

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
        return pageStepIdOf(ctx);
      },
      readValidForm: (ctx, schema) => readStepForm(ctx, schema),
      csrfToken: stepCsrfToken,
      accountOfStep: (step, again) => accountOfStep(accounts, step, again),
      async finished(ctx, user) {
        toDonePage(ctx, user.username);
      },
      noStep: (ctx) => answerWithoutStep(ctx),
      usedAlready: (ctx) => answerWithoutStep(ctx),
    },
  );

  stepRouter.get('/', async (ctx) => {
    await assertOn();
    if (!(await pages.showPending(ctx, pageStepIdOf(ctx)))) backToPassword(ctx);
  });

  stepRouter.post('/cancel', leave);

  router.use(stepRouter.routes());
  return router;
}
