// The recovery flow's states and the only transitions between them. Every handler names the state it expects
// and the transition it performs; `nextState` is the whole rule book.
//
// ```mermaid
// stateDiagram-v2
//   [*] --> goal: identify (identifier + CAPTCHA) creates the flow
//   goal --> verify: choose reset or unlock
//   verify --> verify: choose a method / confirm the phone number / send or resend a code
//   verify --> verify: a proof accepted, another one needed (step 2)
//   verify --> password: proofs complete, goal reset
//   verify --> unlock: proofs complete, goal unlock (goal reset instead when the account is locked down)
//   password --> done: new password accepted
//   unlock --> done: unlock confirmed
//   password --> verify: the proofs no longer suffice (a reset elsewhere or a lockdown voided them, an authenticator
//                        was replaced, or the account was made an admin since the flow began)
//   unlock --> verify: likewise
//   goal --> [*]: cancel
//   verify --> [*]: cancel
//   password --> [*]: cancel
//   unlock --> [*]: cancel
//   done --> [*]: expiry (15 minutes after the start, or after the last "I need more time": store.ts)
// ```
//
// Inside `verify`, `pending` says where the user is: no method chosen yet; a method chosen whose destination must be
// confirmed first (the complete phone number); or a code to enter (sent, or held in an authenticator app).
import type { MethodId } from '../../policy/policy.ts';

export type FlowState = 'goal' | 'verify' | 'password' | 'unlock' | 'done';
export type Goal = 'reset' | 'unlock';

export type Transition =
  | { kind: 'choose_goal'; goal: Goal }
  | { kind: 'choose_method'; method: MethodId }
  | { kind: 'code_sent'; challengeId: string }
  | { kind: 'proof_accepted'; method: MethodId; complete: boolean }
  | { kind: 'more_proof_needed' }
  | { kind: 'finished' };

/** Which state a transition may start from, and where it leads. */
export function nextState(from: FlowState, transition: Transition, goal: Goal | undefined): FlowState | undefined {
  switch (transition.kind) {
    case 'choose_goal':
      return from === 'goal' ? 'verify' : undefined;
    case 'choose_method':
    case 'code_sent':
      return from === 'verify' ? 'verify' : undefined;
    case 'proof_accepted':
      if (from !== 'verify') return undefined;
      if (!transition.complete) return 'verify';
      return goal === 'unlock' ? 'unlock' : 'password';
    case 'more_proof_needed':
      return from === 'password' || from === 'unlock' ? 'verify' : undefined;
    case 'finished':
      return from === 'password' || from === 'unlock' ? 'done' : undefined;
  }
}
