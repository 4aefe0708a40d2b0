// Keyed pseudonyms for logs: the same login always maps to the same short value, so repeated failures against one
// account can be seen and counted, while the log itself reveals no login name to whoever reads it.
import { createHmac } from 'node:crypto';

export type Pseudonymize = (value: string) => string;

export function createPseudonymizer(key: string): Pseudonymize {
  return (value) => createHmac('sha256', key).update(value.trim().normalize('NFKC').toLowerCase()).digest('base64url').slice(0, 22);
}
