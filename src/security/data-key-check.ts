// Admin commands that seal a secret (a new client secret, an authenticator seed) seal it with the DATA_ENCRYPTION_KEY
// of the shell they run in. Sealed with another key than the servers', it is a secret no server opens: a client that
// cannot authenticate, an authenticator that cannot be checked, and a command that said it worked. So each instance
// publishes at start a check value of its key (an HMAC of a fixed text under it: equal for equal keys, and nothing
// of the key), and a command compares its own before it seals anything.
import { createHmac } from 'node:crypto';
import type { Connection } from 'mongoose';
import { isDevelopmentDataKey } from '../../config/index.ts';
import { isDuplicateKey, upsertRetryingDuplicateKey } from '../db/atomic.ts';
import { ValidationError } from '../errors.ts';

const COLLECTION = 'data_key_check';
const ID = 'current';

const checkValue = (key: Buffer) => createHmac('sha256', key).update('latchkey data key check').digest('base64url');
const checks = (connection: Connection) => connection.db!.collection<{ _id: string; check: string }>(COLLECTION);

/**
 * Stores the check of this instance's key (instances of one installation share the key; the last to start writes).
 * What it replaced: the same key, a key this one replaced (`previous`: a key change under way), the first check on
 * this database, or another key, which means instances that cannot open each other's secrets.
 */
export async function publishDataKeyCheck(connection: Connection, key: Buffer, previous: readonly Buffer[]): Promise<'same' | 'replaced' | 'first' | 'different'> {
  const before = (await checks(connection).findOne({ _id: ID }))?.check;
  const check = checkValue(key);
  if (before !== check) await upsertRetryingDuplicateKey(() => checks(connection).replaceOne({ _id: ID }, { check }, { upsert: true }));
  if (before === undefined) return 'first';
  if (before === check) return 'same';
  return previous.some((old) => checkValue(old) === before) ? 'replaced' : 'different';
}

/**
 * Whether `key` (or one it replaced, `previous`) is the key the servers on this database last published; true while
 * none has. A server checks it before it seals a signing key that no stored key vouches for (oidc/keys.ts).
 */
export async function agreesWithServers(connection: Connection, key: Buffer, previous: readonly Buffer[]): Promise<boolean> {
  const published = (await checks(connection).findOne({ _id: ID }))?.check;
  return published === undefined || [key, ...previous].some((candidate) => checkValue(candidate) === published);
}

/**
 * Refuses (`data_key_mismatch`, nothing changed) when the servers on this database seal with another key than `key`.
 * Before any server has started on it, the command's key becomes the one published, so that a server started later
 * with another says so in its log (publishDataKeyCheck); the public development key is refused then, as a shell
 * without the server's environment most likely has it, and a secret sealed with it is as good as stored in clear.
 */
export async function assertServersDataKey(connection: Connection, key: Buffer): Promise<void> {
  let published = await checks(connection).findOne({ _id: ID });
  if (!published) {
    if (isDevelopmentDataKey(key)) {
      throw new ValidationError(
        'data_key_unknown',
        "DATA_ENCRYPTION_KEY is not set, and no server has started on this database yet to tell which key the servers use: run the command with the server's environment, or start the server once first; nothing changed",
      );
    }
    try {
      await checks(connection).insertOne({ _id: ID, check: checkValue(key) });
      return;
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      published = await checks(connection).findOne({ _id: ID }); // a server (or another command) was first
    }
  }
  if (published && published.check !== checkValue(key)) {
    throw new ValidationError(
      'data_key_mismatch',
      "this shell's DATA_ENCRYPTION_KEY is not the one the servers use, so they could not open the secret it would seal: run the command with the server's environment; nothing changed",
    );
  }
}
