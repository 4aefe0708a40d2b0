// Who a recovery is about, in one shape for a real account and for a decoy. An identifier with no account, or
// with fewer registered methods than the policy requires, gets a decoy: stable, plausible hints derived from a keyed
// hash of the identifier, the same pages and the same work, nothing ever sent, and every code failing like a wrong
// one. So the recovery pages cannot be used to learn which accounts exist or what they registered.
import type { User } from '../../accounts/user-model.ts';
import type { VerificationMethod } from '../../methods/method.ts';
import { METHOD_REGISTRATION, requiredMethodCount, type MethodId, type RecoveryPolicy } from '../../policy/policy.ts';

export interface Subject {
  /** The real account, absent for a decoy. */
  user?: User;
  /** Keyed hash of the identifier: limits and decoy hints of this subject derive from it. */
  key: Buffer;
  /** Registered methods the policy enables and lets reach the user, in the policy's order. */
  registered: MethodId[];
  hints: Partial<Record<MethodId, string>>;
  required: 1 | 2;
  /** Whether one of the proofs must be a strong method (see proofsComplete). */
  needsStrong: boolean;
}

/** The account key that per-account limits use: the account for a real subject, its identifier hash for a decoy. */
export function accountKey(subject: { user?: Pick<User, '_id'> | undefined; key: Buffer }): string {
  return subject.user ? accountKeyOf(subject.user._id) : `decoy:${subject.key.toString('hex')}`;
}

/** The account key of a flow's subject, known from the flow alone (before its account is read). */
export const flowAccountKey = (flow: { accountId?: string; subjectKey: string }) =>
  accountKey({ ...(flow.accountId && { user: { _id: flow.accountId } }), key: Buffer.from(flow.subjectKey, 'hex') });

/** A real account's key, by its id alone (the admin CLI's `users unlock` names an account so). */
export const accountKeyOf = (accountId: string) => `account:${accountId}`;

/** What a method uses of the account (methods that share it, a text and a call to one phone, count as one). */
export const registrationOf = (method: Pick<VerificationMethod, 'id'>) => METHOD_REGISTRATION[method.id];

/** How many different things of the account (`registrationOf`) these methods use. */
const distinctRegistrations = (ids: readonly MethodId[]) => new Set(ids.map((id) => METHOD_REGISTRATION[id])).size;

function decoy(key: Buffer, methods: VerificationMethod[], policy: RecoveryPolicy): Subject {
  const enabled = methods.filter((m) => policy.methodsEnabled.includes(m.id));
  // Any mix a real account may have registered: each thing the enabled methods use (an address, a phone, an app) by
  // a bit of the hash (one chosen by the hash when no bit is set), then enough added to meet the requirement; all
  // the methods of what is picked, as a real account has them (a text to a mobile phone and a call to it alike), in
  // the policy's order.
  const registrations = [...new Set(enabled.map(registrationOf))];
  const picked = new Set(registrations.filter((_, i) => key[8 + i]! % 2 === 0));
  if (picked.size === 0 && registrations.length > 0) picked.add(registrations[key[7]! % registrations.length]!);
  for (const r of registrations) if (picked.size < policy.methodsRequired) picked.add(r);
  const chosen = enabled.filter((m) => picked.has(registrationOf(m)));
  return {
    key,
    registered: chosen.map((m) => m.id),
    hints: Object.fromEntries(chosen.map((m) => [m.id, m.decoyHint(key)])),
    required: policy.methodsRequired,
    needsStrong: chosen.some((m) => m.strong),
  };
}

/** The proofs a locked-down account's recovery takes, whatever the policy says (and what ends the lockdown). */
export const LOCKDOWN_PROOFS = 2;

/** What a method is asked to tell whether an account can recover with it. */
export type MethodRegistration = Pick<VerificationMethod, 'id' | 'isRegistered' | 'reachable' | 'strong'>;

/**
 * The methods `user` can recover with under `policy` (registered, enabled, reachable), how many it needs, whether one
 * must be strong, and so whether it can recover by itself at all.
 */
export function recoveryMethods<M extends MethodRegistration>(user: User, methods: readonly M[], policy: RecoveryPolicy) {
  const enabled = methods.filter((m) => policy.methodsEnabled.includes(m.id) && m.isRegistered(user));
  const usable = enabled.filter((m) => m.reachable?.(user, policy) ?? true);
  // An account locked down after "This wasn't me" needs the full number of methods.
  const required = user.lockedDownAt ? LOCKDOWN_PROOFS : requiredMethodCount(policy, user.roles);
  // Never weaker than what the account registered: a phone whose country the policy no longer texts still makes the
  // mailbox alone too little (narrowing the countries must not quietly weaken accounts); the methods the policy
  // enables are the administrator's own choice of what counts.
  const needsStrong = enabled.some((m) => m.strong);
  const able = distinctRegistrations(usable.map((m) => m.id)) >= required && (!needsStrong || usable.some((m) => m.strong));
  return { usable, required: required as 1 | 2, needsStrong, able };
}

export function resolveSubject(user: User | null, key: Buffer, methods: VerificationMethod[], policy: RecoveryPolicy): Subject {
  if (!user || user.status !== 'active') return decoy(key, methods, policy);
  const { usable, required, needsStrong, able } = recoveryMethods(user, methods, policy);
  if (!able) return decoy(key, methods, policy);
  return { user, key, registered: usable.map((m) => m.id), hints: Object.fromEntries(usable.map((m) => [m.id, m.hint(user)])), required, needsStrong };
}

/**
 * Whether the verified methods are enough: the required number, and never weaker than sign-in — an account with a
 * phone or an authenticator registered cannot be recovered with its mailbox alone.
 */
export function proofsComplete(verified: MethodId[], subject: Pick<Subject, 'required' | 'needsStrong'>, methods: VerificationMethod[]): boolean {
  const strong = new Set(methods.filter((m) => m.strong).map((m) => m.id));
  return distinctRegistrations(verified) >= subject.required && (!subject.needsStrong || verified.some((id) => strong.has(id)));
}

/**
 * The methods the next step offers: registered, using nothing a proof already used (after a text to the mobile phone,
 * not a call to it), and strong ones only when only a strong one can finish.
 */
export function offeredMethods(verified: MethodId[], subject: Pick<Subject, 'registered' | 'required' | 'needsStrong'>, methods: VerificationMethod[]): MethodId[] {
  const used = new Set(verified.map((id) => METHOD_REGISTRATION[id]));
  const remaining = subject.registered.filter((id) => !used.has(METHOD_REGISTRATION[id]));
  const lastStep = verified.length + 1 >= subject.required;
  if (!lastStep) return remaining;
  const finishing = remaining.filter((id) => proofsComplete([...verified, id], subject, methods));
  // If no single method finishes now (a weak one first), any remaining one may still be a step towards it.
  return finishing.length ? (verified.length === 0 ? remaining : finishing) : remaining;
}
