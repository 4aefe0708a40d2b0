// The answers of recovery calls ("Call my mobile phone", "Call my office phone"). The call's provider posts the keys
// the callee pressed to the call's answer URL, which names the flow, the method and the call's challenge (random,
// known only to the provider: never shown to a browser). The answer counts only when the provider proves it sent it
// (delivery/voice.ts `answerIsGenuine`) and it answers the call the flow waits for now; then its keys are judged as a
// sent code is (tries taken before comparing: the subject's day's budget, the call's own two; the number consumed by
// the right answer), and a right one is recorded as the call's answer (`call_answers`, a
// claim), which the flow's own page then takes once (verify-routes.ts, POST /:flow/answered).
//
//   POST /recover/calls/<flowId>/<methodId>/<challengeId>?lang=<language>    Digits=42
import type Router from '@koa/router';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from '../../db/atomic.ts';
import { parseForm, readFormBytes } from '../../http/body.ts';
import type { AppContext } from '../../http/context.ts';
import { useLocale } from '../../http/request-context.ts';
import type { VoiceProvider } from '../../delivery/voice.ts';
import { CALL_ANSWER_TRIES, CALL_NUMBER_DIGITS } from '../../methods/call.ts';
import { proofBudgetKey } from '../../security/proof-ceiling.ts';
import { flowAccountKey } from './subject.ts';
import { normalizeCode } from '../../security/codes.ts';
import type { FlowKit } from './flow-kit.ts';
import type { RecoveryDeps } from './routes.ts';
import { FLOW_SECONDS } from './store.ts';

export const CALL_ANSWERS = 'call_answers';
/** An answer is small: a few keys, and what the provider adds (Twilio posts some twenty fields). */
const ANSWER_BODY_LIMIT = 8 * 1024;
const ID = /^[\w-]{16,64}$/;

/** What a call brought: the right number pressed, or keys that found the subject's budget of proofs spent. */
export type CallOutcome = 'accepted' | 'blocked';

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
  const keptUntil = () => new Date(clock() + FLOW_SECONDS * 1000);
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

export function callAnswerRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps, voice: VoiceProvider): void {
  const { challenges, limits, policy, callAnswers, clock, methods, flows, ceiling } = deps;
  const origin = new URL(deps.config.issuer).origin;

  router.post('/calls/:flow/:method/:challenge', async (ctx) => {
    const { flow: flowId, method: methodId, challenge: challengeId } = ctx.params as Record<string, string>;
    const method = methods.find((m) => m.id === methodId && m.kind === 'confirmation');
    if (!ID.test(flowId!) || !ID.test(challengeId!) || !method) return; // 404
    const rawBody = await readFormBytes(ctx, ANSWER_BODY_LIMIT);
    const form = parseForm(rawBody);
    // The URL the provider posted to is the one we gave it: the issuer's origin and this path and query.
    const genuine = voice.answerIsGenuine({ url: `${origin}${ctx.originalUrl}`, rawBody, headers: ctx.headers, form }, clock());
    if (!genuine) {
      // Logged, not audited: anyone can post here, and nothing of theirs is written to the database.
      (ctx as AppContext).state.log.warn({ flowId, method: method.id, provider: voice.name }, 'call answer refused: not signed by the voice provider');
      ctx.status = 403;
      ctx.body = { error: 'forbidden' };
      return;
    }
    useLocale(ctx as AppContext, typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined);
    const { t, locale } = (ctx as AppContext).state;
    const current = await policy.current();
    // Only the call the flow waits for now: not one replaced by "Call again", nor one of another method or flow.
    const flow = await flows.peek(flowId!);
    const awaited = flow?.state === 'verify' && flow.pending?.method === method.id && flow.pending.challengeId === challengeId;
    const base = { ...(flow?.accountId && { accountId: flow.accountId }), flowId, method: method.id };
    let result: 'accepted' | 'wrong' | 'ended' = 'ended';
    if (awaited) {
      // Keys pressed are guesses at the number as codes typed are: each counted before it is compared, against the
      // subject's day's budget of proofs (which codes and numbers typed share), then against the call's own tries.
      // Not against the authenticator's ceiling of wrong proofs in a row (security/proof-ceiling.ts): that stops
      // guesses at a secret by someone without it, and only whoever holds the phone can press keys on its call.
      const budget = await limits.takeProofAttempt(proofBudgetKey(await ceiling.read(flowAccountKey(flow))), current);
      const tried = budget.allowed ? await limits.take('call-try', challengeId!, CALL_ANSWER_TRIES, 24 * 3600) : undefined;
      if (!tried?.allowed) {
        await challenges.discard(challengeId!);
        // The page then says the recovery is blocked, rather than offer calls whose answers can no longer count.
        if (!budget.allowed) await callAnswers.record(challengeId!, 'blocked');
      } else {
        const outcome = await challenges.check(challengeId!, `recovery:${flowId}:${method.id}`, normalizeCode(form.Digits ?? ''));
        if (outcome === 'accepted') await callAnswers.record(challengeId!, 'accepted');
        const lastTry = tried.slot === CALL_ANSWER_TRIES;
        // The call's last try, and wrong: nothing more can be pressed for it; the page offers another call.
        if (outcome === 'wrong' && lastTry) await challenges.discard(challengeId!);
        result = outcome === 'accepted' ? 'accepted' : outcome === 'wrong' && !lastTry ? 'wrong' : 'ended';
      }
    }
    // The proof itself is recorded when the flow's page takes it (code.verified); here, what the call brought.
    await kit.record(ctx, { type: result === 'accepted' ? 'recovery.step' : 'code.failed', ...base, reason: `call_${result}` });
    const say = t(result === 'accepted' ? 'notice.call_accepted' : result === 'wrong' ? 'notice.call_wrong' : 'notice.call_ended');
    const again = result === 'wrong' ? { prompt: t('notice.call_prompt', { service: deps.config.brand.name }), answerUrl: `${origin}${ctx.originalUrl}`, digits: CALL_NUMBER_DIGITS } : undefined;
    // The development outbox's page answers with a form: back to it.
    if (voice.name === 'outbox' && ctx.accepts('json', 'html') === 'html') {
      ctx.status = 303;
      return ctx.redirect('/dev/outbox');
    }
    const reply = voice.reply({ result, say, language: locale, ...(again && { again }) });
    ctx.type = reply.type;
    ctx.body = reply.body;
  });
}
