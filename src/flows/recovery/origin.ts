// Where a recovery was begun, and so where its "Sign in" leads back: a relying party's sign-in (its oidc-provider
// interaction, by uid), or the door of one of the account pages (its path), which asks for the password again. On
// the wire (the first page's `from`, the flow cookie) it is one value: the uid, or the page's path, which no uid can
// be (a uid has no '/'). Only the account pages listed here are ever a way back, so `from` opens no redirect. (Not
// "Change your password": after a reset, its form, which asks for the password just replaced, is no place to return.)
import { ACCOUNT_SECURITY_INFO_PATH, ACCOUNT_SESSIONS_PATH } from '../account-paths.ts';

const INTERACTION_UID = /^[\w-]{1,64}$/;
const ACCOUNT_PAGES: readonly string[] = [ACCOUNT_SECURITY_INFO_PATH, ACCOUNT_SESSIONS_PATH];

/** A flow's origin, as its document keeps it: at most one of the two. */
export interface Origin {
  /** The sign-in the person came from. */
  interactionUid?: string;
  /** The account page whose door the person came from. */
  accountPage?: string;
}

/** `value` (a `from` from a query, a form or the flow cookie) as an origin: empty when it names none we know. */
export function originFrom(value: unknown): Origin {
  if (typeof value !== 'string') return {};
  if (INTERACTION_UID.test(value)) return { interactionUid: value };
  return ACCOUNT_PAGES.includes(value) ? { accountPage: value } : {};
}

/** Whether `value` names a way back (a malformed form's `from` does not). */
export const isOrigin = (value: unknown): boolean => fromOf(originFrom(value)) !== undefined;

/** The origin as `from` carries it. */
export const fromOf = (origin: Origin | undefined): string | undefined => origin?.interactionUid ?? origin?.accountPage;

/** Where "Sign in" leads: the same sign-in, or the account page's door; undefined when the recovery came from neither. */
export function backUrl(origin: Origin | undefined): string | undefined {
  if (origin?.interactionUid) return `/interaction/${encodeURIComponent(origin.interactionUid)}`;
  return origin?.accountPage;
}
