// What every page and step of the recovery flow uses: reading a form (with its CSRF token), finding this browser's
// flow and the account it is about, recording to the audit log under the flow's support code, moving the flow on,
// and showing its pages. The route modules (identify-, verify-, finish-routes.ts) are built on it.
import { createHash } from 'node:crypto';
import { pollFor } from '../../db/poll.ts';
import type { Context } from 'koa';
import { z } from 'zod';
import { NO_ACCOUNT_ID } from '../../accounts/users.ts';
import { PASSWORD_REASONS } from '../../accounts/password-rules.ts';
import { createRedirectNote, isValues } from '../../http/retry-cookie.ts';
import { requestFacts, type AuditEvent } from '../../audit/audit.ts';
import { addressBudgetKey } from '../../security/limits.ts';
import { readCheckedForm } from '../../http/checked-form.ts';
import { issueCsrfToken } from '../../http/csrf.ts';
import { siteCookieName } from '../../http/cookie-names.ts';
import type { MessageId } from '../../http/messages/en.ts';
import { renderPage } from '../../http/render.ts';
import { supportedUiLocale } from '../../http/i18n.ts';
import { useLocale } from '../../http/request-context.ts';
import type { AppContext } from '../../http/context.ts';
import type { RecoveryPolicy } from '../../policy/policy.ts';
import type { RecoveryDeps } from './routes.ts';
import { backUrl, fromOf, originFrom, type Origin } from './origin.ts';
import { extendable, FLOW_SECONDS, type FlowDoc, type FlowStore } from './store.ts';
import { nextState, type Transition } from './states.ts';
import { offeredMethods, proofsComplete, resolveSubject, type Subject } from './subject.ts';

/** The query of the flow's page right after "Try again" sent a new code. */
export const RESENT_QUERY = 'sent=new';
const FLOW_ID = /^[\w-]{16,64}$/;
/** What a flow's code or call for one method is for (security/challenges.ts): that flow, that method. */
export const proofPurpose = (flowId: string, methodId: string): string => `recovery:${flowId}:${methodId}`;

/** How long a post whose step another request took waits for that one to move the flow on (`movedOn`). */
const STEP_WAIT_MS = 5000;
const STEP_POLL_MS = 50;

/** How long before a flow's end its page says that the end is near (partials/recovery-deadline.ejs). */
export const ENDING_NOTICE_SECONDS = 120;

export type FlowKit = ReturnType<typeof createFlowKit>;

/** What a confirmation's page says, in the words of its kind: a call's, or an app notification's. */
export const confirmationMessage = <S extends 'not_yet' | 'refused' | 'replaced' | 'limited' | 'limited_none' | 'unsent'>(methodId: string | undefined, say: S) =>
  (methodId === 'app_notification' ? `recover.push_${say}` : `recover.call_${say}`) as `recover.push_${S}` | `recover.call_${S}`;

/** What a step's form can be refused with (its page shown again): a mistake in it, or the call not answered yet. */
const REFUSAL_IDS = [
  'recover.goal_missing',
  'recover.method_missing',
  'recover.method_disabled',
  'recover.method_unavailable',
  'recover.phone_country',
  'recover.call_country',
  'recover.phone_invalid',
  'recover.phone_mismatch',
  'recover.code_format',
  'recover.code_expired',
  'recover.code_not_sent',
  'recover.code_wrong',
  'recover.totp_wrong',
  'recover.code_used_up',
  'recover.call_not_yet',
  'recover.call_refused',
  'recover.push_not_yet',
  'recover.push_refused',
  'recover.password_mismatch',
  ...PASSWORD_REASONS,
] as const satisfies readonly MessageId[];
type RefusalId = (typeof REFUSAL_IDS)[number];
const REFUSALS = new Set<string>(REFUSAL_IDS);
/** The longest number typed that is shown again (the send form's own limit). */
const MAX_KEPT_PHONE = 40;

/** A refused form's page, as the flow's page shows it once: the message, what it names, and the number typed. */
export type Refusal = {
  error?: RefusalId;
  notice?: RefusalId;
  errorValues?: Record<string, string | number>;
  /** The sent code's own tries left after a wrong one (never the day's budget of proofs: see verify-routes.ts /code). */
  triesLeft?: number;
  phone?: string;
};

/** Refusals of one kind audited per address and hour (recordRefusal): enough to see an attack, too few to flood. */
export const REFUSALS_AUDITED_PER_HOUR = 100;
const HOUR_SECONDS = 3600;

export function createFlowKit(deps: RecoveryDeps) {
  const { config, accounts, policy, methods, flows, captcha, audit } = deps;
  const csrfOptions = { secure: config.cookieSecure };
  const cookieName = siteCookieName('latchkey.recovery', config.cookieSecure);
  const refusals = createRedirectNote('lk_recovery_retry', config.cookieSecure);

  /** The form checked for `scope` (the flow's, or the first page's) and against `schema`. */
  const readValid = <T>(ctx: Context, schema: z.ZodType<T>, scope: string) => readCheckedForm(ctx, schema, scope, { limit: config.formBodyLimit, ...csrfOptions });

  /**
   * A flow's support code: the same on each of its pages and in each of its audit events, so that the helpdesk finds
   * the whole flow with `audit list --support-code` (a request id names only the request that showed the page).
   * Requests outside a flow use their request id.
   */
  const supportCodeOf = (flowId: string) => createHash('sha256').update(`support:${flowId}`).digest('base64url').slice(0, 8).toUpperCase().replace(/[-_]/g, 'X');

  function record(ctx: Context, event: Omit<AuditEvent, 'ip' | 'userAgent' | 'supportCode'>) {
    return audit.record({ ...event, ...requestFacts(ctx), ...(event.flowId && { supportCode: supportCodeOf(event.flowId) }) });
  }

  /**
   * A refusal that spends no one's budget (a wrong CAPTCHA, a void code, a budget spent, a send refused), which
   * anyone can therefore repeat without end: audited up to REFUSALS_AUDITED_PER_HOUR of each kind per address (an
   * IPv6 /64) per hour, so that no one can fill the audit log (kept for a year) and bury what matters in it; past
   * that, in the request log only. The same for a decoy's flow, so it tells nothing.
   */
  async function recordRefusal(ctx: Context, event: Omit<AuditEvent, 'ip' | 'userAgent' | 'supportCode'>) {
    const kind = `${event.type}:${event.reason ?? ''}`;
    if (await deps.limits.allow('audit-refusal', `${addressBudgetKey(ctx.ip)}:${kind}`, REFUSALS_AUDITED_PER_HOUR, HOUR_SECONDS)) return record(ctx, event);
    (ctx as AppContext).state.log.info({ event: 'audit.refusal_not_recorded', type: event.type, reason: event.reason }, `${kind} not audited: over ${REFUSALS_AUDITED_PER_HOUR} from this address this hour`);
  }

  /**
   * A recovery page, with the flow's support code once the request has a flow (browserFlow), else the request id
   * (renderPage's). `status` goes to the page too: a refusal (4xx) shows the support code even without an error (an
   * out-of-date form).
   */
  function page(ctx: Context, view: string, data: Record<string, unknown>, status = 200) {
    ctx.status = status;
    return renderPage(ctx, `recovery/${view}`, { titleId: 'recover.title', status, ...data });
  }

  /**
   * A page that explains where the flow ended and offers a fresh start. A blocked flow's page tells the person to
   * contact their administrator: the policy's helpdesk goes with it ("Contact your administrator").
   */
  async function message(ctx: Context, messageId: MessageId, status: number, flow?: Origin & Partial<Pick<FlowDoc, 'uiLocale' | 'goal'>>) {
    const helpdesk = messageId === 'recover.blocked' || messageId === 'recover.too_many' ? (await policy.current()).helpdesk : undefined;
    // `goal`: the support hint speaks of an unlock to whoever chose one.
    return page(ctx, 'message', { messageId, startAgain: startUrl(fromOf(flow), flow?.uiLocale), backToSignIn: backUrl(flow), helpdesk, goal: flow?.goal }, status);
  }

  /** Sets the page language from the relying party's, the way the sign-in page did (the person's own pick wins). */
  function speakAsSignIn(ctx: Context, uiLocale: string | undefined) {
    if (uiLocale) useLocale(ctx as AppContext, uiLocale);
  }

  const startUrl = (from?: string, uiLocale?: string) => {
    const query = new URLSearchParams({ ...(from && { from }), ...(uiLocale && { ui_locales: uiLocale }) }).toString();
    return query ? `/recover?${query}` : '/recover';
  };
  const flowUrl = (flow: FlowDoc) => `/recover/${flow._id}`;
  /** `resent`: the step sent a new code, which the page then says (a "Try again" otherwise looks like nothing). */
  const seeFlow = (ctx: Context, flow: FlowDoc, { resent = false } = {}) => {
    ctx.status = 303;
    ctx.redirect(resent ? `${flowUrl(flow)}?${RESENT_QUERY}` : flowUrl(flow));
  };

  /**
   * A step's form refused (a wrong code, a mistyped number, a weak password): the flow's page shows it, through a
   * redirect (post, redirect, get), so that a reload posts nothing again (no try spent twice, no password sent
   * twice). Shown only while the flow is still at this step (`seq`): a second tab that moved it on meanwhile wins.
   */
  const refuse = (ctx: Context, flow: FlowDoc, refusal: Refusal) => refusals.redirect(ctx, flowUrl(flow), { ...refusal, seq: flow.seq });

  /** The refusal the flow's page shows once (`refuse`); nothing when there is none for this step, or it is malformed. */
  function takeRefusal(ctx: Context, flow: FlowDoc): Refusal {
    const note = refusals.take(ctx, flowUrl(flow));
    if (!note || note.seq !== flow.seq) return {};
    const { error, notice, errorValues, triesLeft, phone } = note;
    const known = (id: unknown): id is RefusalId => typeof id === 'string' && REFUSALS.has(id);
    return {
      ...(known(error) && { error }),
      ...(known(notice) && { notice }),
      ...(isValues(errorValues) && { errorValues }),
      ...(Number.isSafeInteger(triesLeft) && { triesLeft: triesLeft as number }),
      ...(typeof phone === 'string' && phone.length <= MAX_KEPT_PHONE && { phone }),
    };
  }

  /**
   * The flow cookie: the flow, its secret, where it came from (a sign-in or an account page's door: origin.ts) and
   * the sign-in's language, which outlive the flow (see `expired`).
   */
  function readCookie(ctx: Context): { flowId: string; secret: string; origin: Origin; uiLocale?: string } | undefined {
    const value = ctx.cookies.get(cookieName, { signed: true });
    const [flowId, secret, from, uiLocale] = value?.split('.') ?? [];
    const language = supportedUiLocale(uiLocale);
    return flowId && secret ? { flowId, secret, origin: originFrom(from), ...(language && { uiLocale: language }) } : undefined;
  }

  /** The page for a flow that has ended or expired, with the way back to the sign-in (or door) this browser came from. */
  function expired(ctx: Context) {
    const cookie = readCookie(ctx);
    speakAsSignIn(ctx, cookie?.uiLocale);
    return message(ctx, 'recover.expired', 410, { ...cookie?.origin, ...(cookie?.uiLocale && { uiLocale: cookie.uiLocale }) });
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
  /**
   * The browser's flow when it is in `state`; else its page is answered (and undefined): expired, or out of date
   * (`otherwise`: how this form answers a flow in another state, when it has more to say).
   */
  async function flowIn(ctx: Context, state: FlowDoc['state'], otherwise: (ctx: Context, flow: FlowDoc) => Promise<void> = outOfDate): Promise<FlowDoc | undefined> {
    const flow = await browserFlow(ctx);
    if (!flow) {
      await expired(ctx);
      return undefined;
    }
    if (flow.state !== state) {
      await otherwise(ctx, flow);
      return undefined;
    }
    return flow;
  }

  /** Whole seconds left of the flow's life (negative once it is over). */
  const secondsLeft = (flow: Pick<FlowDoc, 'expiresAt'>) => Math.floor((flow.expiresAt.getTime() - deps.clock()) / 1000);

  /**
   * How long a code sent now is said to work: the policy's lifetime, but never past the flow's end, after which no
   * code is taken (a "Try again" late in a flow would otherwise text a code said to work 10 minutes that works for
   * none). The code itself is kept for the policy's lifetime (verify-routes.ts), for a flow given more time.
   */
  const codeSeconds = (flow: Pick<FlowDoc, 'expiresAt'>, current: RecoveryPolicy) =>
    Math.max(1, Math.min(current.codes.lifetimeSeconds, secondsLeft(flow)));

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
   * Moves the flow on; undefined when another request took the step first, answered by `afterStepTaken` as going
   * this way (the state this transition leads to, with its goal and chosen method) or another. `sameWork`: for a
   * request whose work depends on what it posted (a new password), whether the request that finished the flow did
   * this one's work; a finished flow is shown as done to this one only then. Given to every advance of such a
   * request: its proofs stop standing once the other one's password is written, so it may lose on another step.
   */
  async function advance(
    ctx: Context,
    flow: FlowDoc,
    transition: Transition,
    changes?: Parameters<FlowStore['advance']>[2],
    work?: Parameters<FlowStore['advance']>[3],
    { sameWork }: { sameWork?: () => Promise<boolean> } = {},
  ) {
    const next = await flows.advance(flow, transition, changes, work);
    if (!next) {
      const goal = changes?.goal ?? flow.goal;
      const state = nextState(flow.state, transition, goal);
      if (!state) await outOfDate(ctx, flow);
      else {
        const wentThisWay = (moved: FlowDoc) => moved.state === state && moved.goal === goal && (!changes?.pending || moved.pending?.method === changes.pending.method);
        await afterStepTaken(ctx, flow, wentThisWay, sameWork);
      }
    }
    return next;
  }

  /**
   * The flow once another request has moved it past the step `flow` is at, waited for a few seconds at most (its work
   * takes milliseconds, a new password's argon2 under a second): 'ended' when the flow ended meanwhile, undefined when
   * it did not move (that request failed).
   */
  async function movedOn(ctx: Context, flow: FlowDoc): Promise<FlowDoc | 'ended' | undefined> {
    const secret = readCookie(ctx)?.secret;
    const moved = await pollFor<FlowDoc | 'ended'>(async () => {
      const now = await flows.load(flow._id, secret);
      if (!now) return { value: 'ended' as const };
      return now.seq > flow.seq ? { value: now } : undefined;
    }, STEP_WAIT_MS, STEP_POLL_MS);
    return moved?.value;
  }

  /**
   * The step this request read was taken by another of this browser's requests: a double click's other post (whose
   * answer the browser no longer shows) or a second tab. Once that one has moved the flow on, where it went: by a
   * redirect, as that request answered, when it went where this one would have (`wentThisWay`) or finished the flow
   * with this one's work (`sameWork`, when given); else that step, with the note that this page changed nothing (a
   * second tab's other password: the done page, saying this one was not saved). A flow that did not move, as it is,
   * with the note.
   */
  async function afterStepTaken(ctx: Context, flow: FlowDoc, wentThisWay: (moved: FlowDoc) => boolean, sameWork?: () => Promise<boolean>) {
    const moved = await movedOn(ctx, flow);
    if (moved === 'ended') return expired(ctx);
    if (!moved) return outOfDate(ctx, flow);
    if (moved.state !== 'done') return wentThisWay(moved) ? seeFlow(ctx, moved) : outOfDate(ctx, moved);
    if (!sameWork || (await didSameWork(ctx, sameWork))) return seeFlow(ctx, moved);
    await showFlow(ctx, moved, { notice: 'recover.other_password_saved' }, 409);
  }

  /** `sameWork` asked; a failure (the database, a full argon2 queue) counts as no, which tells nobody a change was theirs. */
  async function didSameWork(ctx: Context, sameWork: () => Promise<boolean>): Promise<boolean> {
    try {
      return await sameWork();
    } catch (error) {
      (ctx as AppContext).state.log.warn({ err: error }, 'could not tell whether a finished recovery saved this request\'s password');
      return false;
    }
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
    // `seq`: the step the page shows, for the forms that must not act twice (a code's send: verify-routes.ts).
    const common = {
      flow: flowUrl(flow),
      seq: flow.seq,
      csrf,
      helpdesk: current.helpdesk,
      backToSignIn: backUrl(flow),
      startAgain: startUrl(fromOf(flow), flow.uiLocale),
      // What is left of the flow's life, which its pages say before it ends (partials/recovery-deadline.ejs).
      flowSeconds: Math.max(0, secondsLeft(flow)),
      endingNoticeSeconds: ENDING_NOTICE_SECONDS,
      // Whether that notice offers more time (store.ts `extend`), and how much.
      moreTime: extendable(flow),
      extensionSeconds: FLOW_SECONDS,
      notice: undefined,
      error: undefined,
      phone: '',
      ...extra,
    };
    switch (flow.state) {
      case 'goal':
        return page(ctx, 'goal', common, status);
      case 'verify': {
        // A method removed since it was chosen (from the account, or by the policy) is pending no more.
        const pending = flow.pending && subject.registered.includes(flow.pending.method) ? flow.pending : undefined;
        const pendingMethod = pending && methods.find((m) => m.id === pending.method);
        const offered = offeredMethods(flow.verified, subject, methods);
        // A call's number that can no longer be pressed (its tries used up, or expired) and brought no answer to take:
        // every load of the page says so and offers only "Call again", not just the answer that found it out. Just
        // used ('used': the right number, whose answer is being stored) is not over.
        const callOver =
          pendingMethod?.kind === 'confirmation' &&
          Boolean(pending!.challengeId) &&
          !pending!.unsent &&
          !['live', 'used'].includes(await deps.challenges.status(pending!.challengeId!, proofPurpose(flow._id, pending!.method))) &&
          !(await deps.callAnswers.answered(pending!.challengeId!));
        return page(
          ctx,
          'verify',
          {
            ...common,
            crumbs: breadcrumb(flow, subject, current),
            step: flow.verified.length + 1,
            goal: flow.goal,
            // How long a call's page keeps asking whether it was answered: as long as its number can be answered
            // (its life, cut at the flow's end), and once the flow is given more time, its life at most.
            callSeconds: codeSeconds(flow, current),
            numberSeconds: current.codes.lifetimeSeconds,
            methods: offered.map((id) => ({ id, hint: subject.hints[id] ?? '' })),
            pending: pending && {
              ...pending,
              hint: subject.hints[pending.method] ?? '',
              codeSent: Boolean(pending.challengeId),
              // The complete number is asked first (a text, a call); a call is confirmed on the phone, not typed here.
              asksNumber: Boolean(pendingMethod?.matchDestination),
              isCall: pendingMethod?.kind === 'confirmation',
              callOver,
            },
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
  async function showIdentify(ctx: Context, fields: { identifier?: string; origin?: Origin; uiLocale?: string; error?: MessageId; captchaId?: string }, status = 200) {
    const from = fromOf(fields.origin);
    const { captchaId, waitSeconds, lifeSeconds } = await captcha.show(fields.captchaId);
    await page(
      ctx,
      'identify',
      {
        csrf: issueCsrfToken(ctx, 'recovery:start', csrfOptions),
        identifier: fields.identifier ?? '',
        from: from ?? '',
        uiLocale: fields.uiLocale ?? '',
        captchaId,
        waitSeconds,
        lifeSeconds,
        error: fields.error,
        backToSignIn: backUrl(fields.origin),
        // Answering a POST (a wrong CAPTCHA, say), another language is this page's GET: still for that origin.
        ...(from && { languageQuery: { from } }),
      },
      status,
    );
  }

  /** The flow cookie (`readCookie`): set when the flow starts, replacing any earlier flow of this browser. */
  function keepFlowInCookie(ctx: Context, flow: FlowDoc, secret: string) {
    ctx.cookies.set(cookieName, [flow._id, secret, fromOf(flow) ?? '', flow.uiLocale ?? ''].join('.'), { httpOnly: true, sameSite: 'lax', secure: config.cookieSecure, path: '/', signed: true, overwrite: true });
  }

  return { secondsLeft, csrfOptions, readValid, supportCodeOf, record, recordRefusal, page, message, speakAsSignIn, seeFlow, refuse, takeRefusal, keepFlowInCookie, expired, browserFlow, flowIn, outOfDate, codeSeconds, subjectOf, advance, movedOn, showFlow, showIdentify };
}
