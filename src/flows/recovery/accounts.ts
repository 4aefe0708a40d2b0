// The accounts as the recovery flow sees them (routes.ts `RecoveryAccounts`), on top of the accounts domain.
import type { Accounts } from '../../accounts/users.ts';
import type { User } from '../../accounts/user-model.ts';
import { checkNewPassword } from '../../accounts/password-rules.ts';
import type { RecoveryAccounts } from './routes.ts';
import { LOCKDOWN_PROOFS } from './subject.ts';

/** What a password must not be built from: the user's own names and addresses. */
export function identifiersOf(user: User): string[] {
  return [user.username, user.email, user.name, user.securityInfo?.alternateEmail].filter((v): v is string => Boolean(v));
}

/** `serviceName`: the service as its users know it (BRAND_NAME), which a new password must not be built from. */
export function recoveryAccounts(accounts: Accounts, serviceName?: string): RecoveryAccounts {
  return {
    findByLogin: (login) => accounts.findByLogin(login),
    findById: (id) => accounts.findById(id),
    findAgain: (id) => accounts.findAgain(id),
    async passwordProblem(user, password, policy) {
      const check = await checkNewPassword(password, { minLength: policy.passwordMinLength, identifiers: identifiersOf(user), serviceNames: serviceName ? [serviceName] : [] });
      return check.ok ? undefined : check.reason;
    },
    preparePassword: (user, password) => accounts.preparePassword(user._id, password),
    replacePassword: (prepared, judged) => accounts.replacePassword(prepared, judged),
    unlock: (user) => accounts.clearLockout(user._id),
    async clearAfterReset(user, proofs) {
      await accounts.clearLockout(user._id);
      // A lockdown ends only with the full method count. The flow checked its proofs just before, but a lockdown
      // can land in between; it then holds.
      if (proofs >= LOCKDOWN_PROOFS) await accounts.clearLockdown(user._id);
    },
    revokeAccess: (id) => accounts.revokeAccess(id),
    lockDown: (id) => accounts.lockDown(id),
  };
}
