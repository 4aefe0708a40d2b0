// "Can't access your account?": the recovery and unlock pages. A factory that takes what it needs and returns a
// router, so the flow can be mounted into any Koa app around oidc-provider (src/app.ts is one composition).
//
// Each POST reads as a checklist: CSRF → the flow of this browser → the state it expects → limits → the one
// transition (flows/recovery/store.ts `advance`, decided by a claim) → a 303 to the flow's page. Form mistakes
// (a wrong code, a weak password) show the same page again with a message.
import { createHash } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { Config } from '../../../config/index.ts';
import type { User } from '../../accounts/user-model.ts';
import { NO_ACCOUNT_ID, type PreparedPassword } from '../../accounts/users.ts';
import { MAX_PASSWORD_CODE_POINTS, MAX_PASSWORD_INPUT_LENGTH } from '../../accounts/passwords.ts';
import type { AuditLog, AuditEvent } from '../../audit/audit.ts';
import { readForm } from '../../http/body.ts';
import { issueCsrfToken, verifyCsrfToken } from '../../http/csrf.ts';
import { siteCookieName } from '../../http/cookie-names.ts';
import type { MessageId } from '../../http/messages/en.ts';
import { renderPage } from '../../http/render.ts';
import { durationText, supportedUiLocale } from '../../http/i18n.ts';
import { useLocale } from '../../http/request-context.ts';
import type { AppContext } from '../../http/context.ts';
import type { OutgoingMessage, VerificationMethod } from '../../methods/method.ts';
import { TOTP_DIGITS } from '../../methods/totp.ts';
import { CODE_DIGITS, type RecoveryPolicy } from '../../policy/policy.ts';
import type { PolicyStore } from '../../policy/store.ts';
import type { Challenges } from '../../security/challenges.ts';
import type { CaptchaGate, CaptchaRefusal } from '../../security/captcha-gate.ts';
import type { Limits } from '../../security/limits.ts';
import { proofBudgetKey, type ProofCeiling, type ProofRuns, type ProofTry } from '../../security/proof-ceiling.ts';
import { normalizeCode } from '../../security/codes.ts';
import { UnreadableSecretError } from '../../security/encryption.ts';
import { DEFAULT_LOCALE } from '../../http/i18n.ts';
import { ValidationError } from '../../errors.ts';
import { detached } from '../../db/request-scope.ts';
import type { Lockdowns } from './lockdown.ts';
import { loginOfferedBy, MAX_LOGIN_LENGTH, withdrawLoginOffer } from './prefill.ts';
import type { Notifier } from './notices.ts';
import type { FlowDoc, FlowStore } from './store.ts';
import type { Transition } from './states.ts';
import { accountKey, accountKeyOf, offeredMethods, proofsComplete, resolveSubject, type Subject } from './subject.ts';

/** The query of the flow's page right after "Try again" sent a new code. */
const RESENT_QUERY = 'sent=new';

/** What the flow needs of the accounts: the domain's operations, nothing about how they are stored. */
export interface RecoveryAccounts {
  findByLogin(login: string): Promise<User | null>;
  findById(id: string): Promise<User | null>;
  /** The account as stored now, even when this request read it already (a decision made again after argon2). */
  findAgain(id: string): Promise<User | null>;
  /** The reason a new password is refused (a message id), or undefined when it is acceptable. */
  passwordProblem(user: User, password: string, policy: RecoveryPolicy): Promise<MessageId | undefined>;
  /** The new password checked against the rules and hashed, before anything changes (argon2 may be busy). */
  preparePassword(user: User, password: string): Promise<PreparedPassword>;
  /** The new password and the account's revocation, in one write, over the account as `judged` (Accounts.replacePassword). */
  replacePassword(prepared: PreparedPassword, judged: Pick<User, 'revokedAt'>): Promise<void>;
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
  config: Pick<Config, 'cookieSecure' | 'formBodyLimit' | 'issuer' | 'brand'>;
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
}

const GOALS = ['reset', 'unlock'] as const;
/** What the first page says when its CAPTCHA did not let the identifier through. */
const CAPTCHA_ERRORS: Record<CaptchaRefusal, MessageId> = {
  wrong: 'recover.captcha_wrong',
  early: 'recover.captcha_wait_early',
  used_up: 'recover.captcha_wait_used_up',
};
const FLOW_ID = /^[\w-]{16,64}$/;
const INTERACTION_UID = /^[\w-]{1,64}$/;

const identifyForm = z.object({
  csrf: z.string(),
  action: z.enum(['next', 'new-captcha']).default('next'),
  identifier: z.string().trim().max(MAX_LOGIN_LENGTH).default(''),
  captchaId: z.string().max(64).default(''),
  captcha: z.string().max(64).default(''),
  from: z.string().regex(INTERACTION_UID).optional().or(z.literal('')),
  ui_locales: z.string().max(64).optional(),
});
const goalForm = z.object({ csrf: z.string(), goal: z.enum(GOALS).optional() });
const methodForm = z.object({ csrf: z.string(), method: z.string().max(20).optional() });
const sendForm = z.object({ csrf: z.string(), phone: z.string().max(40).optional(), method: z.string().max(20).optional() });
/** `method` (here and above): the one the page was for (a page left open from before another was chosen). */
const codeForm = z.object({ csrf: z.string(), code: z.string().max(32).default(''), method: z.string().max(20).optional() });
const passwordForm = z.object({ csrf: z.string(), password: z.string().max(MAX_PASSWORD_INPUT_LENGTH), confirm: z.string().max(MAX_PASSWORD_INPUT_LENGTH) });
const csrfOnly = z.object({ csrf: z.string() });

export function recoveryRoutes(deps: RecoveryDeps): Router {
  const { config, accounts, policy, methods, flows, challenges, limits, ceiling, captcha, audit } = deps;
  const router = new Router({ prefix: '/recover' });
  const csrfOptions = { secure: config.cookieSecure };
  const cookieName = siteCookieName('latchkey.recovery', config.cookieSecure);
  // The domain alone: the origin-bound line's grammar has no port (`@example.com #123456`), and a line with one is
  // read by no phone. A page on a non-default port gets no offer to fill the code in, as the spec means for it.
  const host = new URL(config.issuer).hostname;
  const methodById = new Map(methods.map((m) => [m.id, m]));

  // ---- helpers -------------------------------------------------------------------------------------------------

  async function readValid<T>(ctx: Context, schema: z.ZodType<T>, scope: string): Promise<T> {
    const form = await readForm(ctx, config.formBodyLimit);
    verifyCsrfToken(ctx, scope, form.csrf, csrfOptions);
    const parsed = schema.safeParse(form);
    if (!parsed.success) throw new ValidationError('invalid_form', parsed.error.issues.map((i) => i.path.join('.')).join(','));
    return parsed.data;
  }

  /**
   * A flow's support code: the same on each of its pages and in each of its audit events, so that the helpdesk finds
   * the whole flow with `audit list --support-code` (a request id names only the request that showed the page).
   * Requests outside a flow use their request id.
   */
  const supportCodeOf = (flowId: string) => createHash('sha256').update(`support:${flowId}`).digest('base64url').slice(0, 8).toUpperCase().replace(/[-_]/g, 'X');

  function record(ctx: Context, event: Omit<AuditEvent, 'ip' | 'userAgent' | 'supportCode'>) {
    const supportCode = event.flowId ? supportCodeOf(event.flowId) : (ctx as AppContext).state.requestId;
    return audit.record({ ...event, ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 200), supportCode });
  }

  /**
   * A recovery page, with the flow's support code once the request has a flow (browserFlow), else the request id.
   * `status` goes to the page too: a refusal (4xx) shows the support code even without an error (an out-of-date form).
   */
  function page(ctx: Context, view: string, data: Record<string, unknown>, status = 200) {
    const state = (ctx as AppContext).state;
    ctx.status = status;
    return renderPage(ctx, `recovery/${view}`, { titleId: 'recover.title', supportCode: state.supportCode ?? state.requestId, status, ...data });
  }

  /**
   * A page that explains where the flow ended and offers a fresh start. A blocked flow's page tells the person to
   * contact their administrator: the policy's helpdesk goes with it ("Contact your administrator").
   */
  async function message(ctx: Context, messageId: MessageId, status: number, flow?: Pick<FlowDoc, 'interactionUid' | 'uiLocale'>) {
    const helpdesk = messageId === 'recover.blocked' || messageId === 'recover.too_many' ? (await policy.current()).helpdesk : undefined;
    return page(ctx, 'message', { messageId, startAgain: startUrl(flow?.interactionUid, flow?.uiLocale), backToSignIn: signInUrl(flow?.interactionUid), helpdesk }, status);
  }

  /** Sets the page language from the relying party's, the way the sign-in page did (the person's own pick wins). */
  function speakAsSignIn(ctx: Context, uiLocale: string | undefined) {
    if (uiLocale) useLocale(ctx as AppContext, uiLocale);
  }

  const startUrl = (from?: string, uiLocale?: string) => {
    const query = new URLSearchParams({ ...(from && { from }), ...(uiLocale && { ui_locales: uiLocale }) }).toString();
    return query ? `/recover?${query}` : '/recover';
  };
  const signInUrl = (from?: string) => (from ? `/interaction/${encodeURIComponent(from)}` : undefined);
  const flowUrl = (flow: FlowDoc) => `/recover/${flow._id}`;
  /** `resent`: the step sent a new code, which the page then says (a "Try again" otherwise looks like nothing). */
  const seeFlow = (ctx: Context, flow: FlowDoc, { resent = false } = {}) => {
    ctx.status = 303;
    ctx.redirect(resent ? `${flowUrl(flow)}?${RESENT_QUERY}` : flowUrl(flow));
  };

  /**
   * The flow cookie: the flow, its secret, and the sign-in it came from and that sign-in's language, which outlive
   * the flow (see `expired`).
   */
  function readCookie(ctx: Context): { flowId: string; secret: string; from?: string; uiLocale?: string } | undefined {
    const value = ctx.cookies.get(cookieName, { signed: true });
    const [flowId, secret, from, uiLocale] = value?.split('.') ?? [];
    const language = supportedUiLocale(uiLocale);
    return flowId && secret ? { flowId, secret, ...(from && INTERACTION_UID.test(from) && { from }), ...(language && { uiLocale: language }) } : undefined;
  }

  /** The page for a flow that has ended or expired, with the way back to the sign-in this browser came from. */
  function expired(ctx: Context) {
    const cookie = readCookie(ctx);
    speakAsSignIn(ctx, cookie?.uiLocale);
    return message(ctx, 'recover.expired', 410, { ...(cookie?.from && { interactionUid: cookie.from }), ...(cookie?.uiLocale && { uiLocale: cookie.uiLocale }) });
  }

  /** This browser's flow named in the URL, or undefined (expired, finished, another browser's, replaced). */
  async function browserFlow(ctx: Context): Promise<FlowDoc | undefined> {
    const id = String(ctx.params.flow ?? '');
    const cookie = readCookie(ctx);
    if (!FLOW_ID.test(id) || cookie?.flowId !== id) return undefined;
    const flow = await flows.load(id, cookie.secret);
    // Every request of the flow logs its support code, the steps that answer with a redirect included.
    if (flow) (ctx as AppContext).state.supportCode = supportCodeOf(flow._id);
    // Its pages, and the codes and notices its steps send, in the sign-in's language.
    speakAsSignIn(ctx, flow?.uiLocale);
    return flow;
  }

  /** The flow for a POST in `state`; otherwise the page that says why nothing happened (and undefined). */
  async function flowIn(ctx: Context, state: FlowDoc['state']): Promise<FlowDoc | undefined> {
    const flow = await browserFlow(ctx);
    if (!flow) {
      await expired(ctx);
      return undefined;
    }
    if (flow.state !== state) {
      await outOfDate(ctx, flow);
      return undefined;
    }
    return flow;
  }

  /** A replayed or out-of-order form: nothing changes; the current step is shown with a note. */
  async function outOfDate(ctx: Context, flow: FlowDoc) {
    await showFlow(ctx, flow, { notice: 'recover.out_of_date' }, 409);
  }

  async function subjectOf(flow: FlowDoc, current: RecoveryPolicy, { again = false } = {}): Promise<Subject> {
    const key = Buffer.from(flow.subjectKey, 'hex');
    // A decoy reads too (an id no account has): its steps must cost what a real account's do.
    const user = await (again ? accounts.findAgain : accounts.findById)(flow.accountId ?? NO_ACCOUNT_ID);
    const subject = resolveSubject(user, key, methods, current);
    // Never fewer proofs than when the flow started (a policy lowered meanwhile changes nothing here); more when the
    // account needs more now: locked down by "This wasn't me", or made an admin, after this flow began.
    return { ...subject, required: Math.max(flow.required, subject.required) as 1 | 2 };
  }

  /**
   * The subject, and its runs of wrong proofs read beside its account (one round trip for both): the steps that
   * take a proof or send a code. The runs are keyed as the flow names the subject, known before the account is read.
   */
  function subjectWithRuns(flow: FlowDoc, current: RecoveryPolicy): Promise<[Subject, ProofRuns]> {
    const key = accountKey({ ...(flow.accountId && { user: { _id: flow.accountId } }), key: Buffer.from(flow.subjectKey, 'hex') });
    return Promise.all([subjectOf(flow, current), ceiling.read(key)]);
  }

  /**
   * The account a finishing step (new password, unlock) acts on, once its proofs are still enough for it now; else
   * the page that says why nothing happened (and undefined). When the account now needs another proof, the flow
   * goes back to verification for it. `again`: the account read anew, though this request read it already.
   */
  async function finishingAccount(ctx: Context, flow: FlowDoc, current: RecoveryPolicy, { again = false } = {}): Promise<{ user: User; proofs: number } | undefined> {
    const subject = await subjectOf(flow, current, { again });
    if (!subject.user) {
      await message(ctx, 'recover.expired', 410, flow);
      return undefined;
    }
    const standing = standingProofs(flow, subject);
    // `proofs`: those that still stand (a changed method's proof does not), which alone may end a lockdown.
    if (proofsComplete(standing.verified, subject, methods)) return { user: subject.user, proofs: standing.verified.length };
    const back = await advance(ctx, flow, { kind: 'more_proof_needed' }, standing);
    if (back) await showFlow(ctx, back, { notice: standing.verified.length < flow.verified.length ? 'recover.verify_again' : 'recover.more_proof' });
    return undefined;
  }

  /**
   * What follows a finishing step's change, once it is made: each is tried, in order, even when one before it failed
   * (a failed audit write must not also lose the owner's notice), and a failure is logged rather than thrown: the
   * change stands, so the flow must still say so.
   */
  async function followUps(ctx: Context, flow: FlowDoc, tasks: Record<string, () => Promise<unknown>>): Promise<void> {
    for (const [task, run] of Object.entries(tasks)) {
      try {
        await run();
      } catch (error) {
        (ctx as AppContext).state.log.error({ err: error, event: 'recovery.follow_up_failed', task, flowId: flow._id }, 'recovery: a step after the change failed');
      }
    }
  }

  /**
   * The hash a code or a proof keeps of the authenticator it is for (now registered) and of the account's last
   * revocation, salted with the flow (a phone number alone is quickly guessed).
   */
  const fingerprint = (flow: FlowDoc, subject: Subject, method: VerificationMethod) => {
    const revokedAt = subject.user?.revokedAt ? new Date(subject.user.revokedAt).getTime() : '';
    return createHash('sha256').update(`${flow._id}\u0000${method.id}\u0000${authenticatorOf(subject, method)}\u0000${revokedAt}`).digest('base64url');
  };

  /**
   * The flow's proofs that still stand: each method still registered, with the authenticator it was proved with, and
   * no revocation of the account since. A phone removed or replaced (a SIM swap reported to the helpdesk), an address
   * or a seed changed after its code was accepted no longer proves anything here; nor does any proof once the
   * account's password was reset (by an administrator, its owner at sign-in, another recovery), or the account locked
   * down or disabled: a code seen over a shoulder or intercepted must not outlive the reset that answered it. A code
   * sent before a revocation is void alike (its `sentTo`).
   */
  function standingProofs(flow: FlowDoc, subject: Subject): Pick<FlowDoc, 'verified' | 'provedWith'> {
    const verified = flow.verified.filter((id) => {
      const method = methods.find((m) => m.id === id);
      return method && subject.registered.includes(id) && flow.provedWith?.[id] === fingerprint(flow, subject, method);
    });
    return { verified, provedWith: Object.fromEntries(verified.map((id) => [id, flow.provedWith![id]!])) };
  }

  async function advance(ctx: Context, flow: FlowDoc, transition: Transition, changes?: Parameters<FlowStore['advance']>[2], work?: () => Promise<void>) {
    const next = await flows.advance(flow, transition, changes, work);
    if (!next) await outOfDate(ctx, flow);
    return next;
  }

  // ---- rendering -----------------------------------------------------------------------------------------------

  function breadcrumb(flow: FlowDoc, subject: Subject, current: RecoveryPolicy) {
    const verified = flow.verified.length;
    // Two verification steps when the policy asks for two, when two were taken, or when the proof taken (or the
    // one being taken) cannot finish alone (a mailbox, for an account that has a phone or an authenticator). An
    // account that needs two whatever the policy says (an admin, a locked-down account) shows it only once its first
    // proof is in: before that, a decoy (which never gets past one) must look the same.
    const upcoming = flow.pending && verified === 0 ? [flow.pending.method] : flow.verified;
    // Whether one proof could finish is judged by the policy's count too until a proof is in, for the same reason.
    const judged = verified >= 1 ? subject : { needsStrong: subject.needsStrong, required: current.methodsRequired };
    const twoSteps =
      current.methodsRequired === 2 || (subject.required === 2 && verified >= 1) || verified >= 2 || (upcoming.length === 1 && !proofsComplete(upcoming, judged, methods));
    const done = verified;
    const crumbs: Array<{ id: MessageId; state: 'done' | 'current' | 'todo' }> = [
      { id: 'recover.crumb_step1', state: done >= 1 ? 'done' : flow.state === 'verify' ? 'current' : 'todo' },
    ];
    if (twoSteps) crumbs.push({ id: 'recover.crumb_step2', state: done >= 2 || (done === 1 && flow.state !== 'verify') ? 'done' : done === 1 ? 'current' : 'todo' });
    const last: MessageId = flow.goal === 'unlock' ? 'recover.crumb_unlock' : 'recover.crumb_password';
    crumbs.push({ id: last, state: flow.state === 'done' ? 'done' : flow.state === 'password' || flow.state === 'unlock' ? 'current' : 'todo' });
    return crumbs;
  }

  async function showFlow(ctx: Context, flow: FlowDoc, extra: Record<string, unknown> = {}, status = 200) {
    const current = await policy.current();
    const subject = await subjectOf(flow, current);
    const csrf = issueCsrfToken(ctx, `recovery:${flow._id}`, csrfOptions);
    const common = { flow: flowUrl(flow), csrf, helpdesk: current.helpdesk, backToSignIn: signInUrl(flow.interactionUid), notice: undefined, error: undefined, phone: '', ...extra };
    switch (flow.state) {
      case 'goal':
        return page(ctx, 'goal', common, status);
      case 'verify': {
        // A method removed since it was chosen (from the account, or by the policy) is pending no more.
        const pending = flow.pending && subject.registered.includes(flow.pending.method) ? flow.pending : undefined;
        const offered = offeredMethods(flow.verified, subject, methods);
        return page(
          ctx,
          'verify',
          {
            ...common,
            crumbs: breadcrumb(flow, subject, current),
            step: flow.verified.length + 1,
            goal: flow.goal,
            methods: offered.map((id) => ({ id, hint: subject.hints[id] ?? '' })),
            pending: pending && { ...pending, hint: subject.hints[pending.method] ?? '', codeSent: Boolean(pending.challengeId) },
          },
          status,
        );
      }
      case 'password':
        // Only an account whose proofs are in reaches this page (never a decoy), so naming it tells nobody anything;
        // a password manager then saves the new password under the right name.
        return page(
          ctx,
          'password',
          {
            ...common,
            crumbs: breadcrumb(flow, subject, current),
            minLength: current.passwordMinLength,
            username: subject.user?.username ?? '',
            ...(subject.user?.lockedDownAt && !common.notice && { notice: 'recover.lockdown_new_password' }),
          },
          status,
        );
      case 'unlock':
        return page(ctx, 'unlock', { ...common, crumbs: breadcrumb(flow, subject, current) }, status);
      case 'done':
        return page(ctx, 'done', { ...common, crumbs: breadcrumb(flow, subject, current), goal: flow.goal }, status);
    }
  }

  /** The first page; `captchaId`: the CAPTCHA to show again while it is live (its wait goes on). */
  async function showIdentify(ctx: Context, fields: { identifier?: string; from?: string; uiLocale?: string; error?: MessageId; captchaId?: string }, status = 200) {
    const { captchaId, waitSeconds } = await captcha.show(fields.captchaId);
    await page(
      ctx,
      'identify',
      {
        csrf: issueCsrfToken(ctx, 'recovery:start', csrfOptions),
        identifier: fields.identifier ?? '',
        from: fields.from ?? '',
        uiLocale: fields.uiLocale ?? '',
        captchaId,
        waitSeconds,
        error: fields.error,
        backToSignIn: signInUrl(fields.from),
        // Answering a POST (a wrong CAPTCHA, say), another language is this page's GET: still for that sign-in.
        ...(fields.from && { languageQuery: { from: fields.from } }),
      },
      status,
    );
  }

  // ---- who are you? --------------------------------------------------------------------------------------------

  // `ui_locales`: the sign-in's language (interactions/routes.ts), which request-context applies to this page; the
  // form carries it to the flow.
  router.get('/', async (ctx) => {
    const from = typeof ctx.query.from === 'string' && INTERACTION_UID.test(ctx.query.from) ? ctx.query.from : undefined;
    const uiLocale = supportedUiLocale(typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined);
    const identifier = loginOfferedBy(ctx, from, config.cookieSecure);
    await showIdentify(ctx, { ...(identifier && { identifier }), ...(from && { from }), ...(uiLocale && { uiLocale }) });
  });

  router.post('/', async (ctx) => {
    const form = await readValid(ctx, identifyForm, 'recovery:start');
    const from = form.from || undefined;
    const uiLocale = supportedUiLocale(form.ui_locales);
    speakAsSignIn(ctx, uiLocale);
    const origin = { ...(from && { from }), ...(uiLocale && { uiLocale }) };
    if (form.action === 'new-captcha') return showIdentify(ctx, { identifier: form.identifier, ...origin });
    if (!form.identifier) return showIdentify(ctx, { ...origin, error: 'recover.identifier_missing' });
    const current = await policy.current();
    if (!(await limits.allowFlowStart(ctx.ip, current))) {
      await record(ctx, { type: 'recovery.blocked', reason: 'limit_flow_ip' });
      return message(ctx, 'recover.too_many', 429, { ...(from && { interactionUid: from }), ...(uiLocale && { uiLocale }) });
    }
    const outcome = await captcha.pass(form.captchaId, form.captcha, ctx.ip);
    if (!outcome.passed) {
      await record(ctx, { type: 'recovery.failed', reason: `captcha_${outcome.reason}` });
      const kept = 'keep' in outcome ? { captchaId: outcome.keep } : {};
      return showIdentify(ctx, { identifier: form.identifier, ...origin, ...kept, error: CAPTCHA_ERRORS[outcome.reason] });
    }
    const key = deps.subjectKey(form.identifier);
    // The same reads for a known and an unknown identifier: the user lookup, then the account document.
    const user = (await accounts.findByLogin(form.identifier)) ?? (await accounts.findById(NO_ACCOUNT_ID));
    const subject = resolveSubject(user, key, methods, current);
    const { flow, secret } = await flows.create({
      ...(subject.user && { accountId: subject.user._id }),
      subjectKey: key.toString('hex'),
      required: subject.required,
      ...(from && { interactionUid: from }),
      ...(uiLocale && { uiLocale }),
    });
    ctx.cookies.set(cookieName, [flow._id, secret, from ?? '', uiLocale ?? ''].join('.'), { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, path: '/', signed: true, overwrite: true });
    withdrawLoginOffer(ctx, config.cookieSecure);
    (ctx as AppContext).state.supportCode = supportCodeOf(flow._id);
    await record(ctx, { type: 'recovery.started', ...(subject.user && { accountId: subject.user._id }), flowId: flow._id, reason: subject.user ? 'account' : 'decoy' });
    seeFlow(ctx, flow);
  });

  // ---- "This wasn't me" ------------------------------------------------------------------------------------------
  // Registered before /:flow so that "lockdown" is never taken for a flow id. The link's token locks the account
  // down for days to whoever holds it, so logs never show it (LOCKDOWN_PATH_PREFIX, http/request-context.ts).

  /**
   * The language a notice's link asked for (`?ui_locales=`), kept by the confirmation and by the way on to the
   * recovery, so the owner reads on in the notice's language whatever their browser's is.
   */
  const noticeLanguage = (ctx: Context) => {
    const language = supportedUiLocale(typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined);
    return language ? `?ui_locales=${language}` : '';
  };

  router.get('/lockdown/:token', async (ctx) => {
    const valid = Boolean(await deps.lockdowns.peek(ctx.params.token!));
    const language = noticeLanguage(ctx);
    const csrf = issueCsrfToken(ctx, 'recovery:lockdown', csrfOptions);
    await page(ctx, 'lockdown', { valid, done: false, csrf, action: `${ctx.path}${language}`, recover: `/recover${language}` }, valid ? 200 : 410);
  });

  router.post('/lockdown/:token', async (ctx) => {
    await readValid(ctx, csrfOnly, 'recovery:lockdown');
    const accountId = await deps.lockdowns.peek(ctx.params.token!);
    const recover = `/recover${noticeLanguage(ctx)}`;
    if (!accountId) return page(ctx, 'lockdown', { valid: false, done: false, recover }, 410);
    // The lockdown first, the link used up after it: should the database fail in between, the owner's 503 page says
    // "try again", and the link must still work then. Locking down twice (a double click) is harmless; only the
    // request that used the link records it.
    await accounts.lockDown(accountId);
    if (await deps.lockdowns.use(ctx.params.token!)) await record(ctx, { type: 'account.lockdown', accountId, reason: 'not_me' });
    await page(ctx, 'lockdown', { valid: true, done: true, recover });
  });

  // ---- the flow's steps ------------------------------------------------------------------------------------------

  router.get('/:flow', async (ctx) => {
    const flow = await browserFlow(ctx);
    if (!flow) return expired(ctx);
    // Right after "Try again" sent a new code (only while a code is pending: a later visit to the address says nothing).
    const resent = ctx.querystring.split('&').includes(RESENT_QUERY) && flow.state === 'verify' && Boolean(flow.pending?.challengeId);
    if (!resent) return showFlow(ctx, flow);
    const lifetime = durationText((await policy.current()).codes.lifetimeSeconds, (ctx as AppContext).state.locale);
    await showFlow(ctx, flow, { notice: 'recover.code_resent', noticeValues: { lifetime }, languageQuery: {} });
  });

  router.post('/:flow/goal', async (ctx) => {
    const flow = await flowIn(ctx, 'goal');
    if (!flow) return;
    const form = await readValid(ctx, goalForm, `recovery:${flow._id}`);
    if (!form.goal) return showFlow(ctx, flow, { error: 'recover.goal_missing' });
    const next = await advance(ctx, flow, { kind: 'choose_goal', goal: form.goal }, { goal: form.goal });
    if (!next) return;
    await record(ctx, { type: 'recovery.step', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, reason: `goal_${form.goal}` });
    seeFlow(ctx, next);
  });

  router.post('/:flow/method', async (ctx) => {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, methodForm, `recovery:${flow._id}`);
    const subject = await subjectOf(flow, await policy.current());
    const method = offeredMethods(flow.verified, subject, methods).find((id) => id === form.method);
    if (!method) return showFlow(ctx, flow, { error: 'recover.method_missing' });
    // The method already chosen, chosen again (its Next pressed on the code's page): the code sent stays.
    if (flow.pending?.method === method) return seeFlow(ctx, flow);
    if (flow.pending?.challengeId) await challenges.discard(flow.pending.challengeId);
    const next = await advance(ctx, flow, { kind: 'choose_method', method }, { pending: { method } });
    if (next) seeFlow(ctx, next);
  });

  /**
   * Sends (or, for a decoy or a refused send, pretends to send) a new code for the pending method. `allowed`: the
   * limits let it go (a decoy's too, though nothing is sent).
   */
  async function sendCode(ctx: Context, flow: FlowDoc, subject: Subject, method: VerificationMethod, current: RecoveryPolicy): Promise<{ challengeId: string; allowed: boolean }> {
    // A decoy's challenge can never be answered (its code reached nobody): a lucky guess fails like any wrong code.
    const challenge = await challenges.create(`recovery:${flow._id}:${method.id}`, current.codes.digits, current.codes.lifetimeSeconds, { answerable: Boolean(subject.user) });
    const destination = subject.user ? method.delivery!.destination(subject.user) : { channel: 'email' as const, to: `decoy:${subject.key.toString('hex')}:${method.id}` }; // a decoy's "destination" is only a limits key
    const allowed = await limits.allowSend({ accountKey: accountKey(subject), destination: destination.to, ip: ctx.ip }, current);
    const base = { ...(subject.user && { accountId: subject.user._id }), flowId: flow._id, method: method.id };
    if (!allowed.allowed) {
      await record(ctx, { type: 'code.refused', ...base, reason: allowed.reason });
      return { challengeId: challenge.id, allowed: false };
    }
    const { t, locale } = (ctx as AppContext).state;
    // A decoy's message is composed and stored too, so that its send costs what a real one does, but as a decoy:
    // the sender never sends it.
    const to = subject.user ? destination.to : method.delivery!.decoyDestination;
    const message = method.delivery!.compose(challenge.code, to, { t, locale, host, expiresIn: durationText(current.codes.lifetimeSeconds, locale) });
    // A code that arrives after it expired only confuses: if the provider is down that long, nothing arrives.
    await deps.enqueue({ ...message, sendBefore: challenge.expiresAt, ...(!subject.user && { decoy: true }) });
    await record(ctx, { type: 'code.sent', ...base, ...(!subject.user && { reason: 'decoy' }) });
    return { challengeId: challenge.id, allowed: true };
  }

  /** The daily budget of proofs spent: recorded and answered (429). */
  async function proofBudgetSpent(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    await record(ctx, { type: 'recovery.blocked', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'limit_proofs' });
    await message(ctx, 'recover.blocked', 429, flow);
  }

  /** The method's run of wrong proofs is at its end (security/proof-ceiling.ts): recorded and answered (403). */
  async function methodDisabled(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    await record(ctx, { type: 'recovery.blocked', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'method_disabled' });
    await showFlow(ctx, flow, { error: 'recover.method_disabled' }, 403);
  }

  /**
   * The account's proof for `method` cannot be checked by this server (an authenticator seed that DATA_ENCRYPTION_KEY
   * no longer decrypts): the operator must act, so it is logged as an error, and no try is spent. Once the flow holds
   * a proof, the person is asked to choose another way (503); before that, the answer is a wrong code's, as a decoy
   * (an unknown login) would get: a different one would tell that the login has an account.
   */
  async function methodUncheckable(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    const error = new UnreadableSecretError();
    (ctx as AppContext).state.log.error({ error: error.code, accountId: flow.accountId, method: method.id }, error.message);
    await record(ctx, { type: 'recovery.failed', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'secret_unreadable' });
    if (flow.verified.length === 0) return showFlow(ctx, flow, { error: 'recover.totp_wrong' });
    await showFlow(ctx, flow, { error: 'recover.method_unavailable' }, 503);
  }

  /** What the subject registered for `method`, whose wrong proofs are counted together; nothing for a decoy. */
  const authenticatorOf = (subject: Subject, method: VerificationMethod) => (subject.user ? method.authenticator(subject.user) : '');

  /** Marked disabled when the flow's runs were read: refused before anything is spent or sent (a decoy's alike). */
  const markedDisabled = (subject: Subject, runs: ProofRuns, method: VerificationMethod) => ceiling.disabled(runs, method.id, authenticatorOf(subject, method));

  /**
   * Takes one try for a code before it is compared: from the subject's daily budget, which parallel guesses in any
   * number of flows share, then from the run of wrong proofs in a row of the method's authenticator
   * (security/proof-ceiling.ts). When either is spent, answers so (undefined). A method already marked disabled
   * spends nothing: it could not be compared anyway. The one try that finds the run at its end reports it.
   */
  async function allowProof(ctx: Context, flow: FlowDoc, subject: Subject, runs: ProofRuns, current: RecoveryPolicy, method: VerificationMethod): Promise<ProofTry | undefined> {
    if (!markedDisabled(subject, runs, method)) {
      if (!(await limits.allowProofAttempt(proofBudgetKey(runs), current))) {
        await proofBudgetSpent(ctx, flow, method);
        return undefined;
      }
      const proof = await ceiling.attempt(runs, method.id, authenticatorOf(subject, method));
      if (proof.allowed) return proof;
      if (proof.reports) await reportDisabled(ctx, flow, subject, method, current);
    }
    await methodDisabled(ctx, flow, method);
    return undefined;
  }

  /**
   * A method's run reached the ceiling, seen first by this request: recorded (a decoy's too, the same write) and told
   * to the owner off the answer's path, so that this answer takes no longer than a decoy's. Once per run: no one but
   * the owner or an administrator starts a new one.
   */
  async function reportDisabled(ctx: Context, flow: FlowDoc, subject: Subject, method: VerificationMethod, current: RecoveryPolicy): Promise<void> {
    await record(ctx, { type: 'recovery.method_disabled', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'consecutive_limit' });
    const owner = subject.user;
    if (owner && current.notify.onLockout) {
      // Like a lockout's notice, anyone can cause it: the default language (not the flow's, which is whoever typed
      // the codes), and texts only within the installation's budget for such notices.
      const textAllowed = async () => limits.allowNoticeText(await policy.current());
      void detached(() =>
        deps.notifier.notifyMethodDisabled(owner, method.id, DEFAULT_LOCALE, textAllowed).catch((error: unknown) => {
          (ctx as AppContext).state.log.error({ err: error, accountId: owner._id }, 'method disabled notice failed');
        }),
      );
    }
  }

  async function send(ctx: Context, resend: boolean) {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, sendForm, `recovery:${flow._id}`);
    const pending = flow.pending;
    const method = pending && methodById.get(pending.method);
    if (!pending || !method?.delivery || (resend && !pending.challengeId) || (form.method && form.method !== pending.method)) return outOfDate(ctx, flow);
    const current = await policy.current();
    const [subject, runs] = await subjectWithRuns(flow, current);
    if (!subject.registered.includes(method.id)) return outOfDate(ctx, flow);
    // A code that could not be accepted is not sent (a text costs money).
    if (markedDisabled(subject, runs, method)) return methodDisabled(ctx, flow, method);
    // A number typed and matched stays confirmed only while it is the registered one (its code went there: `sentTo`).
    // Replaced since (a SIM swap reported to the helpdesk), "Try again" would text a number nobody typed here: the
    // flow asks for the complete number again instead, and the code sent before is void.
    if (method.matchDestination && pending.destinationConfirmed && pending.sentTo !== fingerprint(flow, subject, method)) {
      if (pending.challengeId) await challenges.discard(pending.challengeId);
      const next = await advance(ctx, flow, { kind: 'choose_method', method: method.id }, { pending: { method: method.id } });
      if (next) await showFlow(ctx, next, { notice: 'recover.out_of_date' });
      return;
    }
    if (method.matchDestination && !pending.destinationConfirmed) {
      // The complete number is a guess at something the page only hints at: each one is counted before it is
      // compared, from the same budget as codes, or the number could be guessed digit by digit, flow after flow.
      // What can be judged without the account (no number at all, a refused country) spends nothing. Not against the
      // ceiling of wrong proofs in a row: a number is no secret, and wrong ones typed by anyone must not turn off
      // the owner's texts.
      const typed = form.phone ?? '';
      const early = method.judgeTyped?.(typed, current);
      if (!early && !(await limits.allowProofAttempt(proofBudgetKey(runs), current))) return proofBudgetSpent(ctx, flow, method);
      const check = early ?? method.matchDestination(subject.user, typed, current);
      if (check !== 'match') {
        await record(ctx, { type: 'recovery.failed', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: `destination_${check}` });
        const error: MessageId = check === 'country_refused' ? 'recover.phone_country' : check === 'invalid' ? 'recover.phone_invalid' : 'recover.phone_mismatch';
        return showFlow(ctx, flow, { error, phone: typed });
      }
    }
    const sent = await sendCode(ctx, flow, subject, method, current);
    // Only a code that went out replaces the one before: after a refused "Try again" the earlier code, perhaps still
    // on its way, keeps working.
    // Each code keeps the destination it went to (`sentTo`).
    const kept = !sent.allowed && pending.challengeId ? { challengeId: pending.challengeId, sentTo: pending.sentTo, dropped: sent.challengeId } : undefined;
    const { challengeId, sentTo, dropped } = kept ?? { challengeId: sent.challengeId, sentTo: fingerprint(flow, subject, method), dropped: pending.challengeId };
    if (dropped) await challenges.discard(dropped);
    const next = await advance(ctx, flow, { kind: 'code_sent', challengeId }, { pending: { ...pending, destinationConfirmed: true, challengeId, ...(sentTo && { sentTo }) } });
    if (!next) return;
    // A refused send says so: the person would otherwise wait for a code that never comes. It tells nothing about the
    // account: an unknown login's decoy is held to the same limits, and the message does not say which one refused.
    if (sent.allowed) seeFlow(ctx, next, { resent: resend });
    else await showFlow(ctx, next, { notice: 'recover.send_limited' });
  }

  router.post('/:flow/send', (ctx) => send(ctx, false));
  router.post('/:flow/resend', (ctx) => send(ctx, true));

  router.post('/:flow/code', async (ctx) => {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, codeForm, `recovery:${flow._id}`);
    const pending = flow.pending;
    const method = pending && methodById.get(pending.method);
    if (!pending || !method || (method.delivery && !pending.challengeId) || (form.method && form.method !== pending.method)) return outOfDate(ctx, flow);
    const current = await policy.current();
    const [subject, runs] = await subjectWithRuns(flow, current);
    if (!subject.registered.includes(method.id)) return outOfDate(ctx, flow);
    const base = { ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id };
    // Spaces and dashes are the reader's (codes are read out in groups), full-width digits the keyboard's: read as the
    // code's digits (normalizeCode) before the check, for a sent code and an authenticator's alike. Anything else
    // cannot be the code, so it is answered without spending a try: it compares nothing.
    // (A sent code may have been sent before the policy's digit count changed: any count the policy allows will do.)
    const code = normalizeCode(form.code);
    const [fewest, most] = method.delivery ? [CODE_DIGITS.min, CODE_DIGITS.max] : [TOTP_DIGITS, TOTP_DIGITS];
    if (!new RegExp(`^\\d{${fewest},${most}}$`).test(code)) {
      return showFlow(ctx, flow, { error: 'recover.code_format', errorValues: { digits: method.delivery ? current.codes.digits : TOTP_DIGITS } });
    }
    if (method.delivery && pending.sentTo !== fingerprint(flow, subject, method)) {
      // Sent to an address or a number that is no longer the registered one (replaced since: a SIM swap reported to
      // the helpdesk): whoever holds the old one proves nothing. No guess was compared, so nothing is spent.
      await challenges.discard(pending.challengeId!);
      await record(ctx, { type: 'code.failed', ...base, reason: 'destination_changed' });
      return showFlow(ctx, flow, { error: 'recover.code_expired' });
    }
    if (method.checkable && !method.checkable(subject.user)) return methodUncheckable(ctx, flow, method);
    const purpose = `recovery:${flow._id}:${method.id}`;
    if (method.delivery && !(await challenges.isLive(pending.challengeId!, purpose))) {
      // The code is void already (expired, or its tries used up): nothing can be compared, so nothing is spent. A
      // decoy's pretended code is stored and voided alike.
      await record(ctx, { type: 'code.failed', ...base, reason: 'code_expired' });
      return showFlow(ctx, flow, { error: 'recover.code_expired' });
    }
    const proof = await allowProof(ctx, flow, subject, runs, current, method);
    if (!proof) return;
    let outcome: 'accepted' | 'wrong' | 'used_up' | 'expired';
    if (method.delivery) {
      const challengeId = pending.challengeId!;
      const tried = await limits.takeCodeTry(challengeId, current);
      if (!tried.allowed) {
        await challenges.discard(challengeId);
        outcome = 'expired';
      } else {
        outcome = await challenges.check(challengeId, purpose, code);
        // The code's last try, and wrong: the code is void from now on, and this answer says so (not the next one).
        if (outcome === 'wrong' && tried.slot === current.codes.maxTries) {
          await challenges.discard(challengeId);
          outcome = 'used_up';
        }
      }
    } else {
      // A decoy's code is checked too (against a secret nobody holds), so that it costs what a real check does.
      outcome = (await method.verifyHeld!(subject.user, code)) ? 'accepted' : 'wrong';
    }
    if (outcome === 'expired') {
      // Nothing was compared (parallel posts took the code's tries, or a right answer used it meanwhile): no wrong
      // proof to keep in the authenticator's run; the try's slot, taken on trust, is swept within a day.
      await record(ctx, { type: 'code.failed', ...base, reason: 'code_expired' });
      return showFlow(ctx, flow, { error: 'recover.code_expired' });
    }
    if (outcome !== 'accepted') {
      await record(ctx, { type: 'code.failed', ...base, reason: 'wrong_code' });
      // The failure that reached the ceiling says so at once: another code could not be compared.
      const { ended, reports } = await proof.failed();
      if (reports) await reportDisabled(ctx, flow, subject, method, current);
      if (ended) return showFlow(ctx, flow, { error: 'recover.method_disabled' }, 403);
      // An authenticator's code cannot be sent again: its person is pointed at the app's next code instead.
      const error: Record<typeof outcome, MessageId> = {
        wrong: method.delivery ? 'recover.code_wrong' : 'recover.totp_wrong',
        used_up: 'recover.code_used_up',
      };
      return showFlow(ctx, flow, { error: error[outcome] });
    }
    // Joined only by the proofs that still stand: one made before a reset elsewhere, or with a phone replaced since,
    // no longer counts, and the flow asks for what is missing now (and says why).
    const standing = standingProofs(flow, subject);
    const dropped = standing.verified.length < flow.verified.length;
    const verified = [...standing.verified, method.id];
    const provedWith = { ...standing.provedWith, [method.id]: fingerprint(flow, subject, method) };
    // A locked-down account ("This wasn't me") is unlocked only with a new password: the one in place may be the
    // one whoever was "not me" set. Told once the proofs are in (never a decoy's), so the choice of goal tells nothing.
    const complete = proofsComplete(verified, subject, methods);
    const goal = complete && flow.goal === 'unlock' && subject.user?.lockedDownAt ? { goal: 'reset' as const } : {};
    // The proof is good whether or not this request wins the step (a second tab): its run starts afresh either way.
    const [next] = await Promise.all([
      advance(ctx, flow, { kind: 'proof_accepted', method: method.id, complete }, { verified, provedWith, pending: undefined, ...goal }),
      proof.accepted(),
    ]);
    if (!next) return;
    await record(ctx, { type: 'code.verified', ...base });
    if (dropped && !complete) return showFlow(ctx, next, { notice: 'recover.verify_again' });
    seeFlow(ctx, next);
  });

  router.post('/:flow/password', async (ctx) => {
    const flow = await flowIn(ctx, 'password');
    if (!flow) return;
    const form = await readValid(ctx, passwordForm, `recovery:${flow._id}`);
    const current = await policy.current();
    const first = (await finishingAccount(ctx, flow, current))?.user;
    if (!first) return;
    if (form.password !== form.confirm) return showFlow(ctx, flow, { error: 'recover.password_mismatch' });
    const problem = await accounts.passwordProblem(first, form.password, current);
    // The reasons that name a length say which (the policy's minimum is at most 64, so it is the rule as applied).
    if (problem) return showFlow(ctx, flow, { error: problem, errorValues: { min: current.passwordMinLength, max: MAX_PASSWORD_CODE_POINTS } });
    // Hashed before the step is claimed: a busy argon2 (a full queue) then costs the person a retry, not the flow.
    const prepared = await accounts.preparePassword(first, form.password);
    // An argon2 run is long enough for a reset elsewhere or a lockdown to land: the proofs are judged again on the
    // account as stored now, just before the step is claimed, and the password is written only over that account's
    // revocation (a reset landing after this read refuses the write: AccountChangedError, and the flow ends).
    const finishing = await finishingAccount(ctx, flow, current, { again: true });
    if (!finishing) return;
    const { user, proofs } = finishing;
    // The reset is the step's work: the flow says "done" only once the new password and the revocation are written
    // (one write), and then it is true whatever else fails.
    const next = await advance(ctx, flow, { kind: 'finished' }, {}, async () => {
      await accounts.replacePassword(prepared, user);
      await followUps(ctx, flow, {
        revocation: () => accounts.revokeAccess(user._id), // deletes what the write above already voided
        unlock: () => accounts.clearAfterReset(user, proofs),
        audit: () => record(ctx, { type: 'password.reset', accountId: user._id, flowId: flow._id }),
        notice: async () => current.notify.onReset && deps.notifier.notify(user, 'reset', (ctx as AppContext).state.locale),
        // Recovered: a method turned off by wrong proofs in a row works again.
        proofRuns: () => ceiling.restart(accountKeyOf(user._id)),
      });
    });
    if (next) seeFlow(ctx, next);
  });

  router.post('/:flow/unlock', async (ctx) => {
    const flow = await flowIn(ctx, 'unlock');
    if (!flow) return;
    await readValid(ctx, csrfOnly, `recovery:${flow._id}`);
    const current = await policy.current();
    const user = (await finishingAccount(ctx, flow, current))?.user;
    if (!user) return;
    // (A lockdown since the proofs were in voided them, above: a locked-down account's unlock goal became a reset
    // when its proofs were complete, so an unlock never keeps a password the owner distrusts.)
    const next = await advance(ctx, flow, { kind: 'finished' }, {}, async () => {
      await accounts.unlock(user);
      await followUps(ctx, flow, {
        audit: () => record(ctx, { type: 'account.unlocked', accountId: user._id, flowId: flow._id }),
        notice: async () => current.notify.onUnlock && deps.notifier.notify(user, 'unlock', (ctx as AppContext).state.locale),
        proofRuns: () => ceiling.restart(accountKeyOf(user._id)), // as after a reset
      });
    });
    if (next) seeFlow(ctx, next);
  });

  router.post('/:flow/cancel', async (ctx) => {
    const flow = await browserFlow(ctx);
    if (!flow) return expired(ctx);
    await readValid(ctx, csrfOnly, `recovery:${flow._id}`);
    if (flow.pending?.challengeId) await challenges.discard(flow.pending.challengeId);
    if (await flows.end(flow)) await record(ctx, { type: 'recovery.cancelled', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id });
    // The flow cookie stays: its flow has ended, so its secret opens nothing, but a page of the flow opened again (the
    // Back button) still finds the way back to the sign-in this browser came from, in its language (`expired`).
    await message(ctx, 'recover.cancelled', 200, flow);
  });

  return router;
}

