// The accounts as the recovery flow sees them (routes.ts `RecoveryAccounts`), on top of the accounts domain.
import type { Accounts } from '../../accounts/users.ts';
import type { User } from '../../accounts/user-model.ts';
import { checkNewPassword } from '../../accounts/password-rules.ts';
import type { RecoveryAccounts } from './routes.ts';

/** What a password must not be built from: the user's own names and addresses. */
export function identifiersOf(user: User): string[] {
  return [user.username, user.email, user.name, user.securityInfo?.alternateEmail].filter((v): v is string => Boolean(v));
}

export function recoveryAccounts(accounts: Accounts): RecoveryAccounts {
  return {
    findByLogin: (login) => accounts.findByLogin(login),
    findById: (id) => accounts.findById(id),
    async passwordProblem(user, password, policy) {
      const check = await checkNewPassword(password, { minLength: policy.passwordMinLength, identifiers: identifiersOf(user) });
      return check.ok ? undefined : check.reason;
    },
    async resetPassword(user, password) {
      await accounts.resetPassword(user._id, password); // the rules again, the new hash, the lockout cleared
      await accounts.clearLockdown(user._id); // a reset needs the full method count from a locked-down account
    },
    async unlock(user) {
      await accounts.clearLockout(user._id);
      await accounts.clearLockdown(user._id);
    },
    revokeAccess: (id) => accounts.revokeAccess(id),
    lockDown: (id) => accounts.lockDown(id),
  };
}
