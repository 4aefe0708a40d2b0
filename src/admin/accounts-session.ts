// The accounts as admin commands use them: the server's argon2 cost and the policy stored in the database, so a
// password refused by the server is refused here too.
import { createPasswordHasher } from '../accounts/passwords.ts';
import { createAccounts, type Accounts } from '../accounts/users.ts';
import { createAccessRevoker } from '../oidc/revocation.ts';
import { createPolicyStore } from '../policy/store.ts';
import { announceChange, changeSettled } from '../db/epoch-cache.ts';
import type { AdminSession } from './session.ts';

export async function accounts(session: AdminSession): Promise<Accounts> {
  const config = session.config();
  const [connection, hasher] = await Promise.all([session.connection(), createPasswordHasher(config.argon2, config.passwordWork)]);
  return createAccounts(connection, hasher, createAccessRevoker(connection), {
    policy: createPolicyStore(connection),
    serviceName: config.brand.name, // the server's rules: its users know it by this name
    // The command reports success only once no instance can still use the account as it was (db/epoch-cache.ts).
    afterChange: async () => {
      await announceChange(connection, 'accounts');
      await changeSettled();
    },
  });
}
