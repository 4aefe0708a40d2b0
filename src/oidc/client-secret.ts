// A client's secret at rest is sealed with DATA_ENCRYPTION_KEY (security/encryption.ts), as authenticator seeds are:
// a copy of the database alone does not let anyone authenticate as a client. The registry seals it as it writes it,
// and the adapter opens it for oidc-provider, which compares what a client sends with it (administrators never see
// it again). A secret an earlier release stored in clear is read as it is, until `keys reseal-secrets` seals it.
import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import { isSealed, UnreadableSecretError, type SecretBox } from '../security/encryption.ts';

interface WithSecret {
  client_secret?: unknown;
}

/** The metadata as oidc-provider and administrators use it: its secret, if any, opened. */
export function openedClient<T extends WithSecret>(box: SecretBox, stored: T): T {
  const secret = stored.client_secret;
  return typeof secret === 'string' && isSealed(secret) ? { ...stored, client_secret: box.open(secret) } : stored;
}

/**
 * What an unreadable secret is replaced with: known to nobody, and the same at every read in this process (oidc-provider
 * keeps the clients it built by their metadata; a new value each time would build the client again at every request).
 */
const SUBSTITUTE_KEY = randomBytes(32);

/**
 * The metadata oidc-provider is given. A secret no configured key opens (DATA_ENCRYPTION_KEY changed without the old
 * one in DATA_ENCRYPTION_KEY_PREVIOUS) is the configuration's fault, not a reason to fail every request naming the
 * client: its authentication fails as with a wrong secret (invalid_client), its other requests go on, and
 * `onUnreadable` tells the operator why.
 */
export function clientForProvider<T extends WithSecret>(box: SecretBox, stored: T, onUnreadable: () => void): T {
  try {
    return openedClient(box, stored);
  } catch (error) {
    if (!(error instanceof UnreadableSecretError)) throw error;
    onUnreadable();
    return { ...stored, client_secret: createHmac('sha256', SUBSTITUTE_KEY).update(String(stored.client_secret)).digest('base64url') };
  }
}

/** Logs a client whose secret is unreadable as an error, at most once a minute per client (it is read at each request). */
export function unreadableSecretReporter(log: Logger, clock: () => number = Date.now): (clientId: string) => void {
  const lastTold = new Map<string, number>(); // registered clients only: an unknown id has no secret to open
  return (clientId) => {
    if ((lastTold.get(clientId) ?? -Infinity) > clock() - 60_000) return;
    lastTold.set(clientId, clock());
    log.error({ event: 'secret_unreadable', clientId }, "a client's secret opens with neither DATA_ENCRYPTION_KEY nor any key in DATA_ENCRYPTION_KEY_PREVIOUS: its authentication fails until the key is back or its secret is rotated");
  };
}
