// The verification steps of a flow: choosing a method, confirming the number a code goes to, sending (and sending
// again) a code, and checking a code (sent, or an authenticator's). Every guess is counted before it is compared,
// by the db/ primitives: the code's own tries, the subject's daily budget, and the authenticator's run of wrong
// proofs in a row (security/proof-ceiling.ts).
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { durationText, DEFAULT_LOCALE } from '../../http/i18n.ts';
import type { AppContext } from '../../http/context.ts';
import type { VerificationMethod } from '../../methods/method.ts';
import { TOTP_DIGITS } from '../../methods/totp.ts';
import { CODE_DIGITS, type RecoveryPolicy } from '../../policy/policy.ts';
import { proofBudgetKey, type ProofRuns, type ProofTry } from '../../security/proof-ceiling.ts';
import { normalizeCode } from '../../security/codes.ts';
import { UnreadableSecretError } from '../../security/encryption.ts';
import { detached } from '../../db/request-scope.ts';
import type { SlotResult } from '../../db/atomic.ts';
import { confirmationMessage, proofPurpose, type FlowKit } from './flow-kit.ts';
import { authenticatorOf, fingerprint, standingProofs } from './proofs.ts';
import type { RecoveryDeps } from './routes.ts';
import type { FlowDoc } from './store.ts';
import { accountKey, flowAccountKey, offeredMethods, proofsComplete, registrationOf, type Subject } from './subject.ts';
import { CALL_NUMBER_DIGITS } from '../../methods/call.ts';
import { answerPath } from './call-answers.ts';

const methodForm = z.object({ csrf: z.string(), method: z.string().max(20).optional() });
/** `seq`: the step the page was made at; a send posted from an earlier one (a second click) sends nothing. */
const sendForm = z.object({ csrf: z.string(), phone: z.string().max(40).optional(), method: z.string().max(20).optional(), seq: z.string().max(10).optional() });
/** `method` (here and above): the one the page was for (a page left open from before another was chosen). */
const codeForm = z.object({ csrf: z.string(), code: z.string().max(32).default(''), method: z.string().max(20).optional() });

export function verifyRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps): void {
  const { config, policy, methods, challenges, limits, ceiling, flows, callAnswers } = deps;
  const origin = new URL(config.issuer).origin;
  const { readValid, flowIn, outOfDate, showFlow, seeFlow, refuse, message, record, recordRefusal, advance, movedOn, subjectOf, codeSeconds } = kit;

  // The domain alone: the origin-bound line's grammar has no port (`@example.com #123456`), and a line with one is
  // read by no phone. A page on a non-default port gets no offer to fill the code in, as the spec means for it.
  const host = new URL(config.issuer).hostname;
  const methodById = new Map(methods.map((m) => [m.id, m]));

  /**
   * The subject, and its runs of wrong proofs read beside its account (one round trip for both): the steps that
   * take a proof or send a code. The runs are keyed as the flow names the subject, known before the account is read.
   */
  function subjectWithRuns(flow: FlowDoc, current: RecoveryPolicy): Promise<[Subject, ProofRuns]> {
    return Promise.all([subjectOf(flow, current), ceiling.read(flowAccountKey(flow))]);
  }

  router.post('/:flow/method', async (ctx) => {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, methodForm, `recovery:${flow._id}`);
    const subject = await subjectOf(flow, await policy.current());
    const method = offeredMethods(flow.verified, subject, methods).find((id) => id === form.method);
    if (!method) return refuse(ctx, flow, { error: 'recover.method_missing' });
    // The method already chosen, chosen again (its Next pressed on the code's page): the code sent stays.
    if (flow.pending?.method === method) return seeFlow(ctx, flow);
    if (flow.pending?.challengeId) await challenges.discard(flow.pending.challengeId);
    const next = await advance(ctx, flow, { kind: 'choose_method', method }, { pending: { method } });
    if (next) seeFlow(ctx, next);
  });

  /** A new code for the pending method, made and judged by the send limits, not sent yet (`deliverCode`). */
  interface PreparedCode {
    challenge: { id: string; code: string; expiresAt: Date };
    /** How long its message says it works (`codeSeconds`): the policy's lifetime, cut at the flow's end. */
    lifetimeSeconds: number;
    /** The limits let it go (a decoy's too, though nothing is sent); else why not. */
    verdict: Awaited<ReturnType<typeof limits.allowSend>>;
    /** Where the message is addressed: the registered destination, or a decoy's address that is never sent to. */
    to: string;
  }

  async function prepareCode(ctx: Context, flow: FlowDoc, subject: Subject, method: VerificationMethod, current: RecoveryPolicy): Promise<PreparedCode> {
    // A decoy's challenge can never be answered (its code reached nobody): a lucky guess fails like any wrong code.
    // A call's "code" is the number shown on the page and pressed on the phone's keypad.
    const digits = method.kind === 'confirmation' ? CALL_NUMBER_DIGITS : current.codes.digits;
    const lifetimeSeconds = codeSeconds(flow, current);
    // Stored for the policy's whole lifetime, not cut at the flow's end as its message is: only a flow still running
    // takes an answer (`flowIn`, `peek`), and one given more time (`more-time`) while its text was on its way keeps
    // the code working, rather than making its user ask for, and spend a send on, another.
    const challenge = await challenges.create(proofPurpose(flow._id, method.id), digits, current.codes.lifetimeSeconds, { answerable: Boolean(subject.user) });
    // A decoy's "destination" is only a limits key: one per thing it pretends to have, as a real account's texts and
    // calls to one phone share the number's limits.
    const destination = subject.user ? method.delivery!.destination(subject.user) : { channel: 'email' as const, to: `decoy:${subject.key.toString('hex')}:${registrationOf(method)}` };
    const verdict = await limits.allowSend({ accountKey: accountKey(subject), destination: destination.to, ip: ctx.ip }, current);
    return { challenge, lifetimeSeconds, verdict, to: subject.user ? destination.to : method.delivery!.decoyDestination };
  }

  /** Sends a prepared code the limits let go (a decoy's: pretends to), or records why it was refused. */
  async function deliverCode(ctx: Context, flow: FlowDoc, subject: Subject, method: VerificationMethod, current: RecoveryPolicy, { challenge, lifetimeSeconds, verdict, to }: PreparedCode): Promise<void> {
    const base = { ...(subject.user && { accountId: subject.user._id }), flowId: flow._id, method: method.id };
    if (!verdict.allowed) return recordRefusal(ctx, { type: 'code.refused', ...base, reason: verdict.reason });
    const { t, locale } = (ctx as AppContext).state;
    // A decoy's message is composed and stored too, so that its send costs what a real one does, but as a decoy:
    // the sender never sends it.
    const answerUrl = `${origin}${answerPath(flow._id, method.id, challenge.id, locale)}`;
    const message = method.delivery!.compose(challenge.code, to, { t, locale, host, expiresIn: durationText(lifetimeSeconds, locale), service: config.brand.name, answerUrl });
    // A code that arrives after the time its message gives only confuses: if the provider is down that long, nothing
    // arrives.
    const sendBefore = new Date(deps.clock() + lifetimeSeconds * 1000);
    await deps.enqueue({ ...message, sendBefore, ...(!subject.user && { decoy: true }) });
    await record(ctx, { type: 'code.sent', ...base, ...(!subject.user && { reason: 'decoy' }) });
  }

  /** The tries of the day's budget left after the one just taken (`slot`). */
  const budgetLeft = (budget: SlotResult, current: RecoveryPolicy) => current.limits.proofAttemptsPerDay - budget.slot!;

  /** The daily budget of proofs spent: recorded and answered (429). */
  async function proofBudgetSpent(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    await recordRefusal(ctx, { type: 'recovery.blocked', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'limit_proofs' });
    await message(ctx, 'recover.blocked', 429, flow);
  }

  /**
   * The address's hourly budget of proofs, over every account (limits.ts `allowProofFrom`), taken before the
   * account's: when spent, recorded and answered as a start from that address would be (429), a decoy's alike. A
   * flow holding a proof already is past it (guessing across accounts never gets there, and someone else behind the
   * same address, a campus or a carrier's NAT, cannot stop a recovery half-way by spending it).
   */
  async function allowProofFromAddress(ctx: Context, flow: FlowDoc, method: VerificationMethod, current: RecoveryPolicy): Promise<boolean> {
    if (flow.verified.length > 0 || (await limits.allowProofFrom(ctx.ip, current))) return true;
    await recordRefusal(ctx, { type: 'recovery.blocked', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'limit_proofs_ip' });
    await message(ctx, 'recover.too_many', 429, flow);
    return false;
  }

  /** The method's run of wrong proofs is at its end (security/proof-ceiling.ts): recorded, and the page says so. */
  async function methodDisabled(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    await recordRefusal(ctx, { type: 'recovery.blocked', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'method_disabled' });
    refuse(ctx, flow, { error: 'recover.method_disabled' });
  }

  /**
   * The account's proof for `method` cannot be checked by this server (an authenticator seed that DATA_ENCRYPTION_KEY
   * no longer decrypts): the operator must act, so it is logged as an error, and no try is spent. Once the flow holds
   * a proof, the person is asked to choose another way; before that, the answer is a wrong code's, as a decoy
   * (an unknown login) would get: a different one would tell that the login has an account.
   */
  async function methodUncheckable(ctx: Context, flow: FlowDoc, method: VerificationMethod): Promise<void> {
    const error = new UnreadableSecretError();
    (ctx as AppContext).state.log.error({ error: error.code, accountId: flow.accountId, method: method.id }, error.message);
    await record(ctx, { type: 'recovery.failed', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'secret_unreadable' });
    refuse(ctx, flow, { error: flow.verified.length === 0 ? 'recover.totp_wrong' : 'recover.method_unavailable' });
  }

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
      if (!(await allowProofFromAddress(ctx, flow, method, current))) return undefined;
      const budget = await limits.takeProofAttempt(proofBudgetKey(runs), current);
      if (!budget.allowed) {
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

  /**
   * A proof for `method` was accepted: the flow moves on, joined only by the proofs that still stand (one made before
   * a reset elsewhere, or with a phone replaced since, no longer counts, and the flow asks for what is missing now,
   * and says why). `accepted`: what else the proof starts afresh (its authenticator's run of wrong proofs).
   */
  async function acceptProof(ctx: Context, flow: FlowDoc, subject: Subject, method: VerificationMethod, accepted: () => Promise<unknown> = async () => {}): Promise<void> {
    const base = { ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id };
    const standing = standingProofs(flow, subject, methods);
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
      accepted(),
    ]);
    if (!next) return;
    await record(ctx, { type: 'code.verified', ...base });
    if (dropped && !complete) return showFlow(ctx, next, { notice: 'recover.verify_again' });
    seeFlow(ctx, next);
  }

  /**
   * The registered number was replaced since the one typed was matched (a SIM swap reported to the helpdesk): the code
   * or call sent before is void, and the flow asks for the complete number again.
   */
  async function askNumberAgain(ctx: Context, flow: FlowDoc, method: VerificationMethod, challengeId: string | undefined): Promise<void> {
    if (challengeId) await challenges.discard(challengeId);
    const next = await advance(ctx, flow, { kind: 'choose_method', method: method.id }, { pending: { method: method.id } });
    if (next) await showFlow(ctx, next, { notice: 'recover.out_of_date' });
  }

  async function send(ctx: Context, resend: boolean) {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, sendForm, `recovery:${flow._id}`);
    const pending = flow.pending;
    const method = pending && methodById.get(pending.method);
    if (!pending || !method?.delivery || (resend && !pending.challengeId) || (form.method && form.method !== pending.method)) return outOfDate(ctx, flow);
    // A second click that arrives once the first has moved the flow on: its page is out of date, nothing is spent.
    if (form.seq !== undefined && form.seq !== String(flow.seq)) return outOfDate(ctx, flow);
    // "Call again" pressed just as the call was answered (its page asks every two seconds): the answer is not thrown
    // away for a new call; the page, shown again, goes on with it.
    if (resend && method.kind === 'confirmation' && (await callAnswers.answered(pending.challengeId!))) return seeFlow(ctx, flow);
    const current = await policy.current();
    const [subject, runs] = await subjectWithRuns(flow, current);
    if (!subject.registered.includes(method.id)) return outOfDate(ctx, flow);
    // A code that could not be accepted is not sent (a text or a call costs money): the method turned off, or the
    // day's budget of proofs spent (its keys pressed, its code typed would not be compared).
    if (markedDisabled(subject, runs, method)) return methodDisabled(ctx, flow, method);
    if (await limits.proofBudgetSpent(proofBudgetKey(runs), current)) return proofBudgetSpent(ctx, flow, method);
    // A number typed and matched stays confirmed only while it is the registered one (its code went there: `sentTo`).
    // Replaced since (a SIM swap reported to the helpdesk), "Try again" would text a number nobody typed here: the
    // flow asks for the complete number again instead, and the code sent before is void.
    if (method.matchDestination && pending.destinationConfirmed && pending.sentTo !== fingerprint(flow, subject, method)) {
      return askNumberAgain(ctx, flow, method, pending.challengeId);
    }
    if (method.matchDestination && !pending.destinationConfirmed) {
      // The complete number is a guess at something the page only hints at: each one is counted before it is
      // compared, from the same budget as codes, or the number could be guessed digit by digit, flow after flow.
      // What can be judged without the account (no number at all, a refused country) spends nothing. Not against the
      // ceiling of wrong proofs in a row: a number is no secret, and wrong ones typed by anyone must not turn off
      // the owner's texts.
      const typed = form.phone ?? '';
      const early = method.judgeTyped?.(typed, current);
      if (!early && !(await allowProofFromAddress(ctx, flow, method, current))) return;
      const budget = early ? undefined : await limits.takeProofAttempt(proofBudgetKey(runs), current);
      if (budget && !budget.allowed) return proofBudgetSpent(ctx, flow, method);
      const check = early ?? method.matchDestination(subject.user, typed, current);
      if (check !== 'match') {
        await recordRefusal(ctx, { type: 'recovery.failed', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: `destination_${check}` });
        const refusedCountry = method.kind === 'confirmation' ? 'recover.call_country' : 'recover.phone_country';
        const error = check === 'country_refused' ? refusedCountry : check === 'invalid' ? 'recover.phone_invalid' : 'recover.phone_mismatch';
        // No count of tries left: that is the account's day's budget (see `triesLeft` at /code).
        return refuse(ctx, flow, { error, phone: typed });
      }
      // The number took the day's last try: its code could not be compared, so none is sent. (A decoy never gets
      // here: its numbers never match.)
      if (budget && budgetLeft(budget, current) <= 0) return proofBudgetSpent(ctx, flow, method);
    }
    // One send per step: of a double-clicked Send or "Try again" (or two tabs) read at the same moment, the first to
    // reserve the step spends the limits and sends; the other spends and sends nothing (its code would arrive already
    // replaced, and typing it would cost a try) and shows the page as the first leaves it: the browser shows this
    // answer, and "nothing was changed" would send the person back to Send.
    if (!(await flows.reserve(flow))) return seeFlow(ctx, flow);
    const prepared = await prepareCode(ctx, flow, subject, method, current);
    const allowed = prepared.verdict.allowed;
    // Only a code that goes out replaces the one before: after a refused "Try again" the earlier code, perhaps still
    // on its way, keeps working. Each code keeps the destination it went to (`sentTo`). A refused send with none
    // before it leaves the flow waiting for a code that did not go out (`unsent`), and the page says so.
    const { unsent: nothingWaiting, ...before } = pending;
    const kept = !allowed && pending.challengeId && !nothingWaiting ? { challengeId: pending.challengeId, sentTo: pending.sentTo, number: pending.number, dropped: prepared.challenge.id } : undefined;
    const fresh = { challengeId: prepared.challenge.id, sentTo: fingerprint(flow, subject, method), dropped: pending.challengeId, ...(method.kind === 'confirmation' && { number: prepared.challenge.code }), ...(!allowed && { unsent: true as const }) };
    const { challengeId, sentTo, dropped, number, unsent } = { unsent: undefined, ...(kept ?? fresh) };
    // The step is claimed before the code goes out: should another step of the flow win it meanwhile (a method
    // chosen in another tab), nothing is sent.
    const next = await advance(ctx, flow, { kind: 'code_sent', challengeId }, { pending: { ...before, destinationConfirmed: true, challengeId, ...(sentTo && { sentTo }), ...(number && { number }), ...(unsent && { unsent }) } });
    if (!next) {
      await challenges.discard(prepared.challenge.id);
      return;
    }
    if (dropped) await challenges.discard(dropped);
    // Should this fail (the database gone), the flow already waits for a code that did not go out: "Try again" sends
    // another, as for a message lost on its way.
    await deliverCode(ctx, flow, subject, method, current, prepared);
    // A refused send says so: the person would otherwise wait for a code that never comes. It tells nothing about the
    // account: an unknown login's decoy is held to the same limits, and the message does not say which one refused.
    if (allowed) seeFlow(ctx, next, { resent: resend });
    else if (method.kind === 'confirmation') await showFlow(ctx, next, { notice: confirmationMessage(method.id, unsent ? 'limited_none' : 'limited') }, 429);
    else await showFlow(ctx, next, { notice: unsent ? 'recover.send_limited_none' : 'recover.send_limited' }, 429);
  }

  router.post('/:flow/send', (ctx) => send(ctx, false));
  router.post('/:flow/resend', (ctx) => send(ctx, true));

  router.post('/:flow/code', async (ctx) => {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, codeForm, `recovery:${flow._id}`);
    const pending = flow.pending;
    const method = pending && methodById.get(pending.method);
    if (!pending || !method || method.kind !== 'code' || (method.delivery && !pending.challengeId) || (form.method && form.method !== pending.method)) return outOfDate(ctx, flow);
    const current = await policy.current();
    const [subject, runs] = await subjectWithRuns(flow, current);
    if (!subject.registered.includes(method.id)) return outOfDate(ctx, flow);
    // No code went out (the limits refused the send): there is nothing to compare a code with, so nothing is spent
    // (an earlier code of this method was voided when this send was asked for).
    if (method.delivery && pending.unsent) return refuse(ctx, flow, { error: 'recover.code_not_sent' });
    const base = { ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id };
    // Spaces and dashes are the reader's (codes are read out in groups), full-width digits the keyboard's: read as the
    // code's digits (normalizeCode) before the check, for a sent code and an authenticator's alike. Anything else
    // cannot be the code, so it is answered without spending a try: it compares nothing.
    // (A sent code may have been sent before the policy's digit count changed: any count the policy allows will do.)
    const code = normalizeCode(form.code);
    const [fewest, most] = method.delivery ? [CODE_DIGITS.min, CODE_DIGITS.max] : [TOTP_DIGITS, TOTP_DIGITS];
    if (!new RegExp(`^\\d{${fewest},${most}}$`).test(code)) {
      return refuse(ctx, flow, { error: 'recover.code_format', errorValues: { digits: method.delivery ? current.codes.digits : TOTP_DIGITS } });
    }
    if (method.delivery && pending.sentTo !== fingerprint(flow, subject, method)) {
      // Sent to an address or a number that is no longer the registered one (replaced since: a SIM swap reported to
      // the helpdesk): whoever holds the old one proves nothing. No guess was compared, so nothing is spent.
      await challenges.discard(pending.challengeId!);
      await record(ctx, { type: 'code.failed', ...base, reason: 'destination_changed' });
      return refuse(ctx, flow, { error: 'recover.code_expired' });
    }
    if (method.checkable && !method.checkable(subject.user)) return methodUncheckable(ctx, flow, method);
    const purpose = proofPurpose(flow._id, method.id);
    const challenge = method.delivery ? await challenges.status(pending.challengeId!, purpose) : 'live';
    // Used meanwhile by a right code of this browser's other post (a double click on Next): where that one went.
    if (challenge === 'used' && (await wentOnWithout(ctx, flow))) return;
    if (challenge !== 'live') {
      // The code is void already (expired, or its tries used up): nothing can be compared, so nothing is spent. A
      // decoy's pretended code is stored and voided alike.
      await recordRefusal(ctx, { type: 'code.failed', ...base, reason: 'code_expired' });
      return refuse(ctx, flow, { error: 'recover.code_expired' });
    }
    const proof = await allowProof(ctx, flow, subject, runs, current, method);
    if (!proof) return;
    // Shown beside a wrong sent code: this code's own tries left, the same for a decoy's. Never what is left of the
    // day's budget of proofs: that is the account's, spent by its owner too (proving a method on their security info
    // page), while an unknown login's decoy has one only the person asking spends, so its count would tell an account
    // from an unknown login at the first wrong guess. An authenticator's code or a phone number says no count.
    let triesLeft: number | undefined;
    let outcome: 'accepted' | 'wrong' | 'used_up' | 'expired';
    if (method.delivery) {
      const challengeId = pending.challengeId!;
      const tried = await limits.takeCodeTry(challengeId, current);
      if (!tried.allowed) {
        await challenges.discard(challengeId);
        outcome = 'expired';
      } else {
        outcome = await challenges.check(challengeId, purpose, code);
        triesLeft = current.codes.maxTries - tried.slot!;
        // The code's last try, and wrong: the code is void from now on, and this answer says so (not the next one).
        if (outcome === 'wrong' && tried.slot === current.codes.maxTries) {
          await challenges.discard(challengeId);
          outcome = 'used_up';
        }
      }
    } else {
      // A decoy's code is checked too (against a secret nobody holds), so that it costs what a real check does.
      const held = await method.verifyHeld!(subject.user, code);
      // Right but accepted already: by this browser's other post just now (a double click on Next), whose answer it
      // no longer shows: on to where that one went. Else (used elsewhere, or long ago) a wrong code for this flow.
      if (held === 'used' && (await wentOnWithout(ctx, flow))) return;
      outcome = held === 'right' ? 'accepted' : 'wrong';
    }
    if (outcome === 'expired') {
      // A right code of this browser's other post (a double click on Next) used it meanwhile: where that one went.
      // (Only then: a code out of tries or out of time is answered at once.)
      if ((await challenges.status(pending.challengeId!, purpose)) === 'used' && (await wentOnWithout(ctx, flow))) return;
      // Nothing was compared (parallel posts took the code's tries, or a right answer used it meanwhile): no wrong
      // proof to keep in the authenticator's run; the try's slot, taken on trust, is swept within a day.
      await recordRefusal(ctx, { type: 'code.failed', ...base, reason: 'code_expired' });
      return refuse(ctx, flow, { error: 'recover.code_expired' });
    }
    if (outcome !== 'accepted') {
      await record(ctx, { type: 'code.failed', ...base, reason: 'wrong_code' });
      // The failure that reached the ceiling says so at once: another code could not be compared.
      const { ended, reports } = await proof.failed();
      if (reports) await reportDisabled(ctx, flow, subject, method, current);
      if (ended) return refuse(ctx, flow, { error: 'recover.method_disabled' });
      // An authenticator's code cannot be sent again: its person is pointed at the app's next code instead.
      const error = {
        wrong: method.delivery ? 'recover.code_wrong' : 'recover.totp_wrong',
        used_up: 'recover.code_used_up',
      } as const;
      return refuse(ctx, flow, { error: error[outcome], ...(outcome === 'wrong' && triesLeft !== undefined && { triesLeft }) });
    }
    await acceptProof(ctx, flow, subject, method, proof.accepted);
  });

  /**
   * Whether another request of this browser moved the flow on past the step this one read (a few seconds' wait):
   * then it has been answered as that one was (`seeFlow`), and true.
   */
  async function wentOnWithout(ctx: Context, flow: FlowDoc): Promise<boolean> {
    const moved = await movedOn(ctx, flow);
    if (!moved || moved === 'ended') return false;
    seeFlow(ctx, moved);
    return true;
  }

  /** The pending call of this browser's flow, or why there is none to wait for (an out-of-date page). */
  function pendingCall(flow: FlowDoc) {
    const pending = flow.pending;
    const method = pending && methodById.get(pending.method);
    return pending?.challengeId && method?.kind === 'confirmation' ? { pending, method, challengeId: pending.challengeId } : undefined;
  }

  // Asked by the call's page while it waits (a script, every two seconds): whether the call was answered.
  router.get('/:flow/call-status', async (ctx) => {
    const flow = await kit.browserFlow(ctx);
    const call = flow?.state === 'verify' ? pendingCall(flow) : undefined;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { answered: call ? await callAnswers.answered(call.challengeId) : false };
  });

  // "Continue" on the call's page (pressed by its script once the call is answered, or by the person).
  router.post('/:flow/answered', async (ctx) => {
    const flow = await flowIn(ctx, 'verify');
    if (!flow) return;
    const form = await readValid(ctx, codeForm, `recovery:${flow._id}`);
    const call = pendingCall(flow);
    if (!call || (form.method && form.method !== call.pending.method)) return outOfDate(ctx, flow);
    const { method, challengeId } = call;
    // Nothing was placed (the limits refused it; a page from before says otherwise): nothing to have answered, and
    // the page as it is now says so.
    if (call.pending.unsent) return seeFlow(ctx, flow);
    // Taken first, whatever follows: an answer this request refuses must not stay for the page's script to find
    // again and again.
    const answered = await callAnswers.take(challengeId);
    const current = await policy.current();
    const [subject, runs] = await subjectWithRuns(flow, current);
    if (!subject.registered.includes(method.id)) return outOfDate(ctx, flow);
    if (markedDisabled(subject, runs, method)) return methodDisabled(ctx, flow, method);
    // Called at a number that is no longer the registered one (replaced since): whoever answered it proves nothing.
    // The flow asks for the complete number again, as "Call again" would.
    if (call.pending.sentTo !== fingerprint(flow, subject, method)) {
      await record(ctx, { type: 'code.failed', ...(flow.accountId && { accountId: flow.accountId }), flowId: flow._id, method: method.id, reason: 'destination_changed' });
      return askNumberAgain(ctx, flow, method, challengeId);
    }
    if (answered === 'blocked') return proofBudgetSpent(ctx, flow, method);
    // Denied on the app: said in the words of any notification not approved, since the page may be anyone's who knows
    // the login, and only a real account's owner can deny (an unknown login's notification just goes unanswered).
    if (answered === 'denied') return refuse(ctx, flow, { error: 'recover.push_refused' });
    // Taken by another request (the page's script and a click of Continue at once): the page it leads to.
    if (answered === 'taken') return seeFlow(ctx, flow);
    if (!answered) {
      // Not answered yet (the call may still ring), or its number can no longer be pressed (tries used up, expired).
      const waiting = await challenges.isLive(challengeId, proofPurpose(flow._id, method.id));
      return refuse(ctx, flow, waiting ? { notice: confirmationMessage(method.id, 'not_yet') } : { error: confirmationMessage(method.id, 'refused') });
    }
    await acceptProof(ctx, flow, subject, method);
  });
}
