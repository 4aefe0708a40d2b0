// The accounts as the recovery flow sees them (routes.ts `RecoveryAccounts`), on top of the accounts domain.
import type { Accounts } from '../../accounts/users.ts';
import type { RecoveryAccounts } from './routes.ts';
import { LOCKDOWN_PROOFS } from './subject.ts';

export function recoveryAccounts(accounts: Accounts): RecoveryAccounts {
  return {
    findByLogin: (login) => accounts.findByLogin(login),
    findById: (id) => accounts.findById(id),
    findAgain: (id) => accounts.findAgain(id),
    // After "This wasn't me" the page promises that the old password will no longer work: it cannot be chosen again.
    preparePassword: (user, password) => (user.lockedDownAt ? accounts.prepareNewPassword(user._id, password) : accounts.preparePassword(user._id, password)),
    hasPassword: (id, password, options) => accounts.hasPassword(id, password, options),
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
