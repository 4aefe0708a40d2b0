// Benchmark child: Latchkey as it runs in production, on the database named by BENCH_MONGODB_URI, seeded with one
// client and one user (a real argon2id hash at the configured cost), and accounts for the recovery scenario. Every
// command the driver sends is counted, so the parent can divide the commands of a measured window by the flows
// completed in it. Emails go over SMTP to BENCH_SMTP_URL (the load client's mail server) when it is set. The load
// client knows it by BENCH_TARGET_NAME (default "latchkey"; the instance on the full database has its own).
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { Writable } from 'node:stream';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../src/log.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { createLatchkey, type Latchkey } from '../../src/app.ts';
import { createClientRegistry } from '../../src/admin/clients.ts';
import { cacheTemplates } from '../../src/http/render.ts';
import { runChild } from './ipc.ts';
import { cpuMicros, REDIRECT_URI, type RecoveryTarget, type ServerCounters, type Target } from './target.ts';

/**
 * Accounts the recovery scenario resets, each by one browser at a time, the least recently used first: enough that
 * the policy's per-account and per-address limits (3 codes to one address in 10 minutes) hold for several minutes
 * of resets at the default settings.
 */
const RECOVERY_ACCOUNTS = 256;
const CAPTCHA_ANSWER = 'BENCH7';
/**
 * The limits raised: the installation-wide message cap (1000 an hour by default) is a small installation's, and
 * a long run at 8 browsers would reach it; the enumeration benchmark sends hundreds of failed sign-ins from one
 * address, each of which must reach the password check (past the sign-in challenge's thresholds it would have to
 * answer a CAPTCHA first, and measure that instead). Every other limit is the default and is checked as in production.
 */
const BENCH_LIMITS = { globalPerHour: 10_000, signInFailuresPerIpHour: 1_000_000, signInFailuresGlobalHour: 1_000_000 };

/** pino's numeric level for "warn". */
const WARN = 40;

/**
 * The request log is still written at the configured level (its cost is part of serving a request), but only
 * warnings and errors reach stderr, where the parent keeps them for a failure report.
 */
function warningsToStderr(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) {
        const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
        if (level >= WARN) process.stderr.write(line + '\n');
      }
      done();
    },
  });
}

await runChild(async () => {
  const uri = process.env.BENCH_MONGODB_URI;
  const smtpUrl = process.env.BENCH_SMTP_URL;
  if (!uri) throw new Error('BENCH_MONGODB_URI is not set');

  let dbCommands = 0;
  const dbCommandsByName = new Map<string, number>();
  const connection = await connectDatabase(uri, {
    onCommand({ commandName }) {
      dbCommands += 1;
      dbCommandsByName.set(commandName, (dbCommandsByName.get(commandName) ?? 0) + 1);
    },
  });

  // Listen first to learn the port: the issuer (and so the configuration) names it.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({
    ...process.env, // ARGON2_*, LOG_LEVEL, TTL_* … apply as they would to `npm start`
    NODE_ENV: 'development', // production would demand https and a proxy; what it changes that matters is below
    HOST: '127.0.0.1',
    PORT: '0',
    ISSUER: `${origin}/oidc`,
    MONGODB_URI: uri,
    // The sweeper exists only because FerretDB has no TTL indexes; on MongoDB in production there is none, and its
    // collection scans would land in a measured window at random.
    SWEEP_INTERVAL: String(24 * 3600),
    ...(smtpUrl && { SMTP_URL: smtpUrl }),
    CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER,
    // As behind the proxy of a production deployment: the recovery scenario's browsers each have their own address.
    TRUST_PROXY: 'true',
  });
  const log = createLogger(config.logLevel, warningsToStderr());
  const latchkey = await createLatchkey({ config, connection, log });
  // Production compiles each page template once; development re-reads them on every request.
  cacheTemplates(true);
  server.on('request', latchkey.app.callback());

  const clients = createClientRegistry(connection, { box: configuredSecretBox(config) });
  const client = await clients.create({
    client_name: 'Benchmark RP',
    redirect_uris: [REDIRECT_URI],
    grant_types: ['authorization_code', 'refresh_token'],
    id_token_signed_response_alg: 'ES256', // as the bare server signs (bare-server.ts): the comparison measures Latchkey, not RSA
  });
  const service = await clients.create({ client_name: 'Benchmark service', grant_types: ['client_credentials'], redirect_uris: [] });
  const password = randomBytes(12).toString('base64url');
  const user = await latchkey.accounts.create({
    username: 'bench-user',
    email: 'bench-user@example.test',
    name: 'Bench User',
    password,
    emailVerified: true,
  });

  // A second account whose hash still has cheaper parameters than the configured ones (as after ARGON2_* is raised,
  // until its owner's next sign-in rehashes it): the enumeration benchmark's case C. Only when there is something
  // cheaper than the configuration to hash with.
  const cheaper = { ...config.argon2, timeCost: config.argon2.timeCost - 1 };
  let legacyLogin: string | undefined;
  if (cheaper.timeCost >= 1) {
    const legacy = await latchkey.accounts.create({ username: 'bench-legacy', email: 'bench-legacy@example.test', password });
    const passwordHash = configuredSecretBox(config).seal(await argon2.hash(password.normalize('NFKC'), { type: argon2.argon2id, ...cheaper })); // stored as the server stores hashes
    await connection.db!.collection('users').updateOne({ _id: legacy._id } as never, { $set: { passwordHash } });
    legacyLogin = legacy.username;
  }

  // The recovery timing benchmark compares the email method's pages for real and unknown accounts: with email the
  // only method, an unknown login's decoy offers it too.
  const recoveryTiming = process.env.BENCH_RECOVERY_TIMING === '1';
  await latchkey.policy.save({ limits: BENCH_LIMITS, ...(recoveryTiming && { methodsEnabled: ['email'] }) });
  // Without a mail server (the enumeration benchmark) there is no recovery scenario; the recovery timing benchmark
  // leaves its emails in the outbox.
  const recovery = smtpUrl || recoveryTiming ? await seedRecovery(latchkey, `${origin}/recover`) : undefined;

  const target: Target = {
    name: process.env.BENCH_TARGET_NAME || 'latchkey',
    issuer: config.issuer,
    clientId: client.client_id,
    clientSecret: client.client_secret!,
    login: user.username,
    password,
    ...(legacyLogin && { legacyLogin }),
    ...(recovery && { recovery }),
    service: { clientId: service.client_id, clientSecret: service.client_secret! },
  };

  return {
    info: { target, argon2: config.argon2 },
    handlers: {
      async counters(): Promise<ServerCounters> {
        return { cpuMicros: cpuMicros(), dbCommands, dbCommandsByName: Object.fromEntries(dbCommandsByName) };
      },
      /** Raw findOne by _id per second on this database (the client's document), as the introspection yardstick. */
      async rawFindOne(params) {
        const clients = connection.db!.collection<{ _id: string }>('oidc_client');
        return countFor(params as Load, async () => void (await clients.findOne({ _id: client.client_id })));
      },
      /** Raw argon2 verifications per second with the configured parameters: the password POST's yardstick. */
      async rawArgon2(params) {
        const { passwordHash: sealed } = (await connection.db!.collection<{ _id: string; passwordHash: string }>('users').findOne({ _id: user._id }))!;
        const passwordHash = configuredSecretBox(config).open(sealed);
        return countFor(params as Load, async () => void (await argon2.verify(passwordHash, password.normalize('NFKC'))));
      },
    },
    async stop() {
      await latchkey.beginShutdown();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // A fresh database per run: nothing in it is worth keeping.
      await connection.dropDatabase().catch(() => {});
      await connection.close();
    },
  };
});

/** Accounts with an alternate email (their only method, so one code finishes a reset). */
async function seedRecovery(latchkey: Latchkey, url: string): Promise<RecoveryTarget> {
  const accounts: RecoveryTarget['accounts'] = [];
  const password = randomBytes(12).toString('base64url');
  // A few at a time: the password semaphore would refuse a burst of 64 hashes.
  for (let first = 0; first < RECOVERY_ACCOUNTS; first += 4) {
    const batch = Array.from({ length: Math.min(4, RECOVERY_ACCOUNTS - first) }, async (_, offset) => {
      const login = `bench-recover-${first + offset}`;
      const user = await latchkey.accounts.create({ username: login, email: `${login}@example.test`, password });
      const alternateEmail = `${login}@mail.example.test`;
      await latchkey.accounts.setSecurityInfo(user._id, { alternateEmail });
      return { login, alternateEmail };
    });
    accounts.push(...(await Promise.all(batch)));
  }
  return { url, captchaAnswer: CAPTCHA_ANSWER, accounts };
}

interface Load {
  concurrency: number;
  durationMs: number;
}

/** Runs `task` in `concurrency` loops until the deadline; how many completed, and over how long. */
async function countFor({ concurrency, durationMs }: Load, task: () => Promise<void>): Promise<{ completed: number; elapsedMs: number }> {
  let completed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (performance.now() < deadline) {
      await task();
      completed += 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { completed, elapsedMs: performance.now() - started };
}
