// `npm run bench`: full sign-in flows per second against Latchkey, and the same against a bare oidc-provider as
// the yardstick, in one run on one machine; then Latchkey's password resets by email code ("Can't access your
// account?"), which only it has. Four processes besides this one: FerretDB, Latchkey, the bare provider and the
// load client (the browsers, and the mail server the resets' codes arrive at); each window is warmed up, measured,
// and then read off the servers.
//
//   npm run bench -- --duration=5 --concurrency=1,4,8      (npm run bench -- --help for all options)
//
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { log, runScript, startTrackedChild, throwAwayDatabase } from './harness.ts';
import type { FlowKind, LoadClientInfo, WindowRequest, WindowResult } from './load-client.ts';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import { ratios, table, toScenario, writeResults, type Scenario } from './report.ts';
import type { ServerCounters, Target } from './target.ts';

const root = resolve(import.meta.dirname, '../..');
const OURS = 'latchkey';
const YARDSTICK = 'bare';
/** A window ends at its deadline plus the longest flow still in progress (load-client's flow timeout). */
const WINDOW_SLACK_MS = 60_000;

interface ServerInfo {
  target: Target;
  argon2?: { memoryCost: number; timeCost: number; parallelism: number };
}

async function measure(options: BenchOptions): Promise<number> {
  const started = new Date();
  const databaseUri = await throwAwayDatabase(options.mongodbUri, 'bench');

  log('starting Latchkey, the bare provider and the load client…');
  const start = <Info>(name: string, script: string, env: Record<string, string> = {}) =>
    startTrackedChild<Info>(name, new URL(script, import.meta.url), env);
  // The load client first: Latchkey needs the address of its mail server.
  const client = await start<LoadClientInfo>('load client', './load-client.ts');
  const starting = [
    start<ServerInfo>(OURS, './latchkey-server.ts', { BENCH_MONGODB_URI: databaseUri, BENCH_SMTP_URL: client.info.smtpUrl }),
    start<ServerInfo>(YARDSTICK, './bare-server.ts'),
  ] as const;
  // Wait for every start to settle before giving up on one, so each started child is on the list to stop.
  await Promise.allSettled(starting);
  const [latchkey, bare] = await Promise.all(starting);
  await client.call('prepare', [latchkey.info.target, bare.info.target], 30_000);

  const scenarios: Scenario[] = [];
  const runScenario = async (server: typeof latchkey, flow: FlowKind, concurrency: number) => {
    const window = (durationMs: number): Promise<WindowResult> => {
      const request: WindowRequest = { target: server.name, flow, concurrency, durationMs };
      return client.call<WindowResult>('run', request, durationMs + WINDOW_SLACK_MS);
    };
    log(`${server.name} ${flow}, ${concurrency} browser(s): warming up ${options.warmupSeconds} s, measuring ${options.durationSeconds} s…`);
    if (options.warmupSeconds > 0) await window(options.warmupSeconds * 1000);
    const before = await server.call<ServerCounters>('counters', null, 10_000);
    const result = await window(options.durationSeconds * 1000);
    const after = await server.call<ServerCounters>('counters', null, 10_000);
    scenarios.push(toScenario(server.name, flow, concurrency, result, before, after));
  };
  for (const concurrency of options.concurrency) {
    for (const server of [latchkey, bare]) await runScenario(server, 'sign-in', concurrency);
  }
  for (const concurrency of options.concurrency) await runScenario(latchkey, 'recovery', concurrency);

  const ratioRows = ratios(scenarios, OURS, YARDSTICK);
  const failed = scenarios.reduce((total, s) => total + s.failed, 0);
  const out = resolve(root, options.out);
  writeResults(out, {
    ok: failed === 0,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` },
    settings: {
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.warmupSeconds,
      concurrency: options.concurrency,
      database: options.mongodbUri ? 'MONGODB_URI' : 'FerretDB (local, SQLite)',
      argon2: latchkey.info.argon2,
      uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    },
    scenarios,
    ratios: ratioRows,
  });

  process.stdout.write(`\n${table(scenarios, ratioRows, OURS, YARDSTICK)}\n\n`);
  process.stdout.write(`results: ${out}\n`);
  if (failed > 0) {
    process.stdout.write(`\nFAILED: ${failed} flow(s) did not end with an ID token (or a reset password); the figures above are not valid:\n`);
    for (const s of scenarios.filter((x) => x.failed > 0)) {
      for (const [message, count] of Object.entries(s.failures)) process.stdout.write(`  ${s.target} ${s.flow} ×${s.concurrency}: ${count}× ${message}\n`);
    }
    return 1;
  }
  return 0;
}

await runScript({ parse: parseOptions, usage: USAGE, measure });
