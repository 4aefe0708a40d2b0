// The finishing steps, once the proofs are in: a new password (the reset), or the unlock. Each is judged again on
// the account as stored now, and the flow says "done" only once its change is written.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { User } from '../../accounts/user-model.ts';
import { AccountChangedError, type PreparedPassword } from '../../accounts/users.ts';
import { MAX_PASSWORD_INPUT_LENGTH } from '../../accounts/passwords.ts';
import { PasswordRejectedError } from '../../accounts/password-rules.ts';
import type { AppContext } from '../../http/context.ts';
import type { RecoveryPolicy } from '../../policy/policy.ts';
import { csrfOnly } from '../../http/checked-form.ts';
import { runFollowUps } from '../follow-ups.ts';
import type { FlowKit } from './flow-kit.ts';
import { standingProofs } from './proofs.ts';
import type { RecoveryDeps } from './routes.ts';
import { LONGEST_FLOW_SECONDS, type FlowDoc } from './store.ts';
import { accountKeyOf, proofsComplete } from './subject.ts';

/**
 * How many late Finish posts of one done flow are compared with the password it saved (see `afterFinished`), within
 * the flow's whole life: a flow is never read past LONGEST_FLOW_SECONDS from its start (every extension taken), half
 * the budget's (staggered) window, and any half window holds at most this many.
 */
const LATE_FINISH_CHECKS = 5;

const passwordForm = z.object({ csrf: z.string(), password: z.string().max(MAX_PASSWORD_INPUT_LENGTH), confirm: z.string().max(MAX_PASSWORD_INPUT_LENGTH) });

export function finishRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps): void {
  const { accounts, policy, methods, ceiling } = deps;
  const { readValid, flowIn, showFlow, seeFlow, refuse, message, record, advance, subjectOf } = kit;

  /**
   * The account a finishing step (new password, unlock) acts on, once its proofs are still enough for it now; else
   * the page that says why nothing happened (and undefined). When the account now needs another proof, the flow
   * goes back to verification for it. `again`: the account read anew, though this request read it already.
   * `sameWork`: as for `advance`, when another request finished the flow meanwhile.
   */
  async function finishingAccount(
    ctx: Context,
    flow: FlowDoc,
    current: RecoveryPolicy,
    { again = false, sameWork }: { again?: boolean; sameWork?: () => Promise<boolean> } = {},
  ): Promise<{ user: User; proofs: number } | undefined> {
    const subject = await subjectOf(flow, current, { again });
    if (!subject.user) {
      await message(ctx, 'recover.expired', 410, flow);
      return undefined;
    }
    const standing = standingProofs(flow, subject, methods);
    // `proofs`: those that still stand (a changed method's proof does not), which alone may end a lockdown.
    if (proofsComplete(standing.verified, subject, methods)) return { user: subject.user, proofs: standing.verified.length };
    const back = await advance(ctx, flow, { kind: 'more_proof_needed' }, standing, undefined, { sameWork });
    if (back) await showFlow(ctx, back, { notice: standing.verified.length < flow.verified.length ? 'recover.verify_again' : 'recover.more_proof' });
    return undefined;
  }

  /** What follows a finishing step's change, once it is made (flows/follow-ups.ts). */
  const followUps = (ctx: Context, flow: FlowDoc, tasks: Record<string, () => Promise<unknown>>) =>
    runFollowUps((ctx as AppContext).state.log, 'recovery.follow_up_failed', { flowId: flow._id }, tasks);

  /**
   * A new password posted once the flow is done (from a second tab, or a click that came late): the done page, and,
   * unless it is the password that was saved, that this one was not, so that nobody signs in with the wrong one.
   * Compared only with the password this flow saved, while it is still the account's: never with one chosen since
   * (its owner's own reset), which this page must not let anyone test guesses at.
   */
  async function afterFinished(ctx: Context, flow: FlowDoc) {
    if (flow.state !== 'done' || flow.goal !== 'reset' || !flow.accountId) return kit.outOfDate(ctx, flow);
    const form = await readValid(ctx, passwordForm, `recovery:${flow._id}`);
    const savedWith = flow.passwordSavedWith;
    if (!savedWith) return showFlow(ctx, flow, { notice: 'recover.password_not_saved' }, 409);
    // Each comparison is an argon2 run: a few per flow (a double click, a second tab, a late click), and no more, so
    // that posts sent again and again cannot fill the hashing queue every sign-in waits in.
    if (!(await deps.limits.allow('late-finish', flow._id, LATE_FINISH_CHECKS, 2 * LONGEST_FLOW_SECONDS))) {
      return showFlow(ctx, flow, { notice: 'recover.password_not_checked' }, 409);
    }
    if (await accounts.hasPassword(flow.accountId, form.password, { savedWith })) return showFlow(ctx, flow);
    await showFlow(ctx, flow, { notice: 'recover.password_not_saved' }, 409);
  }

  router.post('/:flow/password', async (ctx) => {
    const flow = await flowIn(ctx, 'password', afterFinished);
    if (!flow) return;
    const form = await readValid(ctx, passwordForm, `recovery:${flow._id}`);
    const current = await policy.current();
    // Should another post of this browser finish the flow meanwhile (a double click's, a second tab's), this one is
    // told "done" only when it posted the password saved: the other's, once written, is read here anew.
    const samePassword = async () => flow.accountId !== undefined && accounts.hasPassword(flow.accountId, form.password);
    const first = (await finishingAccount(ctx, flow, current, { sameWork: samePassword }))?.user;
    if (!first) return;
    // A refused password: the page again, saying why, by a redirect (a reload then posts no password again).
    if (form.password !== form.confirm) return refuse(ctx, flow, { error: 'recover.password_mismatch' });
    // Checked and hashed before the step is claimed: a busy argon2 (a full queue) then costs the person a retry, not
    // the flow. The reasons that name a length say which (`values`: the rule as applied).
    let prepared: PreparedPassword;
    try {
      prepared = await accounts.preparePassword(first, form.password);
    } catch (error) {
      if (error instanceof PasswordRejectedError) return refuse(ctx, flow, { error: error.reason, ...(error.values && { errorValues: error.values }) });
      throw error;
    }
    // An argon2 run is long enough for a reset elsewhere or a lockdown to land: the proofs are judged again on the
    // account as stored now, just before the step is claimed, and the password is written only over that account's
    // revocation (a reset landing after this read refuses the write: AccountChangedError, and the flow ends).
    const finishing = await finishingAccount(ctx, flow, current, { again: true, sameWork: samePassword });
    if (!finishing) return;
    const { user, proofs } = finishing;
    // The reset is the step's work: the flow says "done" only once the new password and the revocation are written
    // (one write), and then it is true whatever else fails.
    const work = async () => {
      const passwordSavedWith = await accounts.replacePassword(prepared, user);
      await followUps(ctx, flow, {
        revocation: () => accounts.revokeAccess(user._id), // deletes what the write above already voided
        unlock: () => accounts.clearAfterReset(user, proofs),
        audit: () => record(ctx, { type: 'password.reset', accountId: user._id, flowId: flow._id }),
        notice: async () => current.notify.onReset && deps.notifier.notify(user, 'reset', (ctx as AppContext).state.locale),
        // Recovered: a method turned off by wrong proofs in a row works again.
        proofRuns: () => ceiling.restart(accountKeyOf(user._id)),
      });
      // The revocation the account holds once the follow-ups have run (the revocation's own write moves it again):
      // what a late Finish is compared under. Should that read fail, the write's own, and a late Finish is told its
      // password was not saved, which is the safe side.
      const settled = await accounts.findAgain(user._id).catch(() => null);
      return { passwordSavedWith: settled?.revokedAt ? new Date(settled.revokedAt) : passwordSavedWith };
    };
    const next = await advance(ctx, flow, { kind: 'finished' }, {}, work, { sameWork: samePassword }).catch((error: unknown) => {
      if (error instanceof AccountChangedError) return endedByChange(ctx, flow);
      throw error;
    });
    if (next) seeFlow(ctx, next);
  });

  /**
   * A revocation landed between the account's last read and the new password's write (another reset, a lockdown),
   * which refused the write: nothing was written. The flow's proofs were of the account as it no longer is, and its
   * claimed step would refuse every post until it counted as lost: it ends now, saying why, and the person starts again.
   */
  async function endedByChange(ctx: Context, flow: FlowDoc): Promise<undefined> {
    await deps.flows.end(flow);
    await record(ctx, { type: 'recovery.failed', reason: 'account_changed', flowId: flow._id });
    await message(ctx, 'recover.verify_again', 409, flow);
    return undefined;
  }

  router.post('/:flow/unlock', async (ctx) => {
    const flow = await flowIn(ctx, 'unlock');
    if (!flow) return;
    await readValid(ctx, csrfOnly, `recovery:${flow._id}`);
    const current = await policy.current();
    const user = (await finishingAccount(ctx, flow, current))?.user;
    if (!user) return;
    // (A lockdown since the proofs were in voided them, above: a locked-down account's unlock goal became a reset
    // when its proofs were complete, so an unlock never keeps a password the owner distrusts.)
    const next = await advance(ctx, flow, { kind: 'finished' }, {}, async () => {
      await accounts.unlock(user);
      await followUps(ctx, flow, {
        audit: () => record(ctx, { type: 'account.unlocked', accountId: user._id, flowId: flow._id }),
        notice: async () => current.notify.onUnlock && deps.notifier.notify(user, 'unlock', (ctx as AppContext).state.locale),
        proofRuns: () => ceiling.restart(accountKeyOf(user._id)), // as after a reset
      });
    });
    if (next) seeFlow(ctx, next);
  });
}
