// Secrets generated once and shared by every instance through the database (when configuration supplies none):
// the first instance to start creates one by a claim; the others read the winner's.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, NEVER_EXPIRES, type ExpiringDoc } from './atomic.ts';

export const SECRETS = 'secrets';

/** A random 32-byte secret (base64url) named `name`, the same on every instance. */
export async function sharedSecret(connection: Connection, name: string): Promise<string> {
  const secrets = connection.db!.collection<ExpiringDoc>(SECRETS);
  await claim(secrets, name, NEVER_EXPIRES, { value: randomBytes(32).toString('base64url') });
  const doc = await secrets.findOne({ _id: name });
  return doc!.value as string;
}
