// Recovery flow documents (`recovery_flows`, `_id` = flow id) and the one way they change: `advance`, which first
// claims the step (`<flowId>:<seq>` in `recovery_steps`; a unique insert, so of two tabs, two replays or two
// parallel posts of one step exactly one wins) and only then writes the next state. Nothing else moves a flow.
// Besides the state, only the flow's end changes: `extend` gives it more time (WCAG 2.2.1), a field of its own that
// a step never writes, so that neither write undoes the other.
//
// Those are two writes, and the database can fail (or the instance die) between them: the claim is then taken and
// the state never written, and every later post of the flow would lose the claim again. So the claim carries the
// state it leads to (a write-ahead record), and `load` finishes such a step: it writes that state, on whichever
// instance the browser comes back to. A finishing step (a new password, an unlock) claims without one, does its
// work, and only then writes `done`: its work may not have happened, so it is never rolled forward; once the
// request that claimed it is surely gone (FINISH_LOST_MS), the flow counts as ended and the person starts again.
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from '../../db/atomic.ts';
import type { MethodId } from '../../policy/policy.ts';
import { nextState, type FlowState, type Goal, type Transition } from './states.ts';

export const FLOWS = 'recovery_flows';
export const STEPS = 'recovery_steps';
/** A flow lives 15 minutes from its start, whatever happens in it (Entra SSPR's session length)... */
export const FLOW_SECONDS = 15 * 60;
/**
 * ...unless the person asks for more time as its end nears: each time, 15 minutes from then, up to ten times (WCAG
 * 2.2.1 "Timing Adjustable": warned, and allowed to extend at least ten times with a simple action). A longer flow
 * gives no more tries: codes keep their own life, and tries and sends are counted per account and per day.
 */
export const MAX_EXTENSIONS = 10;
/** The longest a flow can live, every extension asked at its last moment: what outlives the flow is kept that long. */
export const LONGEST_FLOW_SECONDS = FLOW_SECONDS * (1 + MAX_EXTENSIONS);
/**
 * A finishing step claimed this long ago whose `done` was never written was lost with its request: its work (argon2,
 * the revocation, the notices) takes seconds at most, and an in-flight one must not be taken for lost (a double click).
 */
export const FINISH_LOST_MS = 30_000;
/** How long a step's reservation (`reserve`) holds: far longer than a double click, short enough to retry after a failure. */
export const RESERVE_SECONDS = 10;

export interface Pending {
  method: MethodId;
  /** The complete phone number was typed and matched (methods that ask for it). */
  destinationConfirmed?: boolean;
  /** The code challenge sent for this method (code-sending methods). */
  challengeId?: string;
  /**
   * A hash of the destination that challenge's code went to (proofs.ts `fingerprint`): the code proves only that
   * one, and only while it is still the registered one (a number replaced after the send proves nothing).
   */
  sentTo?: string;
  /** A call: the number its page shows, to press on the phone's keypad (not secret from this browser: it asked). */
  number?: string;
  /** The limits refused the send and no earlier code is waiting: nothing went out ("Try again" sends one). */
  unsent?: true;
}

export interface FlowDoc {
  _id: string;
  /** SHA-256 of the secret in the browser's flow cookie: the flow answers only that browser. */
  binding: string;
  state: FlowState;
  /** Transitions so far; the next one claims `<_id>:<seq>`. */
  seq: number;
  goal?: Goal;
  /** Absent for a decoy flow (an identifier with no account, or too few methods). */
  accountId?: string;
  /** Keyed hash of the identifier (hex): decoy hints and limits of unknown identifiers derive from it. */
  subjectKey: string;
  required: 1 | 2;
  verified: MethodId[];
  /**
   * For each verified method, a hash of the authenticator it was proved with (the address, the number, the sealed
   * seed): a proof counts only while that same one is still registered (proofs.ts `standingProofs`).
   */
  provedWith?: Partial<Record<MethodId, string>>;
  pending?: Pending;
  /** The sign-in (oidc-provider interaction) the user came from, to return to it. */
  interactionUid?: string;
  /** Or the account page (its path) whose "Forgot your password?" began the flow: its door is the way back. */
  accountPage?: string;
  /**
   * The language that sign-in's relying party asked for (its ui_locales, one we have): the flow's pages, codes and
   * notices use it as the sign-in page did, below a language the person picks. Kept here, with the flow, rather than
   * in the language cookie, which would make the RP's request the person's own choice for a year.
   */
  uiLocale?: string;
  /**
   * A finished reset's: the account's revocation its new password was written with. A Finish posted after it is
   * compared only with that password, never with one chosen since (finish-routes.ts).
   */
  passwordSavedWith?: Date;
  createdAt: Date;
  /** The flow's end: FLOW_SECONDS from its start, or from its latest extension (`extend`). */
  expiresAt: Date;
  /** How many times the person asked for more time. */
  extensions?: number;
}

/** What a finishing step's work may add to the flow it finishes. */
export type WorkDone = Partial<Pick<FlowDoc, 'passwordSavedWith'>>;

export type NewFlow = Pick<FlowDoc, 'accountId' | 'subjectKey' | 'required' | 'interactionUid' | 'accountPage' | 'uiLocale'>;

/** The claim of a step: when it was taken, and the state it leads to (absent for a finishing step). */
interface StepClaim extends ExpiringDoc {
  claimedAt: Date;
  next?: FlowDoc;
}

export interface FlowStore {
  /** Creates a flow in state `goal`; returns it and the cookie secret that binds it to this browser. */
  create(fields: NewFlow): Promise<{ flow: FlowDoc; secret: string }>;
  /** The flow, when it exists, has not expired and `secret` is its browser's. */
  load(id: string, secret: string | undefined): Promise<FlowDoc | undefined>;
  /**
   * The flow, when it exists and has not expired, for a request that is not its browser's (a call's answer, posted by
   * the voice provider): to check what that request names, never to move the flow.
   */
  peek(id: string): Promise<FlowDoc | undefined>;
  /**
   * Performs `transition` from the state the caller read, with `changes`. Returns the new document, or undefined
   * when the step was already taken (a replay, a second tab) or is not legal from that state. `work`: what the step
   * does besides moving the flow (a finishing step's reset or unlock), run once the step is claimed and before the new
   * state is written, so that the flow never says it happened when it did not.
   */
  advance(flow: FlowDoc, transition: Transition, changes?: Partial<Pick<FlowDoc, 'goal' | 'verified' | 'provedWith' | 'pending'>>, work?: () => Promise<WorkDone | void>): Promise<FlowDoc | undefined>;
  /**
   * Reserves the step about to be taken from the state the caller read, for work done before `advance` that a
   * double-clicked button must not do twice (a code's send spends limits): true for one caller within the same
   * RESERVE_SECONDS stretch of the clock (two calls either side of its end both get one; `advance` still lets only
   * one take the step). The stretch, not the whole flow: a request that reserved and then failed (the database gone
   * for a moment) must not leave the step refused until the flow ends.
   */
  reserve(flow: FlowDoc): Promise<boolean>;
  /** Ends the flow now (cancel); true for the one caller that ended it. */
  end(flow: FlowDoc): Promise<boolean>;
  /**
   * Gives the flow FLOW_SECONDS from now, as asked while it runs (not once done), MAX_EXTENSIONS times at most; the
   * flow as extended, or undefined when it was not (the last extension used, another request took this one, or the
   * flow ended meanwhile: the flow as stored says what it is).
   */
  extend(flow: FlowDoc): Promise<FlowDoc | undefined>;
}

/** Whether the person may still ask for more time (`extend`). */
export const extendable = (flow: Pick<FlowDoc, 'state' | 'extensions'>): boolean => flow.state !== 'done' && (flow.extensions ?? 0) < MAX_EXTENSIONS;

/** The fields a step may remove from a flow (`writeState` unsets them). */
const DROPPABLE = ['pending'] as const satisfies ReadonlyArray<keyof FlowDoc>;

/** The latest the flow can end: what is kept for it (its step claims) is kept until then. */
const latestEnd = (flow: Pick<FlowDoc, 'createdAt'>) => new Date(flow.createdAt.getTime() + LONGEST_FLOW_SECONDS * 1000);

const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('base64url');

export function createFlowStore(connection: Connection, clock: () => number = Date.now): FlowStore {
  const flows = connection.db!.collection<FlowDoc>(FLOWS);
  const steps = connection.db!.collection<StepClaim>(STEPS);
  const stepClaims = connection.db!.collection<ExpiringDoc>(STEPS); // the same collection, as `claim` takes it

  /**
   * Writes `flow`'s state: every field but its end, which only `extend` writes (so that a step read before an
   * extension does not undo it), and without the fields a step may drop (`pending`: `advance`).
   */
  async function writeState(flow: FlowDoc) {
    const { _id, expiresAt: _end, extensions: _extensions, ...state } = flow;
    const dropped = DROPPABLE.filter((field) => flow[field] === undefined);
    await flows.updateOne({ _id }, { $set: state, ...(dropped.length && { $unset: Object.fromEntries(dropped.map((field) => [field, ''])) }) });
  }

  /**
   * The flow as its last claimed step left it: a step claimed but whose state was never written (see the header) is
   * written now. Undefined for a flow whose finishing step was lost. One read by `_id` when nothing is pending.
   */
  async function settle(flow: FlowDoc): Promise<FlowDoc | undefined> {
    const step = await steps.findOne({ _id: `${flow._id}:${flow.seq}` });
    if (!step) return flow;
    if (step.next) {
      // The same state the step's own request writes (if it is still running): writing it twice is harmless.
      await writeState(step.next);
      return settle({ ...step.next, expiresAt: flow.expiresAt, ...(flow.extensions && { extensions: flow.extensions }) });
    }
    return clock() - step.claimedAt.getTime() < FINISH_LOST_MS ? flow : undefined;
  }

  /**
   * Whether extension `key` (the flow's `extensions`th) was claimed by a request that died before writing it: claimed
   * longer ago than any request takes (FINISH_LOST_MS, as for a finishing step; an extension's own write takes
   * milliseconds), and the flow still short of it. Two requests that both find it so write the same count, each 15
   * minutes from its own moment.
   */
  async function lostExtension(key: string, flowId: string, extensions: number): Promise<boolean> {
    const [taken, stored] = await Promise.all([steps.findOne({ _id: key }), flows.findOne({ _id: flowId }, { projection: { extensions: 1 } })]);
    // (A claim from before claims carried their time is older than any request still running.)
    return Boolean(taken && stored) && clock() - (taken!.claimedAt?.getTime() ?? 0) >= FINISH_LOST_MS && (stored!.extensions ?? 0) < extensions;
  }

  return {
    async create(fields) {
      const secret = randomBytes(32).toString('base64url');
      const now = clock();
      const flow: FlowDoc = {
        _id: randomBytes(16).toString('base64url'),
        binding: hashSecret(secret),
        state: 'goal',
        seq: 0,
        verified: [],
        ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
        subjectKey: fields.subjectKey,
        required: fields.required,
        createdAt: new Date(now),
        expiresAt: new Date(now + FLOW_SECONDS * 1000),
      };
      await flows.insertOne(flow);
      return { flow, secret };
    },

    async load(id, secret) {
      if (!secret || !/^[\w-]{10,64}$/.test(id)) return undefined;
      const flow = await flows.findOne({ _id: id });
      if (!flow || flow.expiresAt.getTime() <= clock()) return undefined;
      return flow.binding === hashSecret(secret) ? settle(flow) : undefined;
    },

    async peek(id) {
      const flow = await flows.findOne({ _id: id });
      return flow && flow.expiresAt.getTime() > clock() ? settle(flow) : undefined;
    },

    async advance(flow, transition, changes = {}, work) {
      const state = nextState(flow.state, transition, changes.goal ?? flow.goal);
      if (!state) return undefined;
      const next: FlowDoc = { ...flow, ...changes, state, seq: flow.seq + 1 };
      if (!next.pending || (!('pending' in changes) && state !== 'verify')) delete next.pending;
      const record = { claimedAt: new Date(clock()), ...(!work && { next }) };
      // Kept as long as the flow may live: an extension after this claim must not outlive the record of its step.
      if (!(await claim(stepClaims, `${flow._id}:${flow.seq}`, latestEnd(flow), record))) return undefined;
      const done = { ...next, ...(await work?.()) };
      await writeState(done);
      return done;
    },

    async reserve(flow) {
      return claim(stepClaims, `${flow._id}:${flow.seq}:reserved:${Math.floor(clock() / (RESERVE_SECONDS * 1000))}`, latestEnd(flow));
    },

    async end(flow) {
      return consume(flows as never, flow._id);
    },

    async extend(flow) {
      if (!extendable(flow)) return undefined;
      // The count's own claim decides (two tabs asking at once get one extension between them): FerretDB cannot
      // compare and set the count. A claim whose request died before its write would hold the flow at that count
      // for good: once it is surely lost, a later request writes in its place.
      const extensions = (flow.extensions ?? 0) + 1;
      const key = `${flow._id}:extension:${extensions}`;
      if (!(await claim(stepClaims, key, latestEnd(flow), { claimedAt: new Date(clock()) })) && !(await lostExtension(key, flow._id, extensions))) return undefined;
      const expiresAt = new Date(clock() + FLOW_SECONDS * 1000);
      const written = await flows.updateOne({ _id: flow._id }, { $set: { expiresAt, extensions } });
      return written.matchedCount === 1 ? { ...flow, expiresAt, extensions } : undefined; // else ended meanwhile
    },
  };
}
