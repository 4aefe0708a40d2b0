// Whether an account can get back in by itself, judged from the admin CLI as the recovery judges it: the methods it
// registered that the running server offers (calls only where it places them), against what the policy, the
// account's role or a lockdown requires.
import type { User } from '../accounts/user-model.ts';
import { recoveryMethods, type MethodRegistration } from '../flows/recovery/subject.ts';
import { emailMethod } from '../methods/email.ts';
import { smsMethod } from '../methods/sms.ts';
import { callMobileMethod, callOfficeMethod } from '../methods/call.ts';
import { hasAuthenticator } from '../methods/totp.ts';
import { appNotificationMethod } from '../methods/app-notification.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { AdminSession } from './session.ts';

/** How the recovery tells whether a method is registered and reachable: all the judgement needs of a method. */
const registrations = (calls: boolean): MethodRegistration[] => [
  emailMethod,
  smsMethod,
  ...(calls ? [callMobileMethod, callOfficeMethod] : []),
  appNotificationMethod,
  { id: 'totp', isRegistered: hasAuthenticator, strong: true },
];

/** Whether the server, configured as this command's environment says, places calls (else it offers no call method). */
export function placesCalls(session: AdminSession): boolean {
  try {
    return session.config().delivery.voice.provider !== 'none';
  } catch {
    return true; // an environment the server would not start with: the policy alone is judged
  }
}

/**
 * Whether `user` can recover by itself under `policy` (`calls`: whether the server places calls). A disabled account
 * cannot: its recovery walks the decoy pages.
 */
export function ableToRecover(user: User, policy: RecoveryPolicy, calls: boolean): boolean {
  return user.status === 'active' && recoveryMethods(user, registrations(calls), policy).able;
}

/**
 * The note an administrator's change ends with when it leaves `after` unable to recover by themselves, where `before`
 * could (fewer methods, or a role that asks for more); undefined otherwise. `policy.show` warns likewise of a policy.
 */
export function strandedNote(before: User, after: User, policy: RecoveryPolicy, calls: boolean): string | undefined {
  if (!ableToRecover(before, policy, calls) || ableToRecover(after, policy, calls)) return undefined;
  return (
    `note: ${after.username} can no longer get back in by themselves: their methods are now too few for what the policy ` +
    'asks of the account (methodsRequired, two for an administrator). Register more with users set-methods, or they will need your set-password.'
  );
}
