// Security info at sign-in (SPEC: users "register and manage their security info"; the policy's "registration
// required at sign-in and re-confirmation after N days"). With `registration.atSignIn` on, a sign-in whose password
// was right stops, before the interaction records it, at a page listing the person's verification methods when
// - the account could not recover by itself (fewer methods than it needs: recoveryMethods' `able`), or
// - the info was last confirmed more than `reconfirmDays` ago.
// There the person adds, changes or removes what they can prove as they add it (an alternate email and a mobile
// phone by a code sent to them, an authenticator app by a code from it), and "Looks good" completes the sign-in.
// The page is an interaction step (interaction-steps.ts): the right password, in this browser, within its time.
import type { Connection } from 'mongoose';
import type { User } from '../accounts/user-model.ts';
import type { VerificationMethod } from '../methods/method.ts';
import type { MethodId, RecoveryPolicy } from '../policy/policy.ts';
import { recoveryMethods } from '../flows/recovery/subject.ts';
import { createInteractionSteps, type InteractionSteps } from './interaction-steps.ts';

export const SECURITY_INFO_STEPS = 'security_info_steps';
/** Long enough to open a mailbox or install an authenticator app; then the person signs in again. */
const LIFETIME_MS = 30 * 60_000;
const DAY_MS = 24 * 3600_000;

/** What a person registers themselves, and the method that proves it as it is added (and later recovers with it). */
export const SELF_SERVICE = { alternateEmail: 'email', mobilePhone: 'sms', authenticator: 'totp' } as const satisfies Record<string, MethodId>;
export type SelfService = keyof typeof SELF_SERVICE;
export const SELF_SERVICE_KINDS = Object.keys(SELF_SERVICE) as SelfService[];

/** What is being added while its proof is awaited: where a code went, or the new app's sealed seed. */
export type Enrolment = { kind: 'alternateEmail' | 'mobilePhone'; value: string; challengeId: string } | { kind: 'authenticator'; sealed: string };

export type SecurityInfoSteps = InteractionSteps<Enrolment>;

export function createSecurityInfoSteps(connection: Connection, { secureCookies, clock = Date.now }: { secureCookies: boolean; clock?: () => number }): SecurityInfoSteps {
  return createInteractionSteps<Enrolment>(connection, { collection: SECURITY_INFO_STEPS, cookie: 'lk_security_info', lifetimeMs: LIFETIME_MS, secureCookies, clock });
}

/** What the page lets a person register under `policy`: the methods enabled that this server has. */
export function manageable(methods: readonly VerificationMethod[], policy: RecoveryPolicy): SelfService[] {
  return SELF_SERVICE_KINDS.filter((kind) => policy.methodsEnabled.includes(SELF_SERVICE[kind]) && methods.some((m) => m.id === SELF_SERVICE[kind]));
}

/** The account as it would be with everything the page offers registered. */
function withEverything(user: User, kinds: SelfService[]): User {
  const info = { ...user.securityInfo };
  for (const kind of kinds) {
    if (kind === 'authenticator') info.authenticator = { totpSecret: 'registered' };
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
    // Reachability aside (a phone yet to be typed is in an allowed country), could the page make it able? If not
    // (say only office phones, which an administrator registers, count), asking would only stop the person here.
    const unreachable = methods.map(({ reachable: _, ...method }) => method);
    return recoveryMethods(withEverything(user, manageable(methods, policy)), unreachable, policy).able ? 'register' : undefined;
  }
  const confirmedAt = user.securityInfo?.confirmedAt ? new Date(user.securityInfo.confirmedAt).getTime() : undefined;
  if (reconfirmDays > 0 && (confirmedAt === undefined || now - confirmedAt >= reconfirmDays * DAY_MS)) return 'reconfirm';
  return undefined;
}
