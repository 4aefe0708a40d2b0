// oidc-provider's findAccount seam: the account behind a `sub`, and the claims each scope releases.
import type { Account, FindAccount } from 'oidc-provider';
import type { Accounts } from '../accounts/users.ts';

/** Which claims each scope releases (OIDC Core §5.4, for the claims Latchkey holds). */
export const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username', 'updated_at'],
  email: ['email', 'email_verified'],
};

export function findAccountWith(accounts: Accounts): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const user = await accounts.findById(sub);
    // A disabled account stops resolving: its sessions and tokens no longer yield userinfo or new tokens.
    if (!user || user.status !== 'active') return undefined;
    return {
      accountId: user._id,
      claims: () => ({
        sub: user._id,
        name: user.name || undefined,
        preferred_username: user.username,
        updated_at: Math.floor(new Date(user.updatedAt).getTime() / 1000),
        email: user.email,
        email_verified: user.emailVerified,
      }),
    };
  };
}
