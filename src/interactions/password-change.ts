// A sign-in whose password was right but temporary (an administrator's: `users create` or `users set-password`
// without --permanent) does not complete yet: the person chooses their own password first, on a page of the same
// interaction, and only then does the interaction record the sign-in (an interaction step: interaction-steps.ts).
import type { Connection } from 'mongoose';
import { createInteractionSteps, type InteractionSteps, type PendingStep } from './interaction-steps.ts';

export const PASSWORD_CHANGES = 'password_changes';
/** As long as a person may take to choose a password; then they sign in again with the temporary one. */
const LIFETIME_MS = 10 * 60_000;

export type PasswordChanges = InteractionSteps;
export type Pending = PendingStep<never>;

export function createPasswordChanges(connection: Connection, { secureCookies, clock = Date.now }: { secureCookies: boolean; clock?: () => number }): PasswordChanges {
  return createInteractionSteps(connection, { collection: PASSWORD_CHANGES, cookie: 'lk_password_change', lifetimeMs: LIFETIME_MS, secureCookies, clock });
}
