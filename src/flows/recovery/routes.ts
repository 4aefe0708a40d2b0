// "Can't access your account?": the recovery and unlock pages. A factory that takes what it needs and returns a
// router, so the flow can be mounted into any Koa app around oidc-provider (src/app.ts is one composition).
//
// Each POST reads as a checklist: CSRF → the flow of this browser → the state it expects → limits → the one
// transition (flows/recovery/store.ts `advance`, decided by a claim) → a 303 to the flow's page. Form mistakes
// (a wrong code, a weak password) are a 303 there too, whose page says why once (flow-kit.ts `refuse`).
//
// The pages live in: identify-routes.ts (who are you?), lockdown-routes.ts ("This wasn't me"), verify-routes.ts (the
// proofs), finish-routes.ts (new password, unlock), and here the flow's own page, its goal and its cancel; what they
// share is flow-kit.ts.
import Router from '@koa/router';
import { z } from 'zod';
import type { Config } from '../../../config/index.ts';
import type { User } from '../../accounts/user-model.ts';
import type { PreparedPassword } from '../../accounts/users.ts';
import type { AuditLog } from '../../audit/audit.ts';
import { durationText } from '../../http/i18n.ts';
import type { AppContext } from '../../http/context.ts';
import type { OutgoingMessage, VerificationMethod } from '../../methods/method.ts';
import type { PolicyStore } from '../../policy/store.ts';
import type { Challenges } from '../../security/challenges.ts';
import type { CaptchaGate } from '../../security/captcha-gate.ts';
import type { Limits } from '../../security/limits.ts';
import type { ProofCeiling } from '../../security/proof-ceiling.ts';
import { finishRoutes } from './finish-routes.ts';
import { csrfOnly } from '../../http/checked-form.ts';
import { confirmationMessage, createFlowKit, RESENT_QUERY } from './flow-kit.ts';
import { identifyRoutes } from './identify-routes.ts';
import type { Lockdowns } from './lockdown.ts';
import { lockdownRoutes } from './lockdown-routes.ts';
import type { Notifier } from './notices.ts';
import { extendable, type FlowStore } from './store.ts';
import { verifyRoutes } from './verify-routes.ts';
import { callAnswerRoutes, type CallAnswers } from './call-answers.ts';
import type { VoiceProvider } from '../../delivery/voice.ts';
import type { AppDevices } from '../../methods/app-devices.ts';

/** What the flow needs of the accounts: the domain's operations, nothing about how they are stored. */
export interface RecoveryAccounts {
  findByLogin(login: string): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  /** The account as stored now, even when this request read it already (a decision made again after argon2). */
  findAgain(id: string): Promise<User | null>;
  /**
   * The new password checked against the rules (PasswordRejectedError says which it breaks) and hashed, before
   * anything changes (argon2 may be busy).
   */
  preparePassword(user: User, password: string): Promise<PreparedPassword>;
  /**
   * Whether `password` is the account's password as stored now (a double click's other post, whose first one saved
   * one); `savedWith`: only while the account's revocation is still that one (Accounts.hasPassword).
   */
  hasPassword(id: string, password: string, options?: { savedWith?: Date }): Promise<boolean>;
  /**
   * The new password and the account's revocation, in one write, over the account as `judged`
   * (Accounts.replacePassword); resolves to the revocation written.
   */
  replacePassword(prepared: PreparedPassword, judged: Pick<User, 'revokedAt'>): Promise<Date>;
  /** The unlock branch: clears the sign-in lockout, never a "This wasn't me" lockdown (that takes a new password). */
  unlock(user: User): Promise<void>;
  /**
   * After a reset's new password is written: clears the sign-in lockout, and a lockdown too, but only after the full
   * method count (`proofs` ≥ 2): one that lands while a one-proof flow finishes stays.
   */
  clearAfterReset(user: User, proofs: number): Promise<void>;
  /** Ends the account's access everywhere: sessions, grants, access and refresh tokens. */
  revokeAccess(id: string): Promise<void>;
  /** "This wasn't me": access revoked and sign-in refused until a password reset with two methods, or an admin. */
  lockDown(id: string): Promise<void>;
}

export interface RecoveryDeps {
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit' | 'issuer' | 'brand' | 'ttl'>;
  accounts: RecoveryAccounts;
  policy: PolicyStore;
  methods: VerificationMethod[];
  flows: FlowStore;
  challenges: Challenges;
  limits: Limits;
  /** Wrong proofs in a row per authenticator (NIST's ceiling of 100), and what starts them afresh. */
  ceiling: ProofCeiling;
  /** The first page's CAPTCHA: its answer, or its wait (security/captcha-gate.ts). */
  captcha: CaptchaGate;
  /** `sendBefore`: a message that could not go out by then is not sent at all (a code that has expired). */
  enqueue(message: OutgoingMessage & { sendBefore?: Date; decoy?: boolean }): Promise<unknown>;
  notifier: Notifier;
  lockdowns: Lockdowns;
  audit: AuditLog;
  /** Keyed hash of an identifier (decoy hints and the limits of unknown identifiers). */
  subjectKey(identifier: string): Buffer;
  /** What places the calls of the call methods and proves their answers; absent, there are no call methods. */
  voice?: VoiceProvider;
  /** The enrolled authenticator apps, which prove the answers of app notifications; absent, there are none. */
  appDevices?: AppDevices;
  callAnswers: CallAnswers;
  clock: () => number;
}

const GOALS = ['reset', 'unlock'] as const;
const goalForm = z.object({ csrf: z.string(), goal: z.enum(GOALS).optional() });

export function recoveryRoutes(deps: RecoveryDeps): Router {
  const { policy, flows, challenges } = deps;
  const router = new Router({ prefix: '/recover' });
  const kit = createFlowKit(deps);
  const { readValid, browserFlow, flowIn, expired, showFlow, seeFlow, refuse, takeRefusal, message, record, advance, codeSeconds, outOfDate, secondsLeft } = kit;

  identifyRoutes(router, kit, deps);
  // Registered before /:flow so that "lockdown" is never taken for a flow id.
  lockdownRoutes(router, kit, deps);
  if (deps.voice || deps.appDevices) callAnswerRoutes(router, kit, deps);

  // ---- the flow's steps ------------------------------------------------------------------------------------------

  router.get('/:flow', async (ctx) => {
    const flow = await browserFlow(ctx);
    if (!flow) return expired(ctx);
    // Right after "Try again" sent a new code (only while a code is pending: a later visit to the address says nothing).
    const resent = ctx.querystring.split('&').includes(RESENT_QUERY) && flow.state === 'verify' && Boolean(flow.pending?.challengeId);
    // A refused form's page (its message, once: `refuse`), or the flow's page as it is.
    if (!resent) return showFlow(ctx, flow, takeRefusal(ctx, flow));
    const lifetime = durationText(codeSeconds(flow, await policy.current()), (ctx as AppContext).state.locale);
    const called = deps.methods.find((m) => m.id === flow.pending?.method)?.kind === 'confirmation';
    await showFlow(ctx, flow, { notice: called ? confirmationMessage(flow.pending?.method, 'replaced') : 'recover.code_resent', noticeValues: { lifetime }, languageQuery: {} });
  });

  router.post('/:flow/goal', async (ctx) => {
    const flow = await flowIn(ctx, 'goal');
    if (!flow) return;
    const form = await readValid(ctx, goalForm, `recovery:${flow._id}`);
    if (!form.goal) return refuse(ctx, flow, { error: 'recover.goal_missing' });
    const next = await advance(ctx, flow, { kind: 'choose_goal', goal: form.goal }, { goal: form.goal });
    if (!next) return;
    await record(ctx, { type: 'recovery.step', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, reason: `goal_${form.goal}` });
    seeFlow(ctx, next);
  });

  verifyRoutes(router, kit, deps);
  finishRoutes(router, kit, deps);

  // "I need more time", in the notice that the flow is ending (partials/recovery-deadline.ejs): FLOW_SECONDS from
  // now, within the store's limit (WCAG 2.2.1). Asked by the notice's script, the answer is what is left, whether
  // this request gave it, and whether more may be asked; the page stays as it is, with whatever was typed in it. If
  // the script cannot ask, the form is posted, and the answer is the page again. The same for a decoy flow.
  router.post('/:flow/more-time', async (ctx) => {
    const flow = await browserFlow(ctx);
    if (!flow) return expired(ctx);
    await readValid(ctx, csrfOnly, `recovery:${flow._id}`);
    const extended = await flows.extend(flow);
    if (extended) (ctx as AppContext).state.log.info({ event: 'recovery.extended', extensions: extended.extensions }, 'recovery given more time');
    // Not extended (the last one used, another tab's request took it, or the flow ended): the flow as it is now.
    const now = extended ?? (await browserFlow(ctx));
    if (!now) return expired(ctx);
    if (ctx.accepts('html', 'json') !== 'json') return seeFlow(ctx, now);
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { seconds: Math.max(0, secondsLeft(now)), given: Boolean(extended), more: extendable(now) };
  });

  router.post('/:flow/cancel', async (ctx) => {
    const flow = await browserFlow(ctx);
    if (!flow) return expired(ctx);
    await readValid(ctx, csrfOnly, `recovery:${flow._id}`);
    // A Cancel left on a page from before the flow finished (the Back button, a second tab): the reset or unlock is
    // done, and cancelling it now would only say otherwise. Its done page, saying this one was out of date.
    if (flow.state === 'done') return outOfDate(ctx, flow);
    if (flow.pending?.challengeId) await challenges.discard(flow.pending.challengeId);
    if (await flows.end(flow)) await record(ctx, { type: 'recovery.cancelled', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id });
    // The flow cookie stays: its flow has ended, so its secret opens nothing, but a page of the flow opened again (the
    // Back button) still finds the way back to the sign-in (or door) this browser came from, in its language (`expired`).
    await message(ctx, 'recover.cancelled', 200, flow);
  });

  return router;
}
