// `npm start`: Latchkey for a developer's machine or a server.
//
//   - MONGODB_URI set: use it (production requires it; config/index.ts refuses to start without).
//   - MONGODB_URI unset (development, test): start the local FerretDB with its data in .data/ferretdb, kept
//     between runs, and use its `latchkey` database.
//   - development only: on the first run, create a demo relying party client and a demo user, and print how to
//     try them (scripts/demo.ts runs the matching demo app).
//
// scripts/demo.ts reuses these functions, so both commands start Latchkey the same way.
import { createServer } from 'node:net';
import { ConfigError, loadConfig, type Config } from '../config/index.ts';
import { createLogger, type Logger } from '../src/log.ts';
import { startServer, stopOnSignals, type Running } from '../src/main.ts';
import { createClientRegistry } from '../src/admin/clients.ts';
import { ConflictError, NotFoundError } from '../src/errors.ts';
import { configuredSecretBox } from '../src/security/encryption.ts';
import { devDataDir, LocalDbUnavailable, startLocalDb, type LocalDb } from './local-db.ts';
import { DEFAULT_DATABASE, redactUri, withDatabase } from '../src/db/uri.ts';
import { isDatabaseUnavailable } from '../src/db/unavailable.ts';

/** What development seeds. The password is public on purpose: it only ever exists on a developer's machine. */
export const DEMO = {
  clientId: 'demo-app',
  clientName: 'Demo App',
  username: 'demo',
  email: 'demo@example.com',
  name: 'Demo User',
  password: 'public-demo-lantern-river',
  rpPort: 3001,
  /** Verification methods for trying "Can't access your account?": codes land in the development outbox. */
  alternateEmail: 'demo.backup@example.com',
  mobilePhone: '+14155550100',
  /** A public authenticator seed (like the password): add it to any authenticator app to get codes. */
  totpSecret: 'LATCHKEYDEMOSECRETPUBLIC234567AB',
} as const;

/** A problem the person starting Latchkey can fix; printed without a stack trace. */
export class StartError extends Error {
  override name = 'StartError';
}

export interface Started {
  config: Config;
  log: Logger;
  running: Running;
  /** Present when no MONGODB_URI was given and the local FerretDB was started for this process. */
  localDb: LocalDb | undefined;
  /** Stops the server, then the local database. Safe to call more than once. */
  stop(): Promise<void>;
}

/** The demo app's public origin. The browser sees `localhost`, like the default issuer, so cookies stay on one host. */
export function demoRpOrigin(env: NodeJS.ProcessEnv = process.env): string {
  return `http://localhost:${demoRpPort(env)}`;
}

export function demoRpPort(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.DEMO_RP_PORT;
  if (raw === undefined || raw === '') return DEMO.rpPort;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StartError(`DEMO_RP_PORT must be a port number, not "${raw}"`);
  return port;
}

/** The redirect URIs a demo app at `origin` uses; the seeded client must list them exactly. */
export function demoRpUris(origin: string): { redirectUri: string; postLogoutRedirectUri: string } {
  return { redirectUri: `${origin}/callback`, postLogoutRedirectUri: `${origin}/` };
}

/** What to do when host:port is taken: often Latchkey itself, started in another terminal. */
function portInUse(host: string, port: number, setting: string): StartError {
  return new StartError(
    `port ${port} on ${host} is already in use (another \`npm start\` or \`npm run demo\`? \`npm run demo -- --info\` says what runs): stop it, or choose another port with ${setting}=<port>`,
  );
}

/** Fails early, with a clear message, when something already listens on host:port (used before starting anything). */
export async function assertPortFree(host: string, port: number, setting: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE' ? portInUse(host, port, setting) : error);
    });
    probe.listen(port, host, () => probe.close(() => resolvePort()));
  });
}

/** The database MONGODB_URI names did not answer: which setting, what the driver said, and the way out. */
function databaseUnreachable(uri: string, error: Error): StartError {
  return new StartError(
    `the database at MONGODB_URI (${redactUri(uri)}) did not answer: ${error.message.split('\n')[0]}\n` +
      'Check the address and that the server runs, or unset MONGODB_URI to use the local development database.',
  );
}

/** Loads the configuration, provides a database when none is configured, and starts the HTTP server. */
export async function startLatchkey(
  env: NodeJS.ProcessEnv = process.env,
  print: (line: string) => void = (line) => console.log(line),
): Promise<Started> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) throw new StartError(error.message);
    throw error;
  }
  const log = createLogger(config.logLevel, undefined, config.logFormat);

  let localDb: LocalDb | undefined;
  if (!config.mongodbUri) {
    const dataDir = devDataDir(env);
    try {
      localDb = await startLocalDb({ dataDir, log: print });
    } catch (error) {
      if (error instanceof LocalDbUnavailable) throw new StartError(error.message);
      throw error;
    }
    config = { ...config, mongodbUri: withDatabase(localDb.uri, DEFAULT_DATABASE) };
    print(`local database (FerretDB) running, data in ${dataDir}`);
  }

  let running: Running;
  try {
    running = await startServer(config, log);
  } catch (error) {
    await localDb?.stop();
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw portInUse(config.host, config.port, 'PORT');
    }
    if (!localDb && isDatabaseUnavailable(error)) throw databaseUnreachable(config.mongodbUri!, error as Error);
    throw error;
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      localDb?.expectStop();
      try {
        await running.stop();
      } finally {
        await localDb?.stop();
      }
    })());
  return { config, log, running, localDb, stop };
}

export interface DemoSeed {
  clientId: string;
  clientSecret: string;
  /** True when this run created the client (its secret has not been shown before). */
  createdClient: boolean;
  createdUser: boolean;
}

/**
 * Creates the demo client and user unless they exist (so it can run on every start). An existing demo client
 * whose redirect URIs do not include the demo app's current origin (another DEMO_RP_PORT) gets them added.
 */
export async function seedDemo(running: Pick<Running, 'connection' | 'latchkey'>, rpOrigin: string, config: Pick<Config, 'dataEncryptionKey' | 'previousDataEncryptionKeys'>): Promise<DemoSeed> {
  const box = configuredSecretBox(config);
  const clients = createClientRegistry(running.connection, { box });
  const { redirectUri, postLogoutRedirectUri } = demoRpUris(rpOrigin);

  let createdClient = false;
  let client = await clients.show(DEMO.clientId).catch((error: unknown) => {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  });
  if (!client) {
    try {
      client = await clients.create({
        client_id: DEMO.clientId,
        client_name: DEMO.clientName,
        redirect_uris: [redirectUri],
        post_logout_redirect_uris: [postLogoutRedirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
      });
      createdClient = true;
    } catch (error) {
      // Another process seeded it between our look-up and our insert: use theirs.
      if (!(error instanceof ConflictError)) throw error;
      client = await clients.show(DEMO.clientId);
    }
  } else if (!client.redirect_uris.includes(redirectUri) || !client.post_logout_redirect_uris.includes(postLogoutRedirectUri)) {
    client = await clients.update(DEMO.clientId, {
      redirect_uris: [...new Set([...client.redirect_uris, redirectUri])],
      post_logout_redirect_uris: [...new Set([...client.post_logout_redirect_uris, postLogoutRedirectUri])],
    });
  }
  // Made now, the secret came back with the client; else it is read back (the demo app needs it at every start).
  const clientSecret = client.client_secret ?? (await clients.revealSecret(DEMO.clientId));
  if (!clientSecret) throw new StartError(`the client ${DEMO.clientId} exists but is public (no secret); remove it to re-seed`);

  const accounts = running.latchkey.accounts;
  let createdUser = false;
  if (!(await accounts.findByLogin(DEMO.username))) {
    try {
      await accounts.create({ username: DEMO.username, email: DEMO.email, name: DEMO.name, password: DEMO.password, emailVerified: true });
      createdUser = true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  const demo = await accounts.findByLogin(DEMO.username);
  if (demo && !demo.securityInfo?.mobilePhone && !demo.securityInfo?.alternateEmail && !demo.securityInfo?.authenticator) {
    await accounts.setSecurityInfo(demo._id, { alternateEmail: DEMO.alternateEmail, mobilePhone: DEMO.mobilePhone, totpSecret: box.seal(DEMO.totpSecret) });
  }
  return { clientId: client.client_id, clientSecret, createdClient, createdUser };
}

/** The lines printed once everything is up: where to go and how to sign in. */
export function welcomeText(config: Config, seed: DemoSeed | undefined, demoApp: { url: string; running: boolean }, { reprint = false } = {}): string {
  const lines = [
    '',
    `Latchkey is running (${config.env}).`,
    `  Issuer:     ${config.issuer}`,
    `  Discovery:  ${config.issuer}/.well-known/openid-configuration`,
  ];
  if (seed) {
    lines.push(
      demoApp.running
        ? `  Demo app:   ${demoApp.url}/  (open it and press "Sign in")`
        : `  Demo app:   not running; \`npm run demo\` starts Latchkey with a sample app at ${demoApp.url}/`,
      '',
      `Demo user${seed.createdUser ? ' (created now)' : ''}, for development only: this password is public.`,
      `  username ${DEMO.username}  or  email ${DEMO.email}`,
      `  password ${DEMO.password}  (changed since, in a recovery or on the account pages? \`npm run admin -- users set-password demo --password-stdin --permanent\`)`,
      `  to try "Can't access your account?": the CAPTCHA picture and audio, then codes sent to ${DEMO.alternateEmail}`,
      `  and ${DEMO.mobilePhone} appear at ${new URL(config.issuer).origin}/dev/outbox; authenticator codes: add the`,
      `  public demo seed ${DEMO.totpSecret} to any authenticator app (otpauth://totp/Latchkey:demo?secret=${DEMO.totpSecret}).`,
      '',
      `Demo client: client_id ${seed.clientId}, redirect URI ${demoRpUris(demoApp.url).redirectUri}`,
    );
    // The secret is shown once, when it is created; afterwards it stays in the database only.
    if (seed.createdClient) lines.push(`  client_secret ${seed.clientSecret}  (created now, shown once)`);
  }
  // Printed again (--info) by a process that runs nothing: what stops Latchkey is the terminal that started it.
  lines.push('', reprint ? 'Ctrl-C in the terminal that started it stops it.' : 'Ctrl-C stops it. `npm run demo -- --info` prints this again.', '');
  return lines.join('\n');
}

/** Prints the message of a problem the person can fix, or the whole error otherwise, and exits 1. */
export function exitWithError(error: unknown): never {
  if (error instanceof StartError) console.error(`\n${error.message}\n`);
  else console.error(error);
  process.exit(1);
}

/** Seeds (in development) and prints the welcome; on failure stops what was started, so no database is left behind. */
export async function seedAndWelcome(started: Started, demoApp: { url: string; running: boolean }): Promise<DemoSeed | undefined> {
  const { config, running } = started;
  try {
    // The demo user's password is public: seed only the local development database, or when asked to explicitly.
    const wanted = started.localDb !== undefined || process.env.DEMO_SEED === 'true';
    const seed = config.env === 'development' && wanted ? await seedDemo(running, demoApp.url, config) : undefined;
    // In production stdout is a stream of JSON log lines: the "latchkey listening" line already says where it runs.
    if (!config.production) console.log(welcomeText(config, seed, demoApp));
    return seed;
  } catch (error) {
    await started.stop();
    throw error;
  }
}

if (import.meta.main) {
  try {
    const demoApp = { url: demoRpOrigin(), running: false };
    const started = await startLatchkey();
    stopOnSignals({ ...started.running, stop: started.stop }, started.log);
    await seedAndWelcome(started, demoApp);
  } catch (error) {
    exitWithError(error);
  }
}
