// The answers of the confirmation methods: recovery calls ("Call my mobile phone", "Call my office phone") and
// authenticator app notifications. The call's provider posts the keys the callee pressed, and the app its signed
// answer (methods/app-devices.ts), to the answer URL, which names the flow, the method and the challenge (random,
// known only to the provider or the app: never shown to a browser). The answer counts only when the provider proves
// it sent it (delivery/voice.ts `answerIsGenuine`), or the app's request is signed by the key of the device the
// flow's account has enrolled now, and it answers the challenge the flow waits for now; then its number is judged as
// a sent code is (tries taken before comparing: the subject's day's budget, the challenge's own two; the number
// consumed by the right answer), and a right one is recorded as the answer (`call_answers`, a claim), which the
// flow's own page then takes once (verify-routes.ts, POST /:flow/answered). An app may deny instead: the challenge
// is void, and the page says so.
//
//   POST /recover/calls/<flowId>/<methodId>/<challengeId>?lang=<language>    Digits=42        (a call's provider)
//   POST /recover/calls/<flowId>/app_notification/<challengeId>?lang=…      token=<JWT>      (the app)
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from '../../db/atomic.ts';
import { parseForm, readFormBytes } from '../../http/body.ts';
import type { AppContext } from '../../http/context.ts';
import { useLocale } from '../../http/request-context.ts';
import { CALL_ANSWER_TRIES, CALL_NUMBER_DIGITS } from '../../methods/call.ts';
import { proofBudgetKey } from '../../security/proof-ceiling.ts';
import { flowAccountKey } from './subject.ts';
import { normalizeCode } from '../../security/codes.ts';
import { proofPurpose, type FlowKit } from './flow-kit.ts';
import type { RecoveryDeps } from './routes.ts';
import { LONGEST_FLOW_SECONDS } from './store.ts';
import { ValidationError } from '../../errors.ts';

export const CALL_ANSWERS = 'call_answers';
/** An answer is small: a few keys, and what the provider adds (Twilio posts some twenty fields). */
const ANSWER_BODY_LIMIT = 8 * 1024;
const ID = /^[\w-]{16,64}$/;

/** What a call brought: the right number pressed, keys that found the subject's budget of proofs spent, or an app's denial. */
export type CallOutcome = 'accepted' | 'blocked' | 'denied';

interface CallAnswerDoc extends ExpiringDoc {
  outcome: CallOutcome;
}

export interface CallAnswers {
  /** What the call brought, recorded once. */
  record(challengeId: string, outcome: CallOutcome): Promise<void>;
  /** Whether the call brought anything not taken yet (its page asks while it waits). */
  answered(challengeId: string): Promise<boolean>;
  /**
   * Takes what the call brought: the outcome for the one request that gets it, 'taken' for any other once one has,
   * undefined before the call brought anything.
   */
  take(challengeId: string): Promise<CallOutcome | 'taken' | undefined>;
}

export function createCallAnswers(connection: Connection, clock: () => number = Date.now): CallAnswers {
  const answers = () => connection.db!.collection<CallAnswerDoc>(CALL_ANSWERS);
  const claims = () => connection.db!.collection<ExpiringDoc>(CALL_ANSWERS); // the same collection, as `claim` takes it
  // Kept as long as any flow lives: the flow that placed the call ends by then.
  const keptUntil = () => new Date(clock() + LONGEST_FLOW_SECONDS * 1000);
  return {
    record: async (challengeId, outcome) => void (await claim(claims(), challengeId, keptUntil(), { outcome })),
    answered: async (challengeId) => Boolean(await answers().findOne({ _id: challengeId }, { projection: { _id: 1 } })),
    async take(challengeId) {
      const answer = await answers().findOne({ _id: challengeId });
      // Gone: never brought, or taken by a request before this one (which left its mark).
      if (!answer) return (await answers().findOne({ _id: `taken:${challengeId}` }, { projection: { _id: 1 } })) ? 'taken' : undefined;
      // Of requests that read it at once (the page's script and a click), the one that claims it has it; the others
      // know it was taken, and that the flow is moving on.
      if (!(await claim(claims(), `taken:${challengeId}`, keptUntil()))) return 'taken';
      await consume(answers(), challengeId);
      return answer.outcome;
    },
  };
}

/** The path of a call's answer URL (the issuer's origin goes before it). */
export const answerPath = (flowId: string, methodId: string, challengeId: string, language: string) =>
  `/recover/calls/${flowId}/${methodId}/${challengeId}?lang=${encodeURIComponent(language)}`;

/** An answer whose sender is proved: the number it gives (empty for none), whether it denies, whose device sent it. */
interface ProvedAnswer {
  digits: string;
  denied?: boolean;
  /** An app's answer: the account whose device signed it (the flow must be that account's), and the device. */
  accountId?: string;
  deviceId?: string;
}

export function callAnswerRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps): void {
  const { challenges, limits, policy, callAnswers, clock, methods, flows, ceiling, voice, appDevices } = deps;
  const origin = new URL(deps.config.issuer).origin;

  /** The answer, if its sender is proved: the voice provider's signature, or the enrolled device's (undefined: not). */
  async function provedAnswer(ctx: Context, methodId: string, rawBody: Buffer, form: Record<string, string>): Promise<ProvedAnswer | undefined> {
    // The URL the provider (or the app) posted to is the one we gave it: the issuer's origin and this path and query.
    const url = `${origin}${ctx.originalUrl}`;
    if (methodId === 'app_notification') {
      // The app signs for this very URL (`aud`), so its signature answers this challenge and no other.
      const request = await appDevices?.authenticate(form.token, url);
      if (!request) return undefined;
      const { decision, number } = request.claims;
      const sender = { accountId: request.accountId, deviceId: request.deviceId };
      if (decision === 'deny') return { digits: '', denied: true, ...sender };
      if (decision === 'approve' && typeof number === 'string') return { digits: number, ...sender };
      // Signed by the device, but saying neither: the app's mistake, answered as one (400), not as a stranger's post.
      throw new ValidationError('invalid_request', 'app answer without decision=approve and a number, or decision=deny');
    }
    return voice?.answerIsGenuine({ url, rawBody, headers: ctx.headers, form }, clock()) ? { digits: form.Digits ?? '' } : undefined;
  }

  function forbidden(ctx: Context, flowId: string, methodId: string): void {
    // Logged, not audited: anyone can post here, and nothing of theirs is written to the database.
    const sender = methodId === 'app_notification' ? 'the enrolled device' : `the voice provider (${voice?.name})`;
    (ctx as AppContext).state.log.warn({ flowId, method: methodId }, `answer refused: not signed by ${sender}`);
    ctx.status = 403;
    // The request's support code, as every refusal carries, for the provider's or the app's developer to quote.
    ctx.body = { error: 'forbidden', support_code: (ctx as AppContext).state.requestId };
  }

  router.post('/calls/:flow/:method/:challenge', async (ctx) => {
    const { flow: flowId, method: methodId, challenge: challengeId } = ctx.params as Record<string, string>;
    const method = methods.find((m) => m.id === methodId && m.kind === 'confirmation');
    if (!ID.test(flowId!) || !ID.test(challengeId!) || !method) return; // 404
    const rawBody = await readFormBytes(ctx, ANSWER_BODY_LIMIT);
    const answer = await provedAnswer(ctx, method.id, rawBody, parseForm(rawBody));
    if (!answer) return forbidden(ctx, flowId!, method.id);
    useLocale(ctx as AppContext, typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined);
    const { t, locale } = (ctx as AppContext).state;
    const current = await policy.current();
    // Only the challenge the flow waits for now: not one replaced by "Call again", nor one of another method or flow.
    const flow = await flows.peek(flowId!);
    // Another account's device, though its own signature holds: it never had this notification.
    if (answer.accountId && flow && answer.accountId !== flow.accountId) return forbidden(ctx, flowId!, method.id);
    const awaited = flow?.state === 'verify' && flow.pending?.method === method.id && flow.pending.challengeId === challengeId;
    const base = { ...(flow?.accountId && { accountId: flow.accountId }), flowId, method: method.id };
    let result: 'accepted' | 'wrong' | 'ended' | 'denied' = 'ended';
    if (awaited && answer.denied) {
      // Denied on the app: no number was given, so nothing is spent; the challenge is void, and the page says so.
      await challenges.discard(challengeId!);
      await callAnswers.record(challengeId!, 'denied');
      result = 'denied';
    } else if (awaited) {
      // Keys pressed (a number typed into the app) are guesses at the number as codes typed are: each counted before
      // it is compared, against the subject's day's budget of proofs (which codes and numbers typed share), then
      // against the challenge's own tries. Not against the authenticator's ceiling of wrong proofs in a row
      // (security/proof-ceiling.ts): that stops guesses at a secret by someone without it, and only whoever holds
      // the phone (the device's key) can answer at all.
      const budget = await limits.takeProofAttempt(proofBudgetKey(await ceiling.read(flowAccountKey(flow))), current);
      const tried = budget.allowed ? await limits.take('call-try', challengeId!, CALL_ANSWER_TRIES, 24 * 3600) : undefined;
      if (!tried?.allowed) {
        await challenges.discard(challengeId!);
        // The page then says the recovery is blocked, rather than offer calls whose answers can no longer count.
        if (!budget.allowed) await callAnswers.record(challengeId!, 'blocked');
      } else {
        const outcome = await challenges.check(challengeId!, proofPurpose(flowId!, method.id), normalizeCode(answer.digits));
        if (outcome === 'accepted') await callAnswers.record(challengeId!, 'accepted');
        const lastTry = tried.slot === CALL_ANSWER_TRIES;
        // The last try, and wrong: nothing more can be answered for it; the page offers another call or notification.
        if (outcome === 'wrong' && lastTry) await challenges.discard(challengeId!);
        result = outcome === 'accepted' ? 'accepted' : outcome === 'wrong' && !lastTry ? 'wrong' : 'ended';
      }
    }
    // The proof itself is recorded when the flow's page takes it (code.verified); here, what the answer brought.
    const app = method.id === 'app_notification';
    // No such flow (ended and gone, or never one): nobody's, so nothing for the audit log either.
    if (flow) await kit.record(ctx, { type: result === 'accepted' ? 'recovery.step' : 'code.failed', ...base, reason: `${app ? 'app' : 'call'}_${result}` });
    if (app || !voice) {
      // Answered for good (not a wrong number, which may be entered again): the app is no longer shown it.
      if (answer.deviceId && result !== 'wrong') await appDevices?.dismiss(answer.deviceId, `${origin}${ctx.originalUrl}`);
      ctx.body = { result };
      return;
    }
    const say = t(result === 'accepted' ? 'notice.call_accepted' : result === 'wrong' ? 'notice.call_wrong' : 'notice.call_ended');
    const again = result === 'wrong' ? { prompt: t('notice.call_prompt', { service: deps.config.brand.name }), answerUrl: `${origin}${ctx.originalUrl}`, digits: CALL_NUMBER_DIGITS } : undefined;
    // The development outbox's page answers with a form: back to it, which then says what the call said.
    if (voice.name === 'outbox' && ctx.accepts('json', 'html') === 'html') {
      ctx.status = 303;
      return ctx.redirect(`/dev/outbox?${new URLSearchParams({ answered: result === 'denied' ? 'ended' : result })}`);
    }
    const reply = voice.reply({ result: result === 'denied' ? 'ended' : result, say, language: locale, ...(again && { again }) });
    ctx.type = reply.type;
    ctx.body = reply.body;
  });
}
