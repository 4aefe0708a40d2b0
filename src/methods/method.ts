// One interface for every verification method (ARCHITECTURE.md: methods are strategies). A method decides what a
// proof is; it knows no flow and sends nothing itself: a method that proves possession of a mailbox or a phone
// says where a code goes and what the message says, and the flow stores, sends and checks that code. A method
// whose code the user already holds (an authenticator app) checks it itself.
//
// A call ("Call my mobile phone", "Call my office phone") is a method of kind 'confirmation': its delivery places
// the call, the page shows a short number, and the proof is the callee pressing that number on the phone's keypad,
// which the voice provider posts back (flows/recovery/call-answers.ts); the page then moves on.
import type { User } from '../accounts/user-model.ts';
import type { MethodId, RecoveryPolicy } from '../policy/policy.ts';
import type { Translate } from '../http/i18n.ts';
import type { ChannelName, MessageContent } from '../delivery/channel.ts';

export type DestinationCheck = 'match' | 'mismatch' | 'invalid' | 'country_refused';

/** A held code (an authenticator's) checked: right, wrong, or right but accepted already (a replay, a double click). */
export type HeldCodeCheck = 'right' | 'wrong' | 'used';

export interface OutgoingMessage extends MessageContent {
  channel: ChannelName;
}

export interface ComposeContext {
  t: Translate;
  /** The language `t` speaks. */
  locale: string;
  /** The issuer's domain (no port), for the origin-bound SMS line (`@host #code`). */
  host: string;
  /** How long the code lasts, in words of `locale` ("10 minutes", "30 seconds"). */
  expiresIn: string;
  /** The service's name (BRAND_NAME), which a call says first. */
  service: string;
  /** A call: where its answer goes (flows/recovery/call-answers.ts). */
  answerUrl: string;
}

export interface CodeDelivery {
  /** Where the code goes (the full address or number, never shown). */
  destination(user: User): { channel: OutgoingMessage['channel']; to: string };
  /** A destination of the right form for a decoy's pretended send (stored, never sent). */
  readonly decoyDestination: string;
  compose(code: string, to: string, context: ComposeContext): OutgoingMessage;
}

export interface VerificationMethod {
  readonly id: MethodId;
  /** 'code': the user types a code. 'confirmation' (a call): the flow waits for the keys pressed on the phone. */
  readonly kind: 'code' | 'confirmation';
  /** A phone or an authenticator proves more than a mailbox: see the flow's "never weaker than sign-in" rule. */
  readonly strong: boolean;
  isRegistered(user: User): boolean;
  /**
   * What the user registered for this method (the address, the number, the sealed seed): the authenticator whose
   * wrong proofs in a row are counted together (security/proof-ceiling.ts), so that a new one starts afresh.
   */
  authenticator(user: User): string;
  /**
   * Whether the policy lets this method reach what the user registered (a text message: the number's country is
   * allowed). A method that cannot reach it is not offered, as if not registered; absent means always.
   */
  reachable?(user: User, policy: RecoveryPolicy): boolean;
  /** The masked hint the pages show. */
  hint(user: User): string;
  /** A stable, plausible hint for an identifier that has no account (decoy flows), from a keyed hash. */
  decoyHint(seed: Buffer): string;
  /**
   * Methods that send to a phone first ask for the complete number and compare it (set for SMS). Only 'match' depends
   * on the account: every other answer is judged from the typed number alone, so it tells nothing of accounts
   * (without a user, a decoy, it answers as for an account whose number the typed one is not).
   */
  matchDestination?(user: User | undefined, typed: string, policy: RecoveryPolicy): DestinationCheck;
  /**
   * What can be said of a typed destination without any account (too short to be a number, or in a country the
   * policy refuses): answered before a try of the proof budget is spent, since it compares nothing.
   */
  judgeTyped?(typed: string, policy: RecoveryPolicy): Exclude<DestinationCheck, 'match' | 'mismatch'> | undefined;
  /** Methods that send a code: how. */
  delivery?: CodeDelivery;
  /**
   * Methods whose code the user holds (TOTP): the check, each code accepted once ('used': a right code accepted
   * before, or one older than a code accepted). Without a user (a decoy) it does the same work against a secret
   * nobody holds, and answers 'wrong'.
   */
  verifyHeld?(user: User | undefined, code: string): Promise<HeldCodeCheck>;
  /**
   * Whether this server can check the user's proof at all (an authenticator's seed it can decrypt): false only when
   * the server is misconfigured, and then nothing is spent or compared. Always true without a user (a decoy).
   */
  checkable?(user: User | undefined): boolean;
}
