// The security info page of a sign-in (security-info.ts says when it is shown). Its forms live below the
// interaction, as the sign-in's do:
//   POST security-info/add     a method to add or change: the address or number typed (a code goes to it), or a new
//                              authenticator app (its QR code is shown)
//   POST security-info/verify  the code that proves it: only then is it registered, and the owner told
//   POST security-info/back    leaves an addition unfinished
//   POST security-info/remove  a method removed, unless the account needs it to recover
//   POST security-info/done    "Looks good": the info confirmed, and the sign-in recorded
// Every change is told to the owner on the contacts registered before it, with the "This wasn't me" link, and
// audited: a stolen password is enough to reach this page, and adding one's own phone is what an attacker would do.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { generateURI } from 'otplib';
import QRCode from 'qrcode';
import { z } from 'zod';
import type { Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import type { AuditLog } from '../audit/audit.ts';
import type { Config } from '../../config/index.ts';
import { FlowExpiredError } from '../errors.ts';
import type { AppContext } from '../http/context.ts';
import { durationText } from '../http/i18n.ts';
import type { MessageId } from '../http/messages/en.ts';
import { renderPage } from '../http/render.ts';
import { isEmailAddress, MAX_EMAIL_LENGTH } from '../methods/email.ts';
import type { OutgoingMessage, VerificationMethod } from '../methods/method.ts';
import { countryAllowed, normalizePhone } from '../methods/sms.ts';
import { newAuthenticator, TOTP_DIGITS } from '../methods/totp.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { Challenges } from '../security/challenges.ts';
import type { SecretBox } from '../security/encryption.ts';
import type { Limits } from '../security/limits.ts';
import type { MethodChange, Notifier } from '../flows/recovery/notices.ts';
import { accountKeyOf, recoveryMethods } from '../flows/recovery/subject.ts';
import { manageable, securityInfoDue, SELF_SERVICE, type Enrolment, type SecurityInfoSteps, type SelfService } from './security-info.ts';
import type { PendingStep } from './interaction-steps.ts';

export interface SecurityInfoDeps {
  steps: SecurityInfoSteps;
  methods: VerificationMethod[];
  challenges: Challenges;
  limits: Limits;
  enqueue(message: OutgoingMessage & { sendBefore?: Date }): Promise<unknown>;
  notifier: Pick<Notifier, 'notifyMethodsChanged'>;
  /** Seals a new authenticator's seed (DATA_ENCRYPTION_KEY). */
  box: SecretBox;
}

/** What the sign-in's routes lend the page: the interaction, its forms, and the sign-in's end. */
export interface InteractionKit {
  config: Config;
  accounts: Pick<Accounts, 'findById' | 'findAgain' | 'setSecurityInfo' | 'confirmSecurityInfo'>;
  policy: { current(): Promise<RecoveryPolicy> };
  audit: Pick<AuditLog, 'record'>;
  clock: () => number;
  /** The interaction of the URL, asserted to be at the login prompt. */
  loadLogin(ctx: Context): Promise<{ uid: string }>;
  readValidForm<T>(ctx: Context, schema: z.ZodType<T>, uid: string): Promise<T>;
  csrfToken(ctx: Context, uid: string): string;
  /** The account whose step this is, while its sign-in still stands (no administrator's action since the password). */
  accountOfStep(step: PendingStep<unknown>, again?: boolean): Promise<User | undefined>;
  signedIn(ctx: Context, user: User, checkedAtMs: number): Promise<void>;
  backToSignIn(ctx: Context, uid: string): void;
}

const kindField = z.enum(['alternateEmail', 'mobilePhone', 'authenticator']);
const addForm = z.object({ csrf: z.string(), kind: kindField, value: z.string().max(MAX_EMAIL_LENGTH).optional() });
const verifyForm = z.object({ csrf: z.string(), code: z.string().max(32) });
const removeForm = z.object({ csrf: z.string(), kind: kindField });
const csrfOnly = z.object({ csrf: z.string() });

/** What the page shows besides the list: the form to type an address or number, or the proof an addition awaits. */
type View = { kind: SelfService; typing: true; value?: string } | { enrolment: Enrolment };

/** The notice's name for a change of `kind`. */
function changeOf(kind: SelfService, to: string | null): MethodChange {
  if (kind === 'authenticator') return { method: 'authenticator', registered: to !== null };
  return { method: kind === 'alternateEmail' ? 'alternate_email' : 'mobile_phone', to };
}

/** What the page lists of `user` for `kind`: the registered value in full (it is the owner's, signed in), or nothing. */
function registeredValue(user: User, kind: SelfService | 'officePhone'): string | undefined {
  if (kind === 'authenticator') return user.securityInfo.authenticator?.totpSecret ? 'registered' : undefined;
  return user.securityInfo[kind];
}

export function securityInfoRoutes(router: Router, deps: SecurityInfoDeps, kit: InteractionKit) {
  const { steps, methods, challenges, limits, enqueue, notifier, box } = deps;
  const { config, accounts, policy, audit, clock } = kit;
  const issuer = config.brand.name;
  const purposeOf = (step: PendingStep<unknown>, enrolment: { kind: string; value: string }) => `security-info:${step.id}:${enrolment.kind}:${enrolment.value}`;

  /** The step of this browser's interaction and its account, or the sign-in page when there is none (any more). */
  async function current(ctx: Context, { again = false } = {}) {
    const { uid } = await kit.loadLogin(ctx);
    const step = await steps.pending(ctx, uid);
    const user = step && (await kit.accountOfStep(step, again));
    return { uid, step, user };
  }

  async function show(ctx: Context, uid: string, step: PendingStep<Enrolment>, user: User, extra: { view?: View; error?: MessageId; status?: number } = {}) {
    const rules = await policy.current();
    const kinds = manageable(methods, rules);
    const due = securityInfoDue(user, methods, rules, clock());
    const { able, required } = recoveryMethods(user, methods, rules);
    const enrolment = extra.view && 'enrolment' in extra.view ? extra.view.enrolment : step.state;
    const typing = extra.view && 'typing' in extra.view ? extra.view : undefined;
    let app: { qr: string; key: string } | undefined;
    if (!typing && enrolment?.kind === 'authenticator') {
      const secret = box.open(enrolment.sealed);
      const uri = generateURI({ issuer, label: user.email, secret });
      app = { qr: await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }), key: secret.replace(/(.{4})/g, '$1 ').trim() };
    }
    const office = rules.methodsEnabled.includes('call_office') && methods.some((m) => m.id === 'call_office') ? registeredValue(user, 'officePhone') : undefined;
    ctx.status = extra.status ?? 200;
    await renderPage(ctx, 'security-info', {
      titleId: 'security_info.title',
      uid,
      csrf: kit.csrfToken(ctx, uid),
      intro: due === 'register' ? 'security_info.intro_register' : 'security_info.intro_reconfirm',
      required,
      rows: kinds.map((kind) => ({ kind, value: registeredValue(user, kind), removable: !able || recoveryMethods(without(user, kind), methods, rules).able })),
      office,
      typing,
      enrolment: typing ? undefined : enrolment,
      app,
      codeDigits: enrolment?.kind === 'authenticator' ? TOTP_DIGITS : rules.codes.digits,
      error: extra.error,
    });
  }

  function without(user: User, kind: SelfService): User {
    const info = { ...user.securityInfo };
    if (kind === 'authenticator') delete info.authenticator;
    else delete info[kind];
    return { ...user, securityInfo: info };
  }

  const seeStep = (ctx: Context, uid: string) => {
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}`);
  };

  /** Registers what an enrolment proved, tells the owner on the contacts registered before, and audits it. */
  async function register(ctx: Context, step: PendingStep<Enrolment>, before: User, kind: SelfService, value: string | null) {
    const changes = kind === 'authenticator' ? { totpSecret: value } : { [kind]: value };
    await accounts.setSecurityInfo(before._id, changes);
    await steps.keep(step, undefined);
    const { locale, requestId } = (ctx as AppContext).state;
    await notifier.notifyMethodsChanged(before, [changeOf(kind, value)], locale);
    await audit.record({ type: 'security_info.changed', accountId: before._id, reason: 'owner', method: kind, ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, 200), supportCode: requestId });
    ctx.state.log.info({ event: 'security_info.changed', accountId: before._id, method: kind, change: value === null ? 'removed' : 'registered' }, 'security info changed by its owner');
  }

  /** Shows the step's page: for GET /interaction/:uid when a step is pending (true), else false. */
  async function showPending(ctx: Context, uid: string): Promise<boolean> {
    const step = await steps.pending(ctx, uid);
    const user = step && (await kit.accountOfStep(step));
    if (!user) return false;
    await show(ctx, uid, step!, user);
    return true;
  }

  /**
   * After a right password: the page, when the policy asks for it of this account (true: the step has begun), or
   * nothing (false: the caller records the sign-in).
   */
  async function begin(ctx: Context, uid: string, user: User, checkedAtMs: number): Promise<boolean> {
    if (!securityInfoDue(user, methods, await policy.current(), clock())) return false;
    await steps.start(ctx, uid, user._id, new Date(checkedAtMs));
    seeStep(ctx, uid);
    return true;
  }

  router.post('/security-info/add', async (ctx) => {
    const { uid, step, user } = await current(ctx);
    const form = await kit.readValidForm(ctx, addForm, uid);
    if (!step || !user) return kit.backToSignIn(ctx, uid);
    const rules = await policy.current();
    if (!manageable(methods, rules).includes(form.kind)) return show(ctx, uid, step, user, { error: 'security_info.unavailable', status: 400 });
    if (step.state?.kind === 'alternateEmail' || step.state?.kind === 'mobilePhone') await challenges.discard(step.state.challengeId);
    if (form.kind === 'authenticator') {
      const { sealed } = newAuthenticator(box, { issuer, label: user.email });
      await steps.keep(step, { kind: 'authenticator', sealed });
      return seeStep(ctx, uid);
    }
    // "Set it up" or "Change": the field to type it in.
    if (form.value === undefined) {
      await steps.keep(step, undefined);
      return show(ctx, uid, { ...step, state: undefined }, user, { view: { kind: form.kind, typing: true } });
    }
    const typed = form.value.trim();
    const refusal = judgeTyped(form.kind, typed, user, rules);
    const typing: View = { kind: form.kind, typing: true, value: typed };
    if (typeof refusal === 'string') return show(ctx, uid, step, user, { view: typing, error: refusal, status: 400 });
    const value = refusal.value;
    const verdict = await limits.allowSend({ accountKey: accountKeyOf(user._id), destination: value, ip: ctx.ip }, rules);
    if (!verdict.allowed) {
      await audit.record({ type: 'code.refused', accountId: user._id, method: SELF_SERVICE[form.kind], reason: verdict.reason, ip: ctx.ip });
      return show(ctx, uid, step, user, { view: typing, error: 'security_info.send_refused', status: 429 });
    }
    const enrolment = { kind: form.kind, value };
    const challenge = await challenges.create(purposeOf(step, enrolment), rules.codes.digits, rules.codes.lifetimeSeconds);
    const method = methods.find((m) => m.id === SELF_SERVICE[form.kind])!;
    const { t, locale } = (ctx as AppContext).state;
    const host = new URL(config.issuer).hostname;
    const message = method.delivery!.compose(challenge.code, value, { t, locale, host, expiresIn: durationText(rules.codes.lifetimeSeconds, locale), service: issuer, answerUrl: '' });
    await enqueue({ ...message, sendBefore: challenge.expiresAt });
    await audit.record({ type: 'code.sent', accountId: user._id, method: method.id, reason: 'security_info', ip: ctx.ip });
    await steps.keep(step, { ...enrolment, challengeId: challenge.id });
    seeStep(ctx, uid);
  });

  router.post('/security-info/verify', async (ctx) => {
    const { uid, step, user } = await current(ctx);
    const form = await kit.readValidForm(ctx, verifyForm, uid);
    if (!step || !user) return kit.backToSignIn(ctx, uid);
    const enrolment = step.state;
    if (!enrolment) return seeStep(ctx, uid); // finished or left meanwhile (another tab): the list as it is now
    const rules = await policy.current();
    if (enrolment.kind === 'authenticator') {
      // A wrong code from a new app is mostly a phone's clock or a code typed late; its tries are counted all the same.
      const tried = await limits.takeCodeTry(`security-info:${step.id}:${enrolment.sealed.slice(-24)}`, rules);
      const totp = methods.find((m) => m.id === 'totp')!;
      const withApp = { ...user, securityInfo: { ...user.securityInfo, authenticator: { totpSecret: enrolment.sealed } } };
      if (!tried.allowed) return abandon(ctx, step, user, 'security_info.code_used_up');
      if (!(await totp.verifyHeld!(withApp, form.code.replace(/\s/g, '')))) return show(ctx, uid, step, user, { error: 'security_info.app_code_wrong', status: 400 });
      await register(ctx, step, user, 'authenticator', enrolment.sealed);
      return seeStep(ctx, uid);
    }
    const tried = await limits.takeCodeTry(enrolment.challengeId, rules);
    if (!tried.allowed) {
      await challenges.discard(enrolment.challengeId);
      return abandon(ctx, step, user, 'security_info.code_used_up');
    }
    const outcome = await challenges.check(enrolment.challengeId, purposeOf(step, enrolment), form.code);
    if (outcome === 'wrong') return show(ctx, uid, step, user, { error: 'security_info.code_wrong', status: 400 });
    if (outcome === 'expired') return abandon(ctx, step, user, 'security_info.code_expired');
    await register(ctx, step, user, enrolment.kind, enrolment.value);
    seeStep(ctx, uid);
  });

  /** An addition that can no longer be proved: forgotten, and the list shown with why. */
  async function abandon(ctx: Context, step: PendingStep<Enrolment>, user: User, error: MessageId) {
    await steps.keep(step, undefined);
    const { uid } = await kit.loadLogin(ctx);
    return show(ctx, uid, { ...step, state: undefined }, user, { error, status: 400 });
  }

  router.post('/security-info/back', async (ctx) => {
    const { uid, step, user } = await current(ctx);
    await kit.readValidForm(ctx, csrfOnly, uid);
    if (!step || !user) return kit.backToSignIn(ctx, uid);
    if (step.state?.kind === 'alternateEmail' || step.state?.kind === 'mobilePhone') await challenges.discard(step.state.challengeId);
    await steps.keep(step, undefined);
    seeStep(ctx, uid);
  });

  router.post('/security-info/remove', async (ctx) => {
    const { uid, step, user } = await current(ctx, { again: true });
    const form = await kit.readValidForm(ctx, removeForm, uid);
    if (!step || !user) return kit.backToSignIn(ctx, uid);
    const rules = await policy.current();
    if (!registeredValue(user, form.kind)) return seeStep(ctx, uid); // removed already (another tab)
    // Never below what the account needs to recover by itself, once it can.
    if (recoveryMethods(user, methods, rules).able && !recoveryMethods(without(user, form.kind), methods, rules).able) {
      return show(ctx, uid, step, user, { error: 'security_info.remove_refused', status: 400 });
    }
    await register(ctx, step, user, form.kind, null);
    seeStep(ctx, uid);
  });

  router.post('/security-info/done', async (ctx) => {
    const { uid, step, user } = await current(ctx, { again: true });
    await kit.readValidForm(ctx, csrfOnly, uid);
    if (!step || !user) return kit.backToSignIn(ctx, uid);
    if (securityInfoDue(user, methods, await policy.current(), clock()) === 'register') return show(ctx, uid, step, user, { error: 'security_info.not_enough', status: 400 });
    // Used once, by one of any parallel posts: only that one signs in.
    if (!(await steps.finish(ctx, uid))) throw new FlowExpiredError('the security info step was used already');
    await accounts.confirmSecurityInfo(user._id, new Date(clock()));
    await kit.signedIn(ctx, user, step.startedAt.getTime());
  });

  return { begin, showPending };
}

/** A typed address or number as it will be stored, or why it is refused (before any limit is spent). */
function judgeTyped(kind: 'alternateEmail' | 'mobilePhone', typed: string, user: User, policy: RecoveryPolicy): MessageId | { value: string } {
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
  return { value: number };
}
