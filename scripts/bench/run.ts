// `npm run bench`: the whole performance story in one run on one machine and one database server.
//
//  1. Sign-in flows/s (authorization request to ID token) against Latchkey and two yardsticks: a bare oidc-provider
//     with in-memory storage ("bare"), and the same with a plain MongoDB adapter of the kind the library's examples
//     show ("plain", plain-adapter.ts); each on a fresh database.
//  2. Latchkey's password resets by email code ("Can't access your account?"), which only it has.
//  3. Endpoints on their own: discovery and JWKS against a bare Koa hello-world, client-credentials grants and
//     introspections (against raw findOne by _id), password sign-in POSTs (against raw argon2 verifications, and
//     against a server that does nothing but verify the password: the ceiling of that ratio here).
//  4. A database filled with a deployment's worth of data (fill.ts), and the sign-ins again: Latchkey's reads
//     stay by _id, the plain adapter's lookups by payload.uid scan. The full databases are separate ones on the same
//     server, filled before anything is measured and served by instances of their own, so that Latchkey's full and
//     fresh windows can alternate: on two shared cores the machine's speed drifts by 10 % and more within minutes,
//     which a fresh-then-full order would report as the data's effect. They run fresh, full, full, fresh (the
//     ratio is of the means), so a steady drift weighs on both alike; fresh, full, fresh, full put every full window
//     later than its fresh twin, and a machine speeding up made the full database look faster. The plain adapter's
//     full windows run last.
//
// Processes besides this one: FerretDB, Latchkey and the two yardsticks (each fresh, and Latchkey and the plain
// adapter again on the full databases), the Koa hello-world, the argon2-only server and the load client
// (the browsers, and the mail server the resets' codes arrive at), and a second load client for the endpoints;
// each window is warmed up, measured, and then read off the servers.
//
//   npm run bench -- --duration=5 --concurrency=1,4,8      (npm run bench -- --help for all options)
//
import { resolve } from 'node:path';
import { log, runScript, startTrackedChild, throwAwayDatabase } from './harness.ts';
import type { FlowKind, LoadClientInfo, WindowRequest, WindowResult } from './load-client.ts';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import { machineInfo, rateRatio, ratios, table, toRate, toScenario, writeResults, type Rate, type Ratio, type Scenario } from './report.ts';
import type { RequestsResult, RequestSpec } from './requests.ts';
import { DEFAULT_FILL, fillLatchkey, fillPlain } from './fill.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import type { ServerCounters, Target } from './target.ts';

const root = resolve(import.meta.dirname, '../..');
/** Endpoint rates are measured for this long (at most the scenario duration): they settle within a second or two. */
const RATE_WINDOW_MS = 5000;
/** A window ends at its deadline plus the longest flow still in progress (load-client's flow timeout). */
const WINDOW_SLACK_MS = 60_000;
/** Latchkey's sign-in windows per concurrency level, in this order: a steady drift of the machine's speed cancels. */
const LATCHKEY_DATABASES = ['fresh', 'full', 'full', 'fresh'] as const;
/** How many times each endpoint rate and its yardstick are measured, alternately (odd: the ratio is a median). */
const RATE_ROUNDS = 5;

interface ServerInfo {
  target: Target;
  argon2?: { memoryCost: number; timeCost: number; parallelism: number };
}

const basicAuth = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/**
 * Fills the full databases from this process, not from the servers that serve them: a server that had sent
 * 170,000 inserts began its measured windows in another state than its fresh twin (its driver and BSON code
 * compiled and its heap grown by them), and in two runs of four the full instance spent 10–15 % less CPU per
 * sign-in at one browser, which full ÷ fresh reported as a full database faster than a fresh one (1.10, 1.27).
 */
async function fillFullDatabases(latchkeyUri: string, plainUri: string, login: string): Promise<void> {
  const [latchkeyDb, plainDb] = await Promise.all([connectDatabase(latchkeyUri), connectDatabase(plainUri)]);
  try {
    // The fillers' accounts get the benchmark user's hash: a real argon2id hash at the configured cost.
    const user = await latchkeyDb.db!.collection<{ username: string; passwordHash: string }>('users').findOne({ username: login });
    if (!user) throw new Error(`the benchmark user ${login} is not in ${latchkeyUri}`);
    await Promise.all([fillLatchkey(latchkeyDb, DEFAULT_FILL, user.passwordHash), fillPlain(plainDb, DEFAULT_FILL)]);
  } finally {
    await Promise.all([latchkeyDb.close(), plainDb.close()]);
  }
}

async function measure(options: BenchOptions): Promise<number> {
  const started = new Date();
  const databaseUri = await throwAwayDatabase(options.mongodbUri, 'bench');
  /** Another database on the same server: the plain adapter's, and each one's full twin. */
  const sibling = (suffix: string) => {
    const uri = new URL(databaseUri);
    uri.pathname += suffix;
    return uri.href;
  };

  log('starting Latchkey, the yardsticks and the load client…');
  const start = <Info>(name: string, script: string, env: Record<string, string> = {}) =>
    startTrackedChild<Info>(name, new URL(script, import.meta.url), env);
  // The load client first: Latchkey needs the address of its mail server.
  const client = await start<LoadClientInfo>('load client', './load-client.ts');
  const fullName = (name: string) => `${name} (full)`;
  const starting = [
    start<ServerInfo>('latchkey', './latchkey-server.ts', { BENCH_MONGODB_URI: databaseUri, BENCH_SMTP_URL: client.info.smtpUrl }),
    start<ServerInfo>(fullName('latchkey'), './latchkey-server.ts', { BENCH_MONGODB_URI: sibling('_full'), BENCH_SMTP_URL: client.info.smtpUrl, BENCH_TARGET_NAME: fullName('latchkey') }),
    start<ServerInfo>('bare', './bare-server.ts'),
    start<ServerInfo>('plain', './bare-server.ts', { BENCH_MONGODB_URI: sibling('_plain') }),
    start<ServerInfo>(fullName('plain'), './bare-server.ts', { BENCH_MONGODB_URI: sibling('_plain_full'), BENCH_TARGET_NAME: fullName('plain') }),
    start<{ url: string }>('koa hello', './koa-hello.ts'),
  ] as const;
  // Wait for every start to settle before giving up on one, so each started child is on the list to stop.
  await Promise.allSettled(starting);
  const [latchkey, latchkeyFull, bare, plain, plainFull, hello] = await Promise.all(starting);
  await client.call('prepare', [latchkey, latchkeyFull, bare, plain, plainFull].map((server) => server.info.target), 30_000);
  const warmupMs = options.warmupSeconds * 1000;

  log(`filling the full databases (${DEFAULT_FILL.users} users, ${DEFAULT_FILL.sessions} sessions, ${DEFAULT_FILL.grants} grants, ${DEFAULT_FILL.accessTokens} access tokens)…`);
  await fillFullDatabases(sibling('_full'), sibling('_plain_full'), latchkeyFull.info.target.login);

  const scenarios: Scenario[] = [];
  /** One measured window; `label` is the provider's name in the results (both instances of one provider share it). */
  const runScenario = async (server: typeof latchkey, label: string, flow: FlowKind, database: string, concurrency: number) => {
    const window = (durationMs: number): Promise<WindowResult> => {
      const request: WindowRequest = { target: server.info.target.name, flow, concurrency, durationMs };
      return client.call<WindowResult>('run', request, durationMs + WINDOW_SLACK_MS);
    };
    log(`${label} ${flow} (${database} database), ${concurrency} browser(s): warming up ${options.warmupSeconds} s, measuring ${options.durationSeconds} s…`);
    if (warmupMs > 0) await window(warmupMs);
    const before = await server.call<ServerCounters>('counters', null, 10_000);
    const result = await window(options.durationSeconds * 1000);
    const after = await server.call<ServerCounters>('counters', null, 10_000);
    scenarios.push(toScenario(label, flow, database, concurrency, result, before, after));
  };

  // 1, 2 and 4: sign-ins, Latchkey's fresh and full windows alternating; then the recoveries. The
  // plain adapter's full windows come last of all: flows that time out there leave the server scanning for a
  // minute or more afterwards, which would slow whatever ran next.
  for (const concurrency of options.concurrency) {
    for (const database of LATCHKEY_DATABASES) {
      await runScenario(database === 'fresh' ? latchkey : latchkeyFull, 'latchkey', 'sign-in', database, concurrency);
    }
    await runScenario(bare, 'bare', 'sign-in', 'fresh', concurrency);
    await runScenario(plain, 'plain', 'sign-in', 'fresh', concurrency);
  }
  for (const concurrency of options.concurrency) await runScenario(latchkey, 'latchkey', 'recovery', 'fresh', concurrency);

  // 3: endpoints on their own, at the highest concurrency, from a load client of their own. The browsers' client
  // has by now run every flow, and each answer costs it up to twice what it costs a fresh process (measured per
  // process from /proc); it was the busiest process in these windows, so its state swayed the ratios.
  const endpointClient = await start<LoadClientInfo>('endpoint load client', './load-client.ts');
  await endpointClient.call('prepare', [latchkey.info.target], 30_000);
  const rates: Rate[] = [];
  const rateMs = Math.min(RATE_WINDOW_MS, options.durationSeconds * 1000);
  const concurrency = Math.max(...options.concurrency);
  const requests = async (name: string, spec: RequestSpec, { warm = true } = {}) => {
    log(`${name}, ${concurrency} at once: ${rateMs / 1000} s…`);
    if (warm && warmupMs > 0) await endpointClient.call('requests', { spec, concurrency, durationMs: warmupMs }, warmupMs + WINDOW_SLACK_MS);
    rates.push(toRate(name, concurrency, await endpointClient.call<RequestsResult>('requests', { spec, concurrency, durationMs: rateMs }, rateMs + WINDOW_SLACK_MS)));
  };
  const issuer = latchkey.info.target.issuer;
  const service = latchkey.info.target.service!;
  const serviceAuth = { authorization: basicAuth(service.clientId, service.clientSecret), 'content-type': 'application/x-www-form-urlencoded' };
  const discovery = { url: `${issuer}/.well-known/openid-configuration` };
  const jwks = { url: `${issuer}/jwks` };
  // Each rate and its yardstick alternate, RATE_ROUNDS times, and each ratio is the median of its rounds' ratios
  // (report.ts rateRatio): five-second windows on two shared cores swing by 30 % from one round to the next.
  for (let round = 0; round < RATE_ROUNDS; round += 1) {
    await requests('koa hello-world', { url: hello.info.url }, { warm: round === 0 });
    await requests('discovery', discovery, { warm: round === 0 });
    await requests('jwks', jwks, { warm: round === 0 });
  }
  await requests('client credentials grant', { url: `${issuer}/token`, method: 'POST', headers: serviceAuth, body: 'grant_type=client_credentials' });
  const { access_token: accessToken } = (await (await fetch(`${issuer}/token`, { method: 'POST', headers: serviceAuth, body: 'grant_type=client_credentials' })).json()) as { access_token: string };
  for (let round = 0; round < RATE_ROUNDS; round += 1) {
    await requests('introspection', { url: `${issuer}/token/introspection`, method: 'POST', headers: serviceAuth, body: `token=${encodeURIComponent(accessToken)}` }, { warm: round === 0 });
    log(`raw findOne by _id, ${concurrency} at once…`);
    rates.push(toRate('raw findOne by _id', concurrency, await latchkey.call('rawFindOne', { concurrency, durationMs: rateMs }, rateMs + WINDOW_SLACK_MS)));
  }
  const ratioRows: Ratio[] = [];
  // The ceiling of the password ratio: a server that only verifies the password (argon2-server.ts).
  const argon2Only = await start<{ url: string }>('argon2-only server', './argon2-server.ts', { BENCH_ARGON2: JSON.stringify(latchkey.info.argon2), BENCH_PASSWORD: latchkey.info.target.password });
  const argon2OnlyPost: RequestSpec = {
    url: argon2Only.info.url,
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ login: latchkey.info.target.login, password: latchkey.info.target.password }).toString(),
    ok: [303],
  };
  for (const level of options.concurrency) {
    log(`password sign-in POSTs, argon2-only POSTs and raw argon2 verifications, ${level} at once…`);
    const loginPosts = (durationMs: number) => endpointClient.call<RequestsResult>('loginPosts', { target: 'latchkey', concurrency: level, durationMs }, 10 * 60_000);
    const argon2OnlyPosts = (durationMs: number) => endpointClient.call<RequestsResult>('requests', { spec: argon2OnlyPost, concurrency: level, durationMs }, durationMs + WINDOW_SLACK_MS);
    // Warmed up like every window: the first POSTs of a run are the slowest (JIT), and at one at a time the pool of
    // 60 sign-in pages lasts only about two seconds.
    if (warmupMs > 0) {
      await loginPosts(warmupMs);
      await argon2OnlyPosts(warmupMs);
    }
    for (let round = 0; round < RATE_ROUNDS; round += 1) {
      rates.push(toRate('password sign-in POST', level, await loginPosts(rateMs)));
      rates.push(toRate('raw argon2 verify', level, await latchkey.call('rawArgon2', { concurrency: level, durationMs: rateMs }, rateMs + WINDOW_SLACK_MS)));
      rates.push(toRate('argon2-only POST', level, await argon2OnlyPosts(rateMs)));
    }
    ratioRows.push(
      ...rateRatio(rates, 'password sign-in POST', 'raw argon2 verify', level, 'password POST/s ÷ raw argon2 verify/s'),
      ...rateRatio(rates, 'argon2-only POST', 'raw argon2 verify', level, 'argon2-only POST/s ÷ raw argon2 verify/s (the ceiling)'),
      ...rateRatio(rates, 'password sign-in POST', 'argon2-only POST', level, 'password POST/s ÷ argon2-only POST/s'),
    );
  }
  for (const concurrency of options.concurrency) await runScenario(plainFull, 'plain', 'sign-in', 'full', concurrency);

  ratioRows.unshift(
    ...ratios(scenarios, { target: 'latchkey', database: 'fresh' }, { target: 'bare', database: 'fresh' }, 'sign-in flows/s, latchkey ÷ bare (in memory)'),
    ...ratios(scenarios, { target: 'latchkey', database: 'fresh' }, { target: 'plain', database: 'fresh' }, 'sign-in flows/s, latchkey ÷ plain adapter, fresh'),
    ...ratios(scenarios, { target: 'latchkey', database: 'full' }, { target: 'plain', database: 'full' }, 'sign-in flows/s, latchkey ÷ plain adapter, full'),
    ...ratios(scenarios, { target: 'latchkey', database: 'full' }, { target: 'latchkey', database: 'fresh' }, 'sign-in flows/s, latchkey full ÷ fresh'),
    ...rateRatio(rates, 'discovery', 'koa hello-world', concurrency, 'discovery ÷ koa hello-world'),
    ...rateRatio(rates, 'jwks', 'koa hello-world', concurrency, 'jwks ÷ koa hello-world'),
    ...rateRatio(rates, 'introspection', 'raw findOne by _id', concurrency, 'introspection ÷ raw findOne'),
  );

  // A yardstick's flows that fail are part of what is measured (the plain adapter's scans outlast the flow timeout on
  // a full database); only Latchkey's failures make the run invalid.
  const ours = scenarios.filter((s) => s.target === 'latchkey');
  const failed = ours.reduce((total, s) => total + s.failed, 0) + rates.reduce((total, r) => total + r.failed, 0);
  const out = resolve(root, options.out);
  writeResults(out, {
    ok: failed === 0,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      concurrency: options.concurrency,
      rateWindowMs: rateMs,
      fill: DEFAULT_FILL,
      database: options.mongodbUri ? 'MONGODB_URI' : 'FerretDB (local, SQLite)',
      argon2: latchkey.info.argon2,
      uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    },
    scenarios,
    rates,
    ratios: ratioRows,
  });

  process.stdout.write(`\n${table(scenarios, rates, ratioRows)}\n\n`);
  process.stdout.write(`results: ${out}\n`);
  if (failed > 0) {
    process.stdout.write(`\nFAILED: ${failed} flow(s) or request(s) did not succeed; the figures above are not valid:\n`);
    for (const s of ours.filter((x) => x.failed > 0)) {
      for (const [message, count] of Object.entries(s.failures)) process.stdout.write(`  ${s.target} ${s.flow} ${s.database} ×${s.concurrency}: ${count}× ${message}\n`);
    }
    for (const r of rates.filter((x) => x.failed > 0)) {
      for (const [message, count] of Object.entries(r.failures)) process.stdout.write(`  ${r.name} ×${r.concurrency}: ${count}× ${message}\n`);
    }
    return 1;
  }
  return 0;
}

await runScript({ parse: parseOptions, usage: USAGE, measure });
