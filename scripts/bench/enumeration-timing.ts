// `npm run bench:enumeration`: the security checklist's ENUM-TIME rule, measured. The sign-in POST must take as
// long for a login nobody has (case A) as for a real login with a wrong password (case B), and as for a real login
// whose hash still has older, cheaper argon2 parameters (case C: the server runs one time-cost step above them), or
// its time tells an attacker which accounts exist. Latchkey runs in its own process on a throw-away database, as for `npm run bench`;
// this process is the browser and sends one request at a time, so the two cases never compete with each other.
//
//   npm run bench:enumeration -- --samples=200 --threshold-ms=15      (-- --help for all options)
//
// Exit status: 0 when the rule holds, 1 when it does not (or the run failed), 2 for bad options, 130 on Ctrl-C.
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { interrupted, log, runScript, startTrackedChild, throwAwayDatabase } from './harness.ts';
import { timingRounds, type Outcome } from './timing-rounds.ts';
import { discover, type Endpoints } from './flow.ts';
import { parseTimingOptions, RULE_MIN_SAMPLES, USAGE, type TimingOptions } from './timing-options.ts';
import { judge, round2, summarizeCase, table, timingSettings } from './timing-report.ts';
import { machineInfo, writeResults } from './report.ts';
import { attemptSignIn, notGenericRefusal, type Credentials } from './sign-in-probe.ts';
import type { Target } from './target.ts';

const root = resolve(import.meta.dirname, '../..');
/** One attempt (three requests) normally takes well under a second; past this it counts as failed. */
const ATTEMPT_TIMEOUT_MS = 15_000;

interface ServerInfo {
  target: Target;
  argon2?: { memoryCost: number; timeCost: number; parallelism: number };
}

interface Case {
  id: 'A' | 'B' | 'C';
  label: string;
  /** Fresh credentials for each attempt, so no cache can answer a repeated question faster. */
  credentials(target: Target): Credentials;
}

/** A password nobody has, shaped like the benchmark user's real one (16 base64url characters). */
const randomPassword = () => randomBytes(12).toString('base64url');

const CASES: readonly Case[] = [
  {
    id: 'A',
    label: 'A unknown login',
    // As long as the real login (the page echoes it back); hex after an "x" can never be the real username or email.
    credentials: (target) => ({ login: `x${randomBytes(32).toString('hex')}`.slice(0, target.login.length), password: randomPassword() }),
  },
  {
    id: 'B',
    label: 'B known login, wrong password',
    credentials: (target) => {
      const password = randomPassword();
      return { login: target.login, password: password === target.password ? `${password}x` : password };
    },
  },
  {
    id: 'C',
    label: 'C known login, older cheaper hash, wrong password',
    credentials: (target) => {
      const password = randomPassword();
      return { login: target.legacyLogin!, password: password === target.password ? `${password}x` : password };
    },
  },
];

/** The argon2 time cost the server runs with: one step above the legacy account's, so case C is cheaper to hash. */
const SERVER_TIME_COST = '3';

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function measure(options: TimingOptions): Promise<number> {
  const started = new Date();
  const databaseUri = await throwAwayDatabase(options.mongodbUri, 'enum_timing');

  log('starting Latchkey…');
  const server = await startTrackedChild<ServerInfo>('latchkey', new URL('./latchkey-server.ts', import.meta.url), {
    BENCH_MONGODB_URI: databaseUri,
    ARGON2_TIME_COST: process.env.ARGON2_TIME_COST ?? SERVER_TIME_COST,
  });
  const { target } = server.info;
  const endpoints = await discover(target, AbortSignal.any([interrupted, AbortSignal.timeout(10_000)]));

  await checkKnownUserSignsIn(target, endpoints);

  const samples = new Map<Case['id'], number[]>(CASES.map((c) => [c.id, []]));
  const failures = await timingRounds(options, CASES, (c) => attempt(target, endpoints, c), (c, ms) => samples.get(c.id)!.push(ms));

  const failedCount = (id: Case['id']) => [...failures.get(id)!.values()].reduce((total, n) => total + n, 0);
  const summaries = CASES.map((c) => ({ label: c.label, summary: summarizeCase(samples.get(c.id)!, failedCount(c.id)) }));
  // Each known-account case against the unknown one; the rule holds only when both comparisons pass.
  const verdicts = summaries.slice(1).map((known) => judge(summaries[0]!.summary, known.summary, options.thresholdMs, RULE_MIN_SAMPLES));
  const verdict = {
    ok: verdicts.every((v) => v.ok),
    differenceMs: verdicts.reduce((worst, v) => (Math.abs(v.differenceMs) > Math.abs(worst) ? v.differenceMs : worst), 0),
    thresholdMs: options.thresholdMs,
    problems: verdicts.flatMap((v, i) => v.problems.map((p) => `${CASES[i + 1]!.id} vs A: ${p}`)),
  };

  const out = resolve(root, options.out);
  writeResults(out, {
    rule: 'ENUM-TIME',
    ok: verdict.ok,
    problems: verdict.problems,
    differenceOfMediansMs: verdict.differenceMs,
    thresholdMs: verdict.thresholdMs,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    settings: {
      ...timingSettings(options, 'the sign-in POST alone, from sending the form to the last byte of the answer; a fresh browser for each'),
      argon2: server.info.argon2,
    },
    cases: CASES.map((c, i) => ({
      id: c.id,
      label: c.label,
      ...summaries[i]!.summary,
      failures: Object.fromEntries(failures.get(c.id)!),
      // In the order taken, to look for drift.
      samplesMs: samples.get(c.id)!.map(round2),
    })),
  });

  process.stdout.write(`\nENUM-TIME: time of the sign-in POST, ${options.samples} sample(s) per case\n\n${table(summaries, verdict)}\n\n`);
  for (const c of CASES) {
    for (const [reason, count] of failures.get(c.id)!) process.stdout.write(`failed, case ${c.id}: ${count}× ${reason}\n`);
  }
  process.stdout.write(`results: ${out}\n`);
  return verdict.ok ? 0 : 1;
}

/** One attempt for `c`; anything but the generic refusal (including an error on the way) is a failure. */
async function attempt(target: Target, endpoints: Endpoints, c: Case): Promise<Outcome<number>> {
  const signal = AbortSignal.any([interrupted, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]);
  try {
    const { ms, page } = await attemptSignIn(target, endpoints, c.credentials(target), signal);
    const problem = notGenericRefusal(page);
    return problem ? { failure: problem } : { ms };
  } catch (error) {
    if (interrupted.aborted) throw error;
    return { failure: describe(error) };
  }
}

/**
 * Case B only means something if its login really exists: with a mistyped one both cases would be unknown logins
 * and the rule would pass for nothing. The right password must get past the sign-in page (a redirect).
 */
async function checkKnownUserSignsIn(target: Target, endpoints: Endpoints): Promise<void> {
  const signal = AbortSignal.any([interrupted, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]);
  const { page } = await attemptSignIn(target, endpoints, { login: target.login, password: target.password }, signal);
  if (page.status !== 303 || !page.location) {
    throw new Error(`the benchmark user could not sign in with its own password (answer ${page.status}), so case B would not test a known login`);
  }
}

await runScript({ parse: parseTimingOptions, usage: USAGE, measure });
