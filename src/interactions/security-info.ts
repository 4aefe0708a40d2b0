// Security info at sign-in (SPEC: users "register and manage their security info"; the policy's "registration
// required at sign-in and re-confirmation after N days"). With `registration.atSignIn` on, a sign-in whose password
// was right stops, before the interaction records it, at a page listing the person's verification methods when
// - the account could not recover by itself (fewer methods than it needs: recoveryMethods' `able`), or
// - the info was last confirmed more than `reconfirmDays` ago.
// There the person adds, changes or removes what they can prove as they add it (an alternate email and a mobile
// phone by a code sent to them, an authenticator app by a code from it, an app's notifications by enrolling the app
// with a one-time link), and "Looks good" completes the sign-in.
// The page is an interaction step (interaction-steps.ts): the right password, in this browser, within its time.
//
// A password alone must not be enough to take an account over: whoever changes what the account recovers with
// owns it. So once the account has an alternate email, a mobile phone or an app registered (`lockedFor`), nothing
// on it changes until the person proves one of them in this step (`provable`: a code sent to it, or from the app);
// a method added in the step counts as proved. The proof must be one recovery would take alone: where a strong
// method is registered (a phone, an app), the mailbox's code opens nothing, or whoever reads the mailbox and knows
// the password could put their own phone in place of the owner's and then recover with it. Only an account with
// none of them adds its first methods with the password alone, as every registration must begin; its owner hears
// of it on the sign-in address.
import type { Connection } from 'mongoose';
import type { User } from '../accounts/user-model.ts';
import type { VerificationMethod } from '../methods/method.ts';
import type { MethodId, RecoveryPolicy } from '../policy/policy.ts';
import { recoveryMethods } from '../flows/recovery/subject.ts';
import { createInteractionSteps, type InteractionSteps, type StepOptions } from './interaction-steps.ts';

export const SECURITY_INFO_STEPS = 'security_info_steps';
/** Long enough to open a mailbox or install an authenticator app; then the person signs in again. */
const LIFETIME_MS = 30 * 60_000;
const DAY_MS = 24 * 3600_000;

/**
 * What a person registers themselves, and the method that proves it as it is added (and later recovers with it). An
 * app's device proves itself as it enrols (its key signs the enrolment: methods/app-devices.ts); it is never proved
 * on this page, which has no notification to wait for (`provable`).
 */
export const SELF_SERVICE = { alternateEmail: 'email', mobilePhone: 'sms', authenticator: 'totp', appDevice: 'app_notification' } as const satisfies Record<string, MethodId>;
export type SelfService = keyof typeof SELF_SERVICE;
export const SELF_SERVICE_KINDS = Object.keys(SELF_SERVICE) as SelfService[];

/**
 * What is being added while its proof is awaited: where a code went (and when), the new app's sealed seed, or the
 * sealed enrolment link an app opens, with its enrolment's id (methods/app-devices.ts) and when it stops working.
 */
export type Enrolment =
  | { kind: 'alternateEmail' | 'mobilePhone'; value: string; challengeId: string; sentAt?: number }
  | { kind: 'authenticator'; sealed: string }
  | { kind: 'appDevice'; sealedLink: string; enrolmentId: string; expiresAt: number };
/** A registered method whose proof is awaited: the code sent to it, or one from the app. */
export type Proving = { kind: 'alternateEmail' | 'mobilePhone'; challengeId: string } | { kind: 'authenticator' };

/** What the step keeps between the page's forms. */
export interface SecurityInfoState {
  adding?: Enrolment;
  proving?: Proving;
  /** A registered method was proved in this step, or one added: the methods may change. */
  proven?: true;
  /** New with every write of the state: a form's work is claimed once per state it was posted in (`once`). */
  rev?: string;
}

export type SecurityInfoSteps = InteractionSteps<SecurityInfoState>;

/** The steps of the page: a sign-in's by default; `cookie` and `pathOf` for the page opened outside one. */
export function createSecurityInfoSteps(connection: Connection, options: Pick<StepOptions, 'secureCookies' | 'clock' | 'pathOf'> & { cookie?: string }): SecurityInfoSteps {
  return createInteractionSteps<SecurityInfoState>(connection, { collection: SECURITY_INFO_STEPS, cookie: 'lk_security_info', lifetimeMs: LIFETIME_MS, ...options });
}

/** What the page lets a person register under `policy`: the methods enabled that this server has. */
export function manageable(methods: readonly VerificationMethod[], policy: RecoveryPolicy): SelfService[] {
  return SELF_SERVICE_KINDS.filter((kind) => policy.methodsEnabled.includes(SELF_SERVICE[kind]) && methods.some((m) => m.id === SELF_SERVICE[kind]));
}

/** What of `kind` the account has registered: the address, the number, the sealed seed, or nothing. */
export function registeredValue(user: User, kind: SelfService | 'officePhone'): string | undefined {
  if (kind === 'authenticator') return user.securityInfo?.authenticator?.totpSecret;
  if (kind === 'appDevice') return user.securityInfo?.appDevice?.id;
  return user.securityInfo?.[kind];
}

/**
 * Whether the methods are closed to changes until one is proved: the account has registered something the page
 * manages (whatever the policy says of it now) and nothing was proved in this step.
 */
export function lockedFor(user: User, state: SecurityInfoState | undefined): boolean {
  return !state?.proven && SELF_SERVICE_KINDS.some((kind) => registeredValue(user, kind) !== undefined);
}

/**
 * The registered methods a person can prove on the page (`kinds`: what it manages under `policy`), any one of which
 * opens the methods to changes: those the policy lets reach what is registered, and the server can check; and only
 * strong ones when the account has a strong method (recovery's rule for a proof alone: flows/recovery/subject.ts).
 */
export function provable(user: User, kinds: readonly SelfService[], methods: readonly VerificationMethod[], policy: RecoveryPolicy): SelfService[] {
  const { needsStrong } = recoveryMethods(user, methods, policy);
  return kinds.filter((kind) => {
    if (kind === 'appDevice') return false;
    const method = methods.find((m) => m.id === SELF_SERVICE[kind]);
    if (!method || (needsStrong && !method.strong)) return false;
    return registeredValue(user, kind) !== undefined && (method.reachable?.(user, policy) ?? true) && (method.checkable?.(user) ?? true);
  });
}

/** The account without `kind`: what a removal would leave. */
export function without(user: User, kind: SelfService): User {
  const info = { ...user.securityInfo };
  if (kind === 'authenticator') delete info.authenticator;
  else if (kind === 'appDevice') delete info.appDevice;
  else delete info[kind];
  return { ...user, securityInfo: info };
}

/**
 * Whether removing `kind` would leave methods registered none of which the page can prove (an app's device alone,
 * the mailbox beside a phone in a country no longer texted): its owner could then change nothing here again, only an
 * administrator could. A removal that leaves nothing registered strands nobody: the page then opens with the
 * password, as for a first method.
 */
export function removalStrands(user: User, kind: SelfService, kinds: readonly SelfService[], methods: readonly VerificationMethod[], policy: RecoveryPolicy): boolean {
  if (provable(user, kinds, methods, policy).length === 0) return false; // nothing the page could prove before either
  const left = without(user, kind);
  return SELF_SERVICE_KINDS.some((other) => registeredValue(left, other) !== undefined) && provable(left, kinds, methods, policy).length === 0;
}

/** The account as it would be with everything the page offers registered. */
function withEverything(user: User, kinds: SelfService[]): User {
  const info = { ...user.securityInfo };
  for (const kind of kinds) {
    if (kind === 'authenticator') info.authenticator = { totpSecret: 'registered' };
    else if (kind === 'appDevice') info.appDevice = { id: 'registered', name: '', registeredAt: new Date(0) };
    else info[kind] = 'registered';
  }
  return { ...user, securityInfo: info };
}

/**
 * Why the sign-in of `user` stops at the security info page, if it does: 'register' (it could not recover by
 * itself, and registering what the page offers would make it able to), or 'reconfirm' (able, but last confirmed too
 * long ago, or never).
 */
export function securityInfoDue(user: User, methods: readonly VerificationMethod[], policy: RecoveryPolicy, now: number): 'register' | 'reconfirm' | undefined {
  const { atSignIn, reconfirmDays } = policy.registration;
  if (!atSignIn) return undefined;
  if (!recoveryMethods(user, methods, policy).able) {
    // Closed to changes with nothing the page could prove (a registered phone in a country no longer texted, say):
    // nothing could be added, and asking would only stop the person here at every sign-in.
    if (lockedFor(user, undefined) && provable(user, manageable(methods, policy), methods, policy).length === 0) return undefined;
    // Reachability aside (a phone yet to be typed is in an allowed country), could the page make it able? If not
    // (say only office phones, which an administrator registers, count), asking would only stop the person here.
    const unreachable = methods.map(({ reachable: _, ...method }) => method);
    return recoveryMethods(withEverything(user, manageable(methods, policy)), unreachable, policy).able ? 'register' : undefined;
  }
  const confirmedAt = user.securityInfo?.confirmedAt ? new Date(user.securityInfo.confirmedAt).getTime() : undefined;
  if (reconfirmDays > 0 && (confirmedAt === undefined || now - confirmedAt >= reconfirmDays * DAY_MS)) return 'reconfirm';
  return undefined;
}
