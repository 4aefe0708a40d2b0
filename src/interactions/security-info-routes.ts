// The security info page of a sign-in (security-info.ts says when it is shown, and why a registered method must be
// proved before anything changes), and the same page opened by its owner outside a sign-in, after the current
// password (flows/account-security-info.ts): the kit says which. In a sign-in its forms live below the interaction,
// as the sign-in's do; on its own page, below the step's path:
//   POST security-info/prove   a registered method to prove: a code goes to it (none for an app)
//   POST security-info/add     a method to add or change: the address or number typed (a code goes to it), or a new
//                              authenticator app (its QR code is shown)
//   POST security-info/verify  the code that proves what the step waits for: an addition is registered (and the
//                              owner told), a proof opens the methods to changes
//   POST security-info/back    leaves what the step waits for
//   POST security-info/remove  a method removed, unless the account needs it to recover
//   POST security-info/done    "Looks good": the info confirmed, and the sign-in recorded (or the page left)
// Every change is told to the owner on the contacts registered before it, with the "This wasn't me" link, and
// audited. Form errors answer 200 with the page (STYLE: the page is the answer); refused sends 429. A wrong code is
// the exception, said after a redirect: a reload must not post the code again, as each try spends a proof.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import { requestFacts, type AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import type { AppContext } from '../http/context.ts';
import { createRedirectNote, supportCodeOfNote } from '../http/retry-cookie.ts';
import { DEFAULT_LOCALE, durationText } from '../http/i18n.ts';
import type { MessageId } from '../http/messages/en.ts';
import { isEmailAddress, MAX_EMAIL_LENGTH } from '../methods/email.ts';
import type { OutgoingMessage, VerificationMethod } from '../methods/method.ts';
import { countryAllowed, mayBeMobile, normalizePhone } from '../methods/sms.ts';
import { newAuthenticator, TOTP_DIGITS } from '../methods/totp.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { Challenges } from '../security/challenges.ts';
import { normalizeCode } from '../security/codes.ts';
import type { SecretBox } from '../security/encryption.ts';
import type { Limits } from '../security/limits.ts';
import { proofBudgetKey, type ProofCeiling } from '../security/proof-ceiling.ts';
import type { PumpingBreaker } from '../security/pumping-breaker.ts';
import type { MethodChange, Notifier } from '../flows/recovery/notices.ts';
import { accountKeyOf, recoveryMethods } from '../flows/recovery/subject.ts';
import { lockedFor, manageable, provable, registeredValue, removalStrands, securityInfoDue, SELF_SERVICE, without, type Enrolment, type Proving, type SecurityInfoState, type SecurityInfoSteps, type SelfService } from './security-info.ts';
import { createSecurityInfoPage, SAID, type PageInput, type Said, type Typing } from './security-info-page.ts';
import { passwordCheckOf, type PendingStep } from './interaction-steps.ts';
import type { AppDevices } from '../methods/app-devices.ts';

export interface SecurityInfoDeps {
  steps: SecurityInfoSteps;
  methods: VerificationMethod[];
  challenges: Challenges;
  limits: Limits;
  /** The recovery's count of wrong proofs in a row: a registered method proved here counts in it too. */
  ceiling: ProofCeiling;
  /** Watches the codes to numbers typed in here for SMS pumping. */
  breaker: PumpingBreaker;
  enqueue(message: OutgoingMessage & { sendBefore?: Date }): Promise<unknown>;
  notifier: Pick<Notifier, 'notifyMethodsChanged' | 'notifyMethodDisabled'>;
  /** Seals a new authenticator's seed and an app's enrolment link while the step keeps them (DATA_ENCRYPTION_KEY). */
  box: SecretBox;
  /** Makes the one-time links that enrol an app for notifications (methods/app-devices.ts). */
  appDevices: Pick<AppDevices, 'startEnrolment' | 'cancelEnrolment' | 'enrolledWith'>;
}

/** What the sign-in's routes (or the account's page) lend the page: the step's place, its forms, and its end. */
export interface InteractionKit {
  /** Where the step's page is shown for `uid`; its forms post below the router's prefix at `formsPath`. */
  pagePath(uid: string): string;
  formsPath: string;
  /** Where Cancel posts. */
  cancelPath(uid: string): string;
  /** Opened by the person to manage their info (flows/account-security-info.ts), not stopped at in a sign-in. */
  manage: boolean;
  config: Pick<Config, 'brand' | 'issuer' | 'cookieSecure'>;
  accounts: Pick<Accounts, 'findById' | 'findAgain' | 'setSecurityInfo' | 'confirmSecurityInfo'>;
  policy: { current(): Promise<RecoveryPolicy> };
  audit: Pick<AuditLog, 'record'>;
  clock: () => number;
  /** The step's id in the URL: in a sign-in, its interaction's, asserted to be at the login prompt. */
  stepIdOf(ctx: Context): Promise<string>;
  readValidForm<T>(ctx: Context, schema: z.ZodType<T>, uid: string): Promise<T>;
  csrfToken(ctx: Context, uid: string): string;
  /** The account whose step this is, while its password still stands (no administrator's action since). */
  accountOfStep(step: PendingStep<unknown>, again?: boolean): Promise<User | undefined>;
  /** "Looks good", once the info is confirmed: the sign-in recorded (`checkedAtMs`: its password), or the page left. */
  finished(ctx: Context, user: User, checkedAtMs: number): Promise<void>;
  /**
   * A form of the page came without a step (any more): back to where the password is asked, or, outside a sign-in,
   * to what a finished step led to when another request of this browser finished it (a double click on "Looks good").
   */
  noStep(ctx: Context, uid: string): void | Promise<void>;
  /** "Looks good" lost to another request of this browser, which finished the step (a double click). */
  usedAlready(ctx: Context, uid: string): void | Promise<void>;
}

const kindField = z.enum(['alternateEmail', 'mobilePhone', 'authenticator', 'appDevice']);
const addForm = z.object({ csrf: z.string(), kind: kindField, value: z.string().max(MAX_EMAIL_LENGTH).optional() });
const verifyForm = z.object({ csrf: z.string(), code: z.string().max(32) });
const kindForm = z.object({ csrf: z.string(), kind: kindField });
/** What can be proved on the page: not an app's device (it has no notification to wait for here). */
const proveForm = z.object({ csrf: z.string(), kind: z.enum(['alternateEmail', 'mobilePhone', 'authenticator']) });
const csrfOnly = z.object({ csrf: z.string() });

type Step = PendingStep<SecurityInfoState>;
/** A code that proved nothing: said on the page after a redirect. */
const WRONG_CODE = ['security_info.code_wrong', 'security_info.app_code_wrong'] as const satisfies readonly MessageId[];
type WrongCode = (typeof WRONG_CODE)[number];
type Contact = 'alternateEmail' | 'mobilePhone';

/** The notice's name for a change of `kind`. */
function changeOf(kind: SelfService, to: string | null): MethodChange {
  if (kind === 'authenticator') return { method: 'authenticator', registered: to !== null };
  if (kind === 'appDevice') return { method: 'app_device', registered: to !== null };
  return { method: kind === 'alternateEmail' ? 'alternate_email' : 'mobile_phone', to };
}

/** What a code answers: its step, why, and where it went (hashed: a challenge's purpose is stored as it is). */
const purposeOf = (step: Step, why: 'add' | 'prove', kind: Contact, destination: string) =>
  `security-info:${step.id}:${why}:${kind}:${createHash('sha256').update(destination).digest('base64url')}`;

export function securityInfoRoutes(router: Router, deps: SecurityInfoDeps, kit: InteractionKit) {
  const { steps, methods, challenges, limits, ceiling, breaker, enqueue, notifier, box, appDevices } = deps;
  const { config, accounts, policy, audit, clock } = kit;
  const wrongCodeNotes = createRedirectNote('lk_security_info_note', config.cookieSecure);
  const issuer = config.brand.name;
  const draw = createSecurityInfoPage({ methods, box, issuer });
  const methodOf = (kind: SelfService) => methods.find((m) => m.id === SELF_SERVICE[kind])!;

  /** The step of this browser's interaction and its account, or nothing when there is none (any more). */
  async function current(ctx: Context, { again = false } = {}) {
    const uid = await kit.stepIdOf(ctx);
    const step = await steps.pending(ctx, uid);
    const user = step && (await kit.accountOfStep(step, again));
    return { uid, step, user };
  }

  type Shown = Omit<PageInput, 'place' | 'csrf' | 'user' | 'state' | 'rules' | 'now'> & { state?: SecurityInfoState | undefined };
  async function show(ctx: Context, uid: string, step: Step, user: User, extra: Shown = {}) {
    const state = 'state' in extra ? extra.state : step.state;
    const place = { forms: kit.pagePath(uid) + kit.formsPath, cancel: kit.cancelPath(uid), manage: kit.manage };
    await draw(ctx, { place, csrf: kit.csrfToken(ctx, uid), user, state, rules: await policy.current(), now: clock(), ...extra });
  }

  /** The list, by a redirect (a reload posts nothing again), with what the last form did. */
  const seeStep = (ctx: Context, uid: string, said?: Said) => {
    ctx.status = 303;
    ctx.redirect(`${kit.pagePath(uid)}${said ? `?said=${said}` : ''}`);
  };

  /** Writes what the step keeps, with a new `rev`. */
  const save = (step: Step, state: SecurityInfoState) => steps.keep(step, { ...state, rev: randomBytes(9).toString('base64url') });
  /** What outlives a finished or abandoned wait: a proof made in the step. */
  const kept = (step: Step): SecurityInfoState => ({ ...(step.state?.proven && { proven: true as const }) });
  /**
   * Does `work` for the first of any requests doing `action` in the state this one read (db/atomic.ts claim). The
   * others (a double click, a replay, two tabs) spend and send nothing: they wait for the first to finish and show
   * the page as it left it.
   */
  async function firstOnly(ctx: Context, uid: string, step: Step, action: string, work: () => Promise<void>) {
    const key = `${step.state?.rev ?? 'start'}:${action}`;
    if (!(await steps.once(step, key))) {
      await steps.settled(step, key);
      return seeStep(ctx, uid);
    }
    try {
      await work();
    } finally {
      await steps.settle(step, key);
    }
  }

  /**
   * A wrong code: said so, and the state written again (a new `rev`), so the same digits typed again are a new try
   * rather than the double click `firstOnly` ignores.
   */
  async function wrongCode(ctx: Context, uid: string, step: Step, error: WrongCode) {
    await save(step, { ...step.state });
    // Said after a redirect (post, redirect, get): a reload of the answer would post the same code again, and each
    // try is spent from what the account has (its daily budget of proofs, shared with recovery).
    wrongCodeNotes.redirect(ctx, kit.pagePath(uid), { error });
  }

  /**
   * A send the limits refused (429): said so, anything the step waited for left as it was (an earlier code, perhaps
   * on its way, keeps working), and the state written again, so that the same form may be tried again later.
   */
  async function sendRefused(ctx: Context, uid: string, step: Step, user: User, typing?: Typing) {
    await save(step, { ...step.state });
    return show(ctx, uid, step, user, { ...(typing && { typing }), error: 'security_info.send_refused', status: 429 });
  }

  /** What the step waits for can no longer be proved: forgotten, and the list shown with why. */
  async function abandon(ctx: Context, uid: string, step: Step, user: User, error: MessageId) {
    const state = kept(step);
    await save(step, state);
    return show(ctx, uid, step, user, { state, error });
  }

  /** Forgets the code the step waited for, or voids the app's enrolment link it showed (a Back, another method chosen). */
  async function discardAwaited(state: SecurityInfoState | undefined) {
    const awaited = state?.adding ?? state?.proving;
    if (awaited && 'challengeId' in awaited) await challenges.discard(awaited.challengeId);
    if (awaited?.kind === 'appDevice') await appDevices.cancelEnrolment(awaited.enrolmentId);
  }

  /**
   * Why a code to `destination` must not go now, if it must not. For a number typed in to be added (`typedNumber`),
   * the SMS pumping breaker first (before any budget is spent on a code it refuses; its opening is told here), and
   * the budget of its block of 100 numbers among the send limits.
   */
  async function sendRefusal(ctx: Context, user: User, destination: string, rules: RecoveryPolicy, typed: boolean, typedNumber: boolean): Promise<string | undefined> {
    const watched = typedNumber ? await breaker.judge(destination, rules) : { allowed: true as const };
    if (!watched.allowed) {
      if (watched.opened) {
        const { country, sent, proved } = watched.opened;
        ctx.state.log.error(
          { event: 'pumping.breaker_opened', country, sent, proved },
          `SMS pumping suspected: ${proved} of ${sent} numbers typed in for ${country} were proved in the last hour of expired codes; no code goes to a number typed in for ${country} until those codes are an hour and a half old`,
        );
        await audit.record({ type: 'delivery.breaker_opened', reason: 'pumping_suspected', target: country, accountId: user._id, ip: ctx.ip });
      }
      return 'pumping_suspected';
    }
    const verdict = await limits.allowSend({ accountKey: accountKeyOf(user._id), destination, ip: ctx.ip, typed }, rules);
    return verdict.allowed ? undefined : verdict.reason;
  }

  /**
   * Sends a code to `destination` for `purpose` (`typed`: to what is being added, as typed), unless sendRefusal
   * refuses (undefined then): the code's id and when it went.
   */
  async function sendCode(ctx: Context, user: User, kind: Contact, destination: string, purpose: string, rules: RecoveryPolicy, typed: boolean) {
    const method = methodOf(kind);
    const typedNumber = typed && kind === 'mobilePhone';
    const refused = await sendRefusal(ctx, user, destination, rules, typed, typedNumber);
    if (refused) {
      await audit.record({ type: 'code.refused', accountId: user._id, method: method.id, reason: refused, ip: ctx.ip });
      return undefined;
    }
    const sentAt = clock();
    const challenge = await challenges.create(purpose, rules.codes.digits, rules.codes.lifetimeSeconds);
    const { t, locale } = (ctx as AppContext).state;
    const host = new URL(config.issuer).hostname;
    const message = method.delivery!.compose(challenge.code, destination, { t, locale, host, expiresIn: durationText(rules.codes.lifetimeSeconds, locale), service: issuer, answerUrl: '' });
    await enqueue({ ...message, sendBefore: challenge.expiresAt });
    if (typedNumber) await breaker.sent(destination, new Date(sentAt), rules);
    await audit.record({ type: 'code.sent', accountId: user._id, method: method.id, reason: typed ? 'security_info' : 'security_info_proof', ip: ctx.ip });
    return { challengeId: challenge.id, sentAt };
  }

  /** Records a change proved in this step, tells the owner on the contacts registered before it, and audits it. */
  async function recordChange(ctx: Context, step: Step, before: User, kind: SelfService, value: string | null, rules: RecoveryPolicy) {
    // An app's device is only ever removed here: it enrols itself (methods/app-device-routes.ts).
    const change = kind === 'authenticator' ? { totpSecret: value } : kind === 'appDevice' ? { appDevice: null } : { [kind]: value };
    await accounts.setSecurityInfo(before._id, change);
    // What was added was proved just now: the methods stay open to the person who proved it.
    await save(step, { proven: true });
    const { locale } = (ctx as AppContext).state;
    // Texts only within the installation's budget for notices: changes come in bursts no one else's budget should pay.
    await notifier.notifyMethodsChanged(before, [changeOf(kind, value)], 'password', locale, () => limits.allowNoticeText(rules));
    await audit.record({ type: 'security_info.changed', accountId: before._id, reason: 'owner', method: kind, ...requestFacts(ctx) });
    ctx.state.log.info({ event: 'security_info.changed', accountId: before._id, method: kind, change: value === null ? 'removed' : 'registered' }, 'security info changed by its owner');
  }

  /** Shows the step's page: for GET /interaction/:uid when a step is pending (true), else false. */
  async function showPending(ctx: Context, uid: string): Promise<boolean> {
    const step = await steps.pending(ctx, uid);
    const user = step && (await kit.accountOfStep(step));
    if (!user) return false;
    const said = SAID.find((word) => word === ctx.query.said);
    const note = wrongCodeNotes.take(ctx, kit.pagePath(uid));
    const error = WRONG_CODE.find((id) => id === note?.error);
    const supportCode = supportCodeOfNote(note);
    await show(ctx, uid, step!, user, { ...(said && { said }), ...(error && { error, ...(supportCode && { supportCode }) }) });
    return true;
  }

  /**
   * After a right password: the page, when the policy asks for it of this account (true: the step has begun), or
   * nothing (false: the caller records the sign-in).
   */
  async function begin(ctx: Context, uid: string, user: User, checkedAtMs: number): Promise<boolean> {
    if (!securityInfoDue(user, methods, await policy.current(), clock())) return false;
    await steps.start(ctx, uid, passwordCheckOf(user, checkedAtMs));
    seeStep(ctx, uid);
    return true;
  }

  /** A form of the page, read with its step and account and the policy; nothing (after answering) without a step. */
  async function formOf<T>(ctx: Context, schema: z.ZodType<T>, options?: { again: boolean }) {
    const { uid, step, user } = await current(ctx, options);
    const form = await kit.readValidForm(ctx, schema, uid);
    if (!step || !user) {
      await kit.noStep(ctx, uid);
      return undefined;
    }
    return { uid, step, user, form, rules: await policy.current() };
  }

  router.post(`${kit.formsPath}/prove`, async (ctx) => {
    const read = await formOf(ctx, proveForm);
    if (!read) return;
    const { uid, step, user, form, rules } = read;
    if (!provable(user, manageable(methods, rules), methods, rules).includes(form.kind)) return show(ctx, uid, step, user, { error: 'security_info.unavailable' });
    const method = methodOf(form.kind);
    // Refused before anything is sent, as recovery does: it could not be compared anyway.
    const runs = await ceiling.read(accountKeyOf(user._id));
    if (ceiling.disabled(runs, method.id, method.authenticator(user))) return show(ctx, uid, step, user, { error: 'security_info.method_disabled' });
    if (await limits.proofBudgetSpent(proofBudgetKey(runs), rules)) return show(ctx, uid, step, user, { error: 'security_info.proofs_used_up', status: 429 });
    await firstOnly(ctx, uid, step, `prove:${form.kind}`, async () => {
      if (form.kind === 'authenticator') {
        await discardAwaited(step.state);
        await save(step, { ...kept(step), proving: { kind: 'authenticator' } });
        return seeStep(ctx, uid);
      }
      const destination = registeredValue(user, form.kind)!;
      const challengeId = (await sendCode(ctx, user, form.kind, destination, purposeOf(step, 'prove', form.kind, destination), rules, false))?.challengeId;
      if (!challengeId) return sendRefused(ctx, uid, step, user);
      await discardAwaited(step.state);
      await save(step, { ...kept(step), proving: { kind: form.kind, challengeId } });
      seeStep(ctx, uid);
    });
  });

  router.post(`${kit.formsPath}/add`, async (ctx) => {
    const read = await formOf(ctx, addForm);
    if (!read) return;
    const { uid, step, user, form, rules } = read;
    if (!manageable(methods, rules).includes(form.kind)) return show(ctx, uid, step, user, { error: 'security_info.unavailable' });
    if (lockedFor(user, step.state)) return show(ctx, uid, step, user, { error: 'security_info.prove_first' });
    if (form.kind === 'appDevice') {
      // A one-time link the app opens (shown as a QR code): the app's key enrols itself, and the owner is told then.
      return firstOnly(ctx, uid, step, 'add:appDevice', async () => {
        await discardAwaited(step.state);
        const { link, expiresAt, enrolmentId } = await appDevices.startEnrolment(user._id);
        await save(step, { ...kept(step), adding: { kind: 'appDevice', sealedLink: box.seal(link), enrolmentId, expiresAt: expiresAt.getTime() } });
        seeStep(ctx, uid);
      });
    }
    if (form.kind === 'authenticator') {
      return firstOnly(ctx, uid, step, 'add:authenticator', async () => {
        await discardAwaited(step.state);
        const { sealed } = newAuthenticator(box, { issuer, label: user.email });
        await save(step, { ...kept(step), adding: { kind: 'authenticator', sealed } });
        seeStep(ctx, uid);
      });
    }
    // "Set it up now" or "Change": the field to type it in.
    if (form.value === undefined) {
      await discardAwaited(step.state);
      const state = kept(step);
      await save(step, state);
      return show(ctx, uid, step, user, { state, typing: { kind: form.kind } });
    }
    const typed = form.value.trim();
    const judged = judgeTyped(form.kind, typed, user, rules);
    const typing: Typing = { kind: form.kind, value: typed };
    if (typeof judged === 'string') return show(ctx, uid, step, user, { typing, error: judged });
    const { kind } = form;
    await firstOnly(ctx, uid, step, `add:${kind}:${judged.value}`, async () => {
      const sent = await sendCode(ctx, user, kind, judged.value, purposeOf(step, 'add', kind, judged.value), rules, true);
      if (!sent) return sendRefused(ctx, uid, step, user, typing);
      await discardAwaited(step.state);
      await save(step, { ...kept(step), adding: { kind, value: judged.value, ...sent } });
      seeStep(ctx, uid);
    });
  });

  router.post(`${kit.formsPath}/verify`, async (ctx) => {
    const read = await formOf(ctx, verifyForm);
    if (!read) return;
    const { uid, step, user, form, rules } = read;
    const { adding, proving } = step.state ?? {};
    if (adding?.kind === 'appDevice') return appEnrolled(ctx, uid, step, user, adding);
    const awaited = adding ?? proving;
    if (!awaited) return seeStep(ctx, uid); // finished or left meanwhile (another tab): the page as it is now
    const code = normalizeCode(form.code);
    // Not a code at all (empty, too short): said so, with nothing spent.
    const digits = awaited.kind === 'authenticator' ? TOTP_DIGITS : rules.codes.digits;
    const wrongCode: MessageId = awaited.kind === 'authenticator' ? 'security_info.app_code_wrong' : 'security_info.code_wrong';
    if (!new RegExp(`^\\d{${digits}}$`).test(code)) return show(ctx, uid, step, user, { error: wrongCode });
    await firstOnly(ctx, uid, step, `verify:${code}`, () => (adding ? verifyAddition(ctx, uid, step, user, adding, code, rules) : verifyProof(ctx, uid, step, user, proving!, code, rules)));
  });

  /**
   * "Continue" after the app was given its link: the app enrolled with it (the account's device as stored now is the
   * one this link enrolled, not one an administrator's link did) and the methods stay open to whoever did; or not yet
   * (said so, the link still shown); or the link has expired.
   */
  async function appEnrolled(ctx: Context, uid: string, step: Step, user: User, adding: Extract<Enrolment, { kind: 'appDevice' }>) {
    const device = (await accounts.findAgain(user._id))?.securityInfo?.appDevice;
    if (device?.id && (await appDevices.enrolledWith(device.id, adding.enrolmentId))) {
      await save(step, { proven: true });
      return seeStep(ctx, uid, 'saved');
    }
    if (clock() >= adding.expiresAt) return abandon(ctx, uid, step, user, 'security_info.app_link_expired');
    return show(ctx, uid, step, user, { error: 'security_info.app_not_enrolled' });
  }

  async function verifyAddition(ctx: Context, uid: string, step: Step, user: User, adding: Exclude<Enrolment, { kind: 'appDevice' }>, code: string, rules: RecoveryPolicy) {
    if (adding.kind === 'authenticator') {
      // A wrong code from a new app is mostly a phone's clock or a code typed late; its tries are counted all the same.
      const tried = await limits.takeCodeTry(`security-info:${step.id}:${adding.sealed.slice(-24)}`, rules);
      if (!tried.allowed) return abandon(ctx, uid, step, user, 'security_info.code_used_up');
      const withApp = { ...user, securityInfo: { ...user.securityInfo, authenticator: { totpSecret: adding.sealed } } };
      if ((await methodOf('authenticator').verifyHeld!(withApp, code)) !== 'right') return wrongCode(ctx, uid, step, 'security_info.app_code_wrong');
      await recordChange(ctx, step, user, 'authenticator', adding.sealed, rules);
      return seeStep(ctx, uid, 'saved');
    }
    // A code to an address the person typed: guessing it wins nothing but a contact one does not hold, so its own
    // tries are its limit (the account's daily budget of proofs is for what recovers it).
    const tried = await limits.takeCodeTry(adding.challengeId, rules);
    if (!tried.allowed) {
      await challenges.discard(adding.challengeId);
      return abandon(ctx, uid, step, user, 'security_info.code_used_up');
    }
    const outcome = await challenges.check(adding.challengeId, purposeOf(step, 'add', adding.kind, adding.value), code);
    if (outcome === 'wrong') return wrongCode(ctx, uid, step, 'security_info.code_wrong');
    if (outcome === 'expired') return abandon(ctx, uid, step, user, 'security_info.code_expired');
    // A step saved before codes kept their time is judged by the proof's.
    if (adding.kind === 'mobilePhone') await breaker.proved(adding.value, new Date(adding.sentAt ?? clock()), rules);
    await recordChange(ctx, step, user, adding.kind, adding.value, rules);
    seeStep(ctx, uid, 'saved');
  }

  /**
   * A code from a registered method: its tries come from the account's daily budget of proofs, shared with recovery,
   * and count in the method's run of wrong proofs in a row (security/proof-ceiling.ts), so a stolen password cannot
   * buy guesses at the account's authenticator here that recovery would refuse.
   */
  async function verifyProof(ctx: Context, uid: string, step: Step, user: User, proving: Proving, code: string, rules: RecoveryPolicy) {
    const method = methodOf(proving.kind);
    // Judged again on the account as it is now: a phone registered since the mailbox's code was asked for makes that
    // code too weak to open the methods (`provable`).
    if (!provable(user, manageable(methods, rules), methods, rules).includes(proving.kind)) return abandon(ctx, uid, step, user, 'security_info.unavailable');
    const purpose = proving.kind === 'authenticator' ? '' : purposeOf(step, 'prove', proving.kind, registeredValue(user, proving.kind) ?? '');
    // An expired code (or a number replaced meanwhile) is said so before anything is spent.
    if (proving.kind !== 'authenticator' && !(await challenges.isLive(proving.challengeId, purpose))) return abandon(ctx, uid, step, user, 'security_info.code_expired');
    const runs = await ceiling.read(accountKeyOf(user._id));
    const authenticator = method.authenticator(user);
    if (ceiling.disabled(runs, method.id, authenticator)) return abandon(ctx, uid, step, user, 'security_info.method_disabled');
    const budget = await limits.takeProofAttempt(proofBudgetKey(runs), rules);
    if (!budget.allowed) return abandon(ctx, uid, step, user, 'security_info.proofs_used_up');
    const proof = await ceiling.attempt(runs, method.id, authenticator);
    if (!proof.allowed) {
      if (proof.reports) await reportDisabled(ctx, user, method, rules);
      return abandon(ctx, uid, step, user, 'security_info.method_disabled');
    }
    let right: boolean;
    if (proving.kind === 'authenticator') right = (await method.verifyHeld!(user, code)) === 'right';
    else {
      const tried = await limits.takeCodeTry(proving.challengeId, rules);
      if (!tried.allowed) {
        await challenges.discard(proving.challengeId);
        return abandon(ctx, uid, step, user, 'security_info.code_used_up');
      }
      const outcome = await challenges.check(proving.challengeId, purpose, code);
      if (outcome === 'expired') return abandon(ctx, uid, step, user, 'security_info.code_expired');
      right = outcome === 'accepted';
    }
    if (!right) {
      const { ended, reports } = await proof.failed();
      await audit.record({ type: 'code.failed', accountId: user._id, method: method.id, reason: 'security_info_proof', ip: ctx.ip });
      if (reports) await reportDisabled(ctx, user, method, rules);
      if (ended) return abandon(ctx, uid, step, user, 'security_info.method_disabled');
      return wrongCode(ctx, uid, step, proving.kind === 'authenticator' ? 'security_info.app_code_wrong' : 'security_info.code_wrong');
    }
    await proof.accepted();
    await save(step, { proven: true });
    await audit.record({ type: 'code.verified', accountId: user._id, method: method.id, reason: 'security_info_proof', ip: ctx.ip });
    seeStep(ctx, uid, 'proved');
  }

  /**
   * A method reached its run of wrong proofs in a row here: recorded and told to the owner, as recovery does
   * (flows/recovery/verify-routes.ts), in the default language and with texts within the budget for notices.
   */
  async function reportDisabled(ctx: Context, user: User, method: VerificationMethod, rules: RecoveryPolicy) {
    await audit.record({ type: 'recovery.method_disabled', accountId: user._id, method: method.id, reason: 'consecutive_limit', ip: ctx.ip });
    if (rules.notify.onLockout) await notifier.notifyMethodDisabled(user, method.id, DEFAULT_LOCALE, () => limits.allowNoticeText(rules));
  }

  router.post(`${kit.formsPath}/back`, async (ctx) => {
    const read = await formOf(ctx, csrfOnly);
    if (!read) return;
    const { uid, step } = read;
    await discardAwaited(step.state);
    await save(step, kept(step));
    seeStep(ctx, uid);
  });

  router.post(`${kit.formsPath}/remove`, async (ctx) => {
    const read = await formOf(ctx, kindForm, { again: true });
    if (!read) return;
    const { uid, step, user, form, rules } = read;
    if (registeredValue(user, form.kind) === undefined) return seeStep(ctx, uid); // removed already (another tab)
    if (lockedFor(user, step.state)) return show(ctx, uid, step, user, { error: 'security_info.prove_first' });
    // Never below what the account needs to recover by itself, once it can.
    if (recoveryMethods(user, methods, rules).able && !recoveryMethods(without(user, form.kind), methods, rules).able) {
      return show(ctx, uid, step, user, { error: 'security_info.remove_refused' });
    }
    // Nor below what the page itself can prove, or the owner could change nothing here afterwards.
    if (removalStrands(user, form.kind, manageable(methods, rules), methods, rules)) return show(ctx, uid, step, user, { error: 'security_info.remove_strands' });
    // One removal per state, whichever method: two at once in two tabs could each leave the other's last method.
    await firstOnly(ctx, uid, step, 'remove', async () => {
      await discardAwaited(step.state); // the page moves on without what it waited for
      await recordChange(ctx, step, user, form.kind, null, rules);
      seeStep(ctx, uid, 'removed');
    });
  });

  router.post(`${kit.formsPath}/done`, async (ctx) => {
    const read = await formOf(ctx, csrfOnly, { again: true });
    if (!read) return;
    const { uid, step, user, rules } = read;
    if (securityInfoDue(user, methods, rules, clock()) === 'register') return show(ctx, uid, step, user, { error: 'security_info.not_enough' });
    // Used once, by one of any parallel posts: only that one signs in (or confirms). The others (a double click) wait
    // for it and answer as it did (usedAlready).
    const finishing = await steps.finishOnce(ctx, uid, user._id);
    if (!finishing) return kit.usedAlready(ctx, uid);
    // The others answer as this one did only once its work is done; failed, they answer as though nothing was.
    let didIt = false;
    try {
      await discardAwaited(step.state); // a link a stale tab still shows stops working with the step
      await accounts.confirmSecurityInfo(user._id, new Date(clock()));
      await kit.finished(ctx, user, step.startedAt.getTime());
      didIt = true;
    } finally {
      await finishing.done(didIt);
    }
  });

  return { begin, showPending };
}

/** A typed address or number as it will be stored, or why it is refused (before any limit is spent). */
function judgeTyped(kind: Contact, typed: string, user: User, policy: RecoveryPolicy): MessageId | { value: string } {
  if (kind === 'alternateEmail') {
    const address = typed.toLowerCase();
    if (!isEmailAddress(address)) return 'security_info.email_invalid';
    // The mailbox one signs in with may be the very one lost: it proves nothing more.
    if (address === user.email.trim().toLowerCase()) return 'security_info.email_same';
    return { value: address };
  }
  const number = typed.startsWith('+') ? normalizePhone(typed) : undefined;
  if (!number) return 'security_info.phone_invalid';
  if (!countryAllowed(number, policy)) return 'security_info.phone_country';
  if (!mayBeMobile(number)) return 'security_info.phone_not_mobile';
  // A text to it and a call to the office would count as two ways to verify: one phone must not be both.
  if (number === user.securityInfo?.officePhone) return 'security_info.phone_is_office';
  return { value: number };
}
