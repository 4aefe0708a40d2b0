// What admin commands work on: the database named by MONGODB_URI and Latchkey's configuration. Both are opened
// on first use, so `--help` and usage errors need neither, and the commands that only touch the database (the
// `clients` area, but for a new client secret, sealed with the server's DATA_ENCRYPTION_KEY) do not require the rest
// of the server's environment.
import type { Connection } from 'mongoose';
import { loadApiConfig, loadConfig, type Config } from '../../config/index.ts';
import { connectDatabase } from '../db/connection.ts';
import { DEFAULT_DATABASE, redactUri, withDefaultDatabase } from '../db/uri.ts';
import { configuredSecretBox, type SecretBox } from '../security/encryption.ts';
import { assertServersDataKey } from '../security/data-key-check.ts';
import { adminActor } from './admin-audit.ts';

/** The CLI cannot reach what it administers (no MONGODB_URI, database unreachable). */
export class AdminSetupError extends Error {
  override name = 'AdminSetupError';
}

export interface AdminSession {
  /** The database, connected on first use. */
  connection(): Promise<Connection>;
  /** The server's configuration from the environment (argon2 cost, token lifetimes), read on first use. */
  config(): Config;
  /** The configured API's scopes (API_AUDIENCE, API_SCOPES), without the rest of the configuration. */
  apiScopes(): readonly string[];
  /**
   * The servers' secret box (DATA_ENCRYPTION_KEY), for a command that seals a secret the servers will open: checked
   * on first use against the key the servers published (security/data-key-check.ts), so this shell's must be theirs.
   */
  serversSecretBox(): Promise<SecretBox>;
  /** Who runs these commands, for the audit log (admin-audit.ts). */
  actor(): string;
  close(): Promise<void>;
}

const MISSING_URI = [
  'MONGODB_URI is not set: it names the database Latchkey uses, which is what these commands change.',
  'For local development, run `npm run demo`, `npm start` or `npm run db` in another terminal: while it runs,',
  'these commands find its database by themselves. Otherwise name it, for example:',
  '  MONGODB_URI=mongodb://127.0.0.1:PORT npm run admin -- clients list',
  `A URI without a database name uses the "${DEFAULT_DATABASE}" database.`,
].join('\n');

export function openSession(env: NodeJS.ProcessEnv): AdminSession {
  let connecting: Promise<Connection> | undefined;
  let config: Config | undefined;
  let checkedBox: Promise<SecretBox> | undefined;
  const session: AdminSession = {
    connection: () => (connecting ??= connect(env.MONGODB_URI?.trim())),
    config: () => (config ??= loadConfig(env)),
    serversSecretBox: () => (checkedBox ??= serversSecretBox(session)),
    apiScopes: () => loadApiConfig(env)?.scopes ?? [],
    actor: () => adminActor(env),
    async close() {
      const connection = await connecting?.catch(() => undefined);
      await connection?.close();
    },
  };
  return session;
}

async function serversSecretBox(session: AdminSession): Promise<SecretBox> {
  const config = session.config();
  await assertServersDataKey(await session.connection(), config.dataEncryptionKey);
  return configuredSecretBox(config);
}

async function connect(configured: string | undefined): Promise<Connection> {
  if (!configured) throw new AdminSetupError(MISSING_URI);
  const uri = withDefaultDatabase(configured);
  try {
    return await connectDatabase(uri);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new AdminSetupError(`cannot use the database at ${redactUri(uri)} (MONGODB_URI): ${reason}`, { cause: error });
  }
}
