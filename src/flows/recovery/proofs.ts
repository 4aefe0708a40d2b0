// What a proof in a recovery flow is bound to: the authenticator it was made with (an address, a number, a seed) and
// the account's last revocation. A proof stands only while both are unchanged (`standingProofs`).
import { createHash } from 'node:crypto';
import type { VerificationMethod } from '../../methods/method.ts';
import type { FlowDoc } from './store.ts';
import type { Subject } from './subject.ts';

/** What the subject registered for `method`, whose wrong proofs are counted together; nothing for a decoy. */
export const authenticatorOf = (subject: Subject, method: VerificationMethod) => (subject.user ? method.authenticator(subject.user) : '');

/**
 * The hash a code or a proof keeps of the authenticator it is for (now registered) and of the account's last
 * revocation, salted with the flow (a phone number alone is quickly guessed).
 */
export const fingerprint = (flow: FlowDoc, subject: Subject, method: VerificationMethod) => {
  const revokedAt = subject.user?.revokedAt ? new Date(subject.user.revokedAt).getTime() : '';
  return createHash('sha256').update(`${flow._id}\u0000${method.id}\u0000${authenticatorOf(subject, method)}\u0000${revokedAt}`).digest('base64url');
};

/**
 * The flow's proofs that still stand: each method still registered, with the authenticator it was proved with, and
 * no revocation of the account since. A phone removed or replaced (a SIM swap reported to the helpdesk), an address
 * or a seed changed after its code was accepted no longer proves anything here; nor does any proof once the
 * account's password was reset (by an administrator, its owner at sign-in, another recovery), or the account locked
 * down or disabled: a code seen over a shoulder or intercepted must not outlive the reset that answered it. A code
 * sent before a revocation is void alike (its `sentTo`).
 */
export function standingProofs(flow: FlowDoc, subject: Subject, methods: VerificationMethod[]): Pick<FlowDoc, 'verified' | 'provedWith'> {
  const verified = flow.verified.filter((id) => {
    const method = methods.find((m) => m.id === id);
    return method && subject.registered.includes(id) && flow.provedWith?.[id] === fingerprint(flow, subject, method);
  });
  return { verified, provedWith: Object.fromEntries(verified.map((id) => [id, flow.provedWith![id]!])) };
}
