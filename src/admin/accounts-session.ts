// The accounts as admin commands use them: the server's argon2 cost, data key and the policy stored in the database,
// so a password refused by the server is refused here too, and one set here opens there.
import { createPasswordHasher } from '../accounts/passwords.ts';
import { createAccounts, type Accounts } from '../accounts/users.ts';
import { createAccessRevoker } from '../oidc/revocation.ts';
import { createPolicyStore } from '../policy/store.ts';
import { announceChange, changeSettled } from '../db/epoch-cache.ts';
import type { AdminSession } from './session.ts';

export async function accounts(session: AdminSession): Promise<Accounts> {
  const config = session.config();
  const connection = await session.connection();
  // A password set here is sealed with the servers' key, read only then.
  const hasher = await createPasswordHasher(config.argon2, { box: () => session.serversSecretBox(), limit: config.passwordWork });
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
