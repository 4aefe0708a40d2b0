// "Your sessions and apps" (ASVS 7.5.2: a person can see their sessions and end any or all of them, after
// authenticating again): after the login and current password (account-entry.ts), the browsers signed in to the
// account (what browser on what system, when, which applications from it, this browser marked) and the applications
// it gave access to. One session or one application's access can be ended, or everything at once.
//   GET  /account/sessions                    the current password (`?login_hint=` fills in the login)
//   POST /account/sessions                    login and current password (and the CAPTCHA when asked): the page
//   GET  /account/sessions/:step              the page, while its step holds (10 minutes, its cookie, this browser)
//   POST /account/sessions/:step/end          signs one browser out (`session`: its uid), and its applications
//   POST /account/sessions/:step/remove-app   removes an application's access (`client`: its id)
//   POST /account/sessions/:step/end-all      signs the account out everywhere, this browser too (as an
//                                             administrator's `users sign-out` does; the password stays)
//   POST /account/sessions/:step/close        leaves the page
//   GET  /account/sessions/done               once, after end-all
// Each change is audited (`account.session_ended`, `account.app_removed`, `account.signed_out` with reason `owner`).
import Router from '@koa/router';
import type { Context } from 'koa';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import type { User } from '../accounts/user-model.ts';
import type { Accounts } from '../accounts/users.ts';
import { requestFacts, type AuditEvent, type AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import { csrfOnly } from '../http/checked-form.ts';
import type { AppContext } from '../http/context.ts';
import type { MessageId } from '../http/messages/en.ts';
import { createOnceCookie } from '../http/once-cookie.ts';
import { renderPage } from '../http/render.ts';
import { accountOfStep, createInteractionSteps, type PendingStep } from '../interactions/interaction-steps.ts';
import type { AccountAccess } from '../oidc/account-access.ts';
import { cookieNames } from '../oidc/provider.ts';
import { accountEntry, pageStepIdOf } from './account-entry.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import { runFollowUps } from './follow-ups.ts';
import type { Notifier } from './recovery/notices.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { ACCOUNT_SESSIONS_PATH } from './account-paths.ts';

export const ACCOUNT_SESSION_STEPS = 'account_session_steps';
const CSRF_SCOPE = 'account:sessions';
/** Long enough to look through the list and end what is not one's own; then the password is asked again. */
const LIFETIME_MS = 10 * 60_000;

export interface AccountSessionsDeps {
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit' | 'brand'>;
  accounts: Pick<Accounts, 'findById' | 'findAgain' | 'revokeAccess'>;
  /** The current password, checked as at sign-in. */
  passwords: CurrentPasswordCheck;
  access: AccountAccess;
  audit: Pick<AuditLog, 'record'>;
  /**
   * Tells the owner that everyone was signed out (with "This wasn't me": only someone with the password could),
   * unless the policy turns notices of changes off (`notify.onReset`, as for a change of password).
   */
  notifier: Pick<Notifier, 'notify'>;
  policy: { current(): Promise<RecoveryPolicy> };
  connection: Connection;
  clock?: () => number;
}

/** What the page says once after one of its forms (through the redirect back to it). */
const NOTICES = {
  ended: 'sessions.ended',
  removed: 'sessions.app_removed',
  gone: 'sessions.already_gone',
} as const satisfies Record<string, MessageId>;
type Notice = keyof typeof NOTICES;
const isNotice = (value: string | undefined): value is Notice => value !== undefined && Object.hasOwn(NOTICES, value);

const endForm = csrfOnly.extend({ session: z.string().min(1).max(200) });
const removeAppForm = csrfOnly.extend({ client: z.string().min(1).max(200) });

export function accountSessionsRoutes(deps: AccountSessionsDeps): Router {
  const { config, accounts, passwords, access, audit, clock = Date.now } = deps;
  const pagePath = (id: string) => `${ACCOUNT_SESSIONS_PATH}/${id}`;
  const steps = createInteractionSteps(deps.connection, { collection: ACCOUNT_SESSION_STEPS, cookie: 'lk_account_sessions', lifetimeMs: LIFETIME_MS, secureCookies: config.cookieSecure, clock, pathOf: pagePath });
  const notice = createOnceCookie('lk_sessions_notice', ACCOUNT_SESSIONS_PATH, config.cookieSecure);
  const sessionCookie = cookieNames(config.cookieSecure).session;
  const router = new Router({ prefix: ACCOUNT_SESSIONS_PATH });
  const stepRouter = new Router({ prefix: '/:step' });

  const { backToPassword, toDonePage, answerWithoutStep, readStepForm, stepCsrfToken, leave } = accountEntry(router, {
    path: ACCOUNT_SESSIONS_PATH,
    csrfScope: CSRF_SCOPE,
    retryCookie: 'lk_sessions_retry',
    texts: { title: 'sessions.title', heading: 'sessions.heading', intro: 'sessions.open_intro', submit: 'account.open_submit', again: 'sessions.open_again' },
    via: 'sessions',
    config,
    passwords,
    clock,
    steps,
    accounts,
    pagePath,
    done: { view: 'account-sessions-done', title: 'sessions.done_title', cookie: 'lk_sessions_ended' },
  });

  /** The step this request names and this browser holds, and its account while its password stands; else none. */
  async function pendingStep(ctx: Context): Promise<{ id: string; step: PendingStep<never>; user: User } | undefined> {
    const id = pageStepIdOf(ctx);
    const step = await steps.pending(ctx, id);
    const user = step && (await accountOfStep(accounts, step));
    return step && user ? { id, step, user } : undefined;
  }

  /**
   * Reads a form of the step's page; without a step (any more) answers with the done page when another request of
   * this browser ended everything (a double click on "Sign out everywhere"), else back at the password.
   */
  async function stepForm<T>(ctx: Context, schema: z.ZodType<T>) {
    const form = await readStepForm(ctx, schema);
    const pending = await pendingStep(ctx);
    if (!pending) await answerWithoutStep(ctx);
    return pending && { ...pending, form };
  }

  const record = (ctx: Context, event: Omit<AuditEvent, 'ip' | 'userAgent' | 'supportCode'>) =>
    audit.record({ ...event, reason: 'owner', ...requestFacts(ctx) });

  function backToPage(ctx: Context, id: string, said: Notice) {
    notice.set(ctx, said);
    ctx.status = 303;
    ctx.redirect(pagePath(id));
  }

  stepRouter.get('/', async (ctx) => {
    const pending = await pendingStep(ctx);
    if (!pending) return backToPassword(ctx);
    const { sessions, apps, partial } = await access.list(pending.user, ctx.cookies.get(sessionCookie));
    const said = notice.take(ctx);
    const when = new Intl.DateTimeFormat((ctx as AppContext).state.locale ?? 'en', { dateStyle: 'medium', timeStyle: 'long', timeZone: 'UTC' });
    await renderPage(ctx, 'account-sessions', {
      titleId: 'sessions.title',
      account: pending.user.username,
      action: pagePath(pending.id),
      csrf: stepCsrfToken(ctx, pending.id),
      sessions: sessions.map((session) => ({ ...session, signedInAt: when.format(session.signedInAt), lastUsedAt: session.lastUsedAt && when.format(session.lastUsedAt) })),
      apps: apps.map((app) => ({ ...app, since: when.format(app.since) })),
      partial,
      notice: isNotice(said) ? NOTICES[said] : undefined,
    });
  });

  stepRouter.post('/end', async (ctx) => {
    const pending = await stepForm(ctx, endForm);
    if (!pending) return;
    const ended = await access.endSession(pending.user, pending.form.session);
    if (ended) await record(ctx, { type: 'account.session_ended', accountId: pending.user._id });
    backToPage(ctx, pending.id, ended ? 'ended' : 'gone');
  });

  stepRouter.post('/remove-app', async (ctx) => {
    const pending = await stepForm(ctx, removeAppForm);
    if (!pending) return;
    const removed = await access.removeApp(pending.user, pending.form.client);
    if (removed) await record(ctx, { type: 'account.app_removed', accountId: pending.user._id, target: pending.form.client });
    backToPage(ctx, pending.id, removed ? 'removed' : 'gone');
  });

  stepRouter.post('/end-all', async (ctx) => {
    const pending = await stepForm(ctx, csrfOnly);
    if (!pending) return;
    // Used up first: of two such posts (a double click), one does the work, and the other answers as it did.
    const finishing = await steps.finishOnce(ctx, pending.id, pending.user._id);
    if (!finishing) return answerWithoutStep(ctx);
    const user = pending.user;
    await accounts.revokeAccess(user._id);
    await runFollowUps((ctx as AppContext).state.log, 'sessions.follow_up_failed', { accountId: user._id }, {
      audit: () => record(ctx, { type: 'account.signed_out', accountId: user._id }),
      notice: async () => (await deps.policy.current()).notify.onReset && deps.notifier.notify(user, 'signed_out', (ctx as AppContext).state.locale),
    });
    toDonePage(ctx, user.username);
    await finishing.done();
  });

  stepRouter.post('/close', leave);

  router.use(stepRouter.routes());
  return router;
}
