// oidc-provider's findAccount seam: the account behind a `sub`, and the claims each scope releases.
import type { Account, FindAccount, KoaContextWithOIDC } from 'oidc-provider';
import { isAccessCurrent, revokedSinceCheck, type Accounts } from '../accounts/users.ts';
import { keptUserAgent } from '../http/user-agent.ts';
import { rememberSignIn } from './adapter.ts';

/**
 * Authentication context classes Latchkey can assert (`acr`). Only a password sign-in exists today; a request whose
 * essential acr asks for anything else cannot be met and fails (OpenID Connect Core §5.5.1.1).
 */
export const ACR = { password: 'urn:latchkey:acr:password' } as const;
export const ACR_VALUES: string[] = Object.values(ACR);

/**
 * Which claims each scope releases (OIDC Core §5.4, for the claims Latchkey holds). `openid` also carries how and
 * when the user signed in (`acr`, `amr`, `auth_time`), so every ID token says it. The `null` entries are not scopes
 * but claims the library supplies on request (the library's defaults, kept).
 */
export const SCOPE_CLAIMS = {
  sid: null,
  iss: null,
  openid: ['sub', 'acr', 'amr', 'auth_time'],
  profile: ['name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
};

/** The claims the scopes `scopes` release (every scope's when none is given), by SCOPE_CLAIMS. */
export function claimsOf(scopes: (scope: string) => boolean = () => true): Set<string> {
  return new Set(Object.entries(SCOPE_CLAIMS).flatMap(([scope, claims]) => (claims && scopes(scope) ? claims : [])));
}

/**
 * Where a password sign-in's interaction result keeps when the password was checked, in milliseconds
 * (interactions/routes.ts). The session keeps whole seconds only; this decides, when the browser comes back for its
 * code, whether a revocation in that same second came before the check (void) or after it (fine).
 */
export const PASSWORD_CHECKED_AT_MS = 'latchkeyPasswordCheckedAtMs';
/**
 * And the account's revocation the check read it under (users.ts `revocationMsOf`): a revocation written since voids
 * the sign-in however the clocks compare (users.ts `revokedSinceCheck`).
 */
export const PASSWORD_CHECKED_UNDER = 'latchkeyPasswordCheckedUnder';

/** On the request that resumes a sign-in of `sub`: when its password was checked, and under which revocation. */
function resumedSignIn(result: unknown, sub: string): { checkedAtMs: number; revocationSeenMs?: number; remember: boolean } | undefined {
  const resumed = result as { login?: { accountId?: unknown; remember?: unknown }; [PASSWORD_CHECKED_AT_MS]?: unknown; [PASSWORD_CHECKED_UNDER]?: unknown } | undefined;
  const ms = resumed?.[PASSWORD_CHECKED_AT_MS];
  const seen = resumed?.[PASSWORD_CHECKED_UNDER];
  if (resumed?.login?.accountId !== sub || typeof ms !== 'number') return undefined;
  return { checkedAtMs: ms, ...(typeof seen === 'number' && { revocationSeenMs: seen }), remember: resumed.login.remember !== false };
}

/**
 * `deviceOf`: the nonce of the device cookie the request carries (accounts/lockout.ts deviceNonceOf), which the
 * session a sign-in saves keeps, so that ending that session forgets the browser's device (oidc/account-access.ts).
 */
export function findAccountWith(accounts: Accounts, deviceOf: (ctx: KoaContextWithOIDC) => string | undefined = () => undefined): FindAccount {
  return async (ctx, sub, token): Promise<Account | undefined> => {
    const user = await accounts.findCurrent(sub);
    // A disabled account stops resolving, and so does a session or token from before its access was revoked: they
    // no longer yield userinfo or new tokens, and the session must sign in again.
    const session = ctx.oidc?.session;
    const issuedAt = token?.iat ?? (session?.accountId === sub ? session.loginTs : undefined) ?? 0;
    const resumed = token ? undefined : resumedSignIn(ctx.oidc?.result, sub);
    const signedInMs = resumed?.checkedAtMs;
    if (!user || !isAccessCurrent(user, issuedAt, signedInMs)) return undefined;
    if (resumed?.revocationSeenMs !== undefined && revokedSinceCheck(user, resumed.revocationSeenMs)) return undefined;
    if (resumed) {
      // "Keep me signed in" ticked on a browser whose session was to end with it: the library only ever sets a
      // session's `transient` at sign-in, never clears it, so the session would still end with the browser.
      if (resumed.remember && session?.transient) delete session.transient;
      const device = deviceOf(ctx);
      rememberSignIn(sub, { signedInAtMs: resumed.checkedAtMs, signedInUnderMs: resumed.revocationSeenMs, signedInFrom: keptUserAgent(ctx.get('user-agent')), ...(device && { signedInDevice: device }) });
    }
    return {
      accountId: user._id,
      claims: () => ({
        sub: user._id,
        name: user.name || undefined,
        preferred_username: user.username,
        // When the claims released here last changed. They are set when the account is created and nothing changes
        // them afterwards; `updatedAt` moves with every change to the account (security info, a revocation, a
        // rehash), which relying parties would read as a new profile to fetch.
        updated_at: Math.floor(new Date(user.createdAt).getTime() / 1000),
        email: user.email,
        email_verified: user.emailVerified,
      }),
    };
  };
}
