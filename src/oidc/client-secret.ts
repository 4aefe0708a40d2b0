// A client's secret at rest is sealed with DATA_ENCRYPTION_KEY (security/encryption.ts), as authenticator seeds are:
// a copy of the database alone does not let anyone authenticate as a client. The registry seals it as it writes it,
// and the adapter opens it for oidc-provider, which compares what a client sends with it (administrators never see
// it again). A secret an earlier release stored in clear is read as it is, until `keys reseal-secrets` seals it.
import { isSealed, type SecretBox } from '../security/encryption.ts';

interface WithSecret {
  client_secret?: unknown;
}

/** The metadata as oidc-provider and administrators use it: its secret, if any, opened. */
export function openedClient<T extends WithSecret>(box: SecretBox, stored: T): T {
  const secret = stored.client_secret;
  return typeof secret === 'string' && isSealed(secret) ? { ...stored, client_secret: box.open(secret) } : stored;
}
