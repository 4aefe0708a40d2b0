// A real Latchkey on a random port with its own database, for one test file.
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Connection } from 'mongoose';
import { loadConfig, type Config } from '../../config/index.ts';
import { createLogger } from '../../src/log.ts';
import { createLatchkey, type Latchkey } from '../../src/app.ts';
import type { ConnectOptions } from '../../src/db/connection.ts';
import { connectTestDatabase, openTestDatabase } from './database.ts';
import { createClientRegistry, type ClientRegistry } from '../../src/admin/clients.ts';
import { Writable } from 'node:stream';

export interface TestServer {
  origin: string;
  issuer: string;
  config: Config;
  latchkey: Latchkey;
  connection: Connection;
  dbUri: string;
  clients: ClientRegistry;
  /** Everything the server logged, one JSON line each. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * What production needs besides an https ISSUER: a trusted proxy and real delivery channels (which no test here
 * reaches: nothing is sent unless a test starts a recovery).
 */
export const PRODUCTION_ENV = {
  NODE_ENV: 'production',
  TRUST_PROXY: 'true',
  DATA_ENCRYPTION_KEY: 'a1'.repeat(32),
  SMTP_URL: 'smtp://127.0.0.1:9',
  MAIL_FROM: 'Latchkey <no-reply@id.example.test>',
  SMS_PROVIDER: 'webhook',
  SMS_WEBHOOK_URL: 'https://sms-gateway.example.test/send',
  SMS_WEBHOOK_SECRET: 'webhook-secret-for-tests-only-0123456789',
} as const;

export interface TestServerOptions extends ConnectOptions {
  /** Now, in milliseconds, for session and token expiry (a test moves it). */
  clock?: () => number;
  /** Another test server's database, for a second instance of one deployment (its owner drops it). */
  sharedDatabase?: string;
}

export async function startTestServer(env: Record<string, string> = {}, { clock, sharedDatabase, ...dbOptions }: TestServerOptions = {}): Promise<TestServer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const db = sharedDatabase ? await joinDatabase(sharedDatabase, dbOptions) : await openTestDatabase(dbOptions);
  const config = loadConfig({ NODE_ENV: 'test', PORT: String(port), ISSUER: `${origin}/oidc`, MONGODB_URI: db.uri, ...env });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger('debug', sink);
  let latchkey: Awaited<ReturnType<typeof createLatchkey>>;
  try {
    latchkey = await createLatchkey({ config, connection: db.connection, log, ...(clock && { clock }) });
  } catch (error) {
    // A server that does not start (a test of that) leaves nothing open behind it.
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.drop();
    throw error;
  }
  server.on('request', latchkey.app.callback());
  server.on('clientError', latchkey.clientError); // as src/main.ts
  return {
    origin,
    issuer: config.issuer,
    config,
    latchkey,
    connection: db.connection,
    dbUri: db.uri,
    clients: createClientRegistry(db.connection, { box: configuredSecretBox(config), apiScopes: config.api?.scopes }),
    logs,
    async close() {
      await latchkey.beginShutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.drop();
    },
  };
}

async function joinDatabase(uri: string, options: ConnectOptions) {
  const connection = await connectTestDatabase(uri, options);
  return { uri, connection, drop: () => connection.close() };
}

/**
 * The sign-in challenge's thresholds, raised for a test file that fails many sign-ins on purpose: every request of
 * a test comes from 127.0.0.1, so past 20 failures its sign-ins would have to answer a CAPTCHA
 * (test/interactions/spray-challenge.test.ts tests that).
 */
export const MANY_SIGN_IN_FAILURES = { signInFailuresPerIpHour: 100_000, signInFailuresGlobalHour: 100_000 };

export async function allowManyFailedSignIns(server: TestServer): Promise<void> {
  await server.latchkey.policy.save({ limits: MANY_SIGN_IN_FAILURES });
}
