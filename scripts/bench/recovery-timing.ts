// `npm run bench:recovery-timing`: the security checklist's FP-TIME rule, measured. "Get back into your account"
// must take as long, page by page, for a login nobody has (case A: a decoy flow) as for a real account (case B), up
// to the code being sent, or its time tells an attacker which accounts exist. Each attempt walks the email method's
// pages as a person does: the identifier with the CAPTCHA, "I forgot my password", "Email my alternate email", and
// "Next", which sends the code (a real account's email waits in the outbox; a decoy's is stored as a decoy's). Every
// step (the POST and the redirect it answers with) is timed, and each step's medians are compared.
//
// Latchkey runs in its own process on a throw-away database, with email the only method (so a decoy offers it too);
// each attempt comes from its own address (X-Forwarded-For, trusted as behind a proxy) and each real attempt resets a
// different one of 256 accounts in turn, so the per-address and per-account limits stay out of the way as they would
// for people. This process sends one request at a time, so the cases never compete with each other.
//
//   npm run bench:recovery-timing -- --samples=200 --threshold-ms=15      (-- --help for all options)
//
// Exit status: 0 when the rule holds, 1 when it does not (or the run failed), 2 for bad options, 130 on Ctrl-C.
import { randomBytes, randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { interrupted, log, runScript, startTrackedChild, throwAwayDatabase } from './harness.ts';
import { timingRounds, type Outcome } from './timing-rounds.ts';
import { Browser, formEndingWith, type Page } from './browser.ts';
import { parseTimingOptions, RULE_MIN_SAMPLES, usage, type TimingOptions, type TimingScript } from './timing-options.ts';
import { judge, round2, summarizeCase, table, timingSettings } from './timing-report.ts';
import { machineInfo, writeResults } from './report.ts';
import type { RecoveryTarget, Target } from './target.ts';

const SCRIPT: TimingScript = { command: 'bench:recovery-timing', attempts: 'recoveries up to the code being sent', defaultOut: 'bench-results/recovery-timing.json' };
const root = resolve(import.meta.dirname, '../..');
const ATTEMPT_TIMEOUT_MS = 15_000;
const MAX_REDIRECTS = 5;

/** The steps timed, each the form a person submits and the page it must lead to (for both cases alike). */
const STEPS = [
  { id: 'identify', form: '/recover', values: (login: string, captcha: string) => ({ identifier: login, captcha, action: 'next' }), leadsTo: 'recover.goal_heading' },
  { id: 'goal', form: '/goal', values: () => ({ goal: 'reset' }), leadsTo: 'recover.method_email' },
  { id: 'method', form: '/method', values: () => ({ method: 'email' }), leadsTo: 'recover.email_intro' },
  { id: 'send', form: '/send', values: () => ({}), leadsTo: 'recover.code_sent_email' },
] as const;
type StepId = (typeof STEPS)[number]['id'];

type CaseId = 'A' | 'B';
const CASES: ReadonlyArray<{ id: CaseId; label: string }> = [
  { id: 'A', label: 'A unknown login' },
  { id: 'B', label: 'B real account' },
];

const shows = (page: Page, messageId: string) => page.body.includes(`data-message-id="${messageId}"`);
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

async function follow(browser: Browser, first: Page): Promise<Page> {
  let page = first;
  for (let hops = 0; page.status >= 300 && page.status < 400 && page.location; hops += 1) {
    if (hops === MAX_REDIRECTS) throw new Error('redirect loop');
    page = await browser.request(page.location);
  }
  return page;
}

/** A login nobody has, as long as a real one (the page may echo it back). */
const unknownLogin = (like: string) => `x${randomBytes(32).toString('hex')}`.slice(0, like.length);

/** One walk up to the code being sent, timing each step; any other page on the way is a failure. */
async function attempt(recovery: RecoveryTarget, login: string): Promise<Outcome<Record<StepId, number>>> {
  const signal = AbortSignal.any([interrupted, AbortSignal.timeout(ATTEMPT_TIMEOUT_MS)]);
  const address = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  const browser = new Browser(signal, () => {}, { 'x-forwarded-for': address });
  const ms = {} as Record<StepId, number>;
  try {
    let page = await follow(browser, await browser.request(recovery.url));
    for (const step of STEPS) {
      const started = performance.now();
      page = await follow(browser, await browser.submit(formEndingWith(page, step.form), step.values(login, recovery.captchaAnswer)));
      ms[step.id] = performance.now() - started;
      if (!shows(page, step.leadsTo)) return { failure: `${step.id} led to ${page.status} without ${step.leadsTo}` };
    }
    return { ms };
  } catch (error) {
    if (interrupted.aborted) throw error;
    return { failure: describe(error) };
  }
}

async function measure(options: TimingOptions): Promise<number> {
  const started = new Date();
  const databaseUri = await throwAwayDatabase(options.mongodbUri, 'recovery_timing');
  log('starting Latchkey…');
  const server = await startTrackedChild<{ target: Target }>('latchkey', new URL('./latchkey-server.ts', import.meta.url), {
    BENCH_MONGODB_URI: databaseUri,
    BENCH_RECOVERY_TIMING: '1',
  });
  const recovery = server.info.target.recovery;
  if (!recovery) throw new Error('the server seeded no accounts to recover');

  const samples = new Map<CaseId, Map<StepId, number[]>>(CASES.map((c) => [c.id, new Map(STEPS.map((s) => [s.id, []]))]));
  let nextAccount = 0;
  const walk = (c: (typeof CASES)[number]) => {
    // Each real attempt resets the next account; an unknown login is as long as the account's of its round.
    const account = recovery.accounts[nextAccount % recovery.accounts.length]!;
    if (c.id === 'B') nextAccount += 1;
    return attempt(recovery, c.id === 'B' ? account.login : unknownLogin(account.login));
  };
  const failures = await timingRounds(options, CASES, walk, (c, ms: Record<StepId, number>) => {
    for (const step of STEPS) samples.get(c.id)!.get(step.id)!.push(ms[step.id]);
  });

  const failedCount = (id: CaseId) => [...failures.get(id)!.values()].reduce((total, n) => total + n, 0);
  const steps = STEPS.map((step) => {
    const rows = CASES.map((c) => ({ label: c.label, summary: summarizeCase(samples.get(c.id)!.get(step.id)!, failedCount(c.id)) }));
    return { id: step.id, rows, verdict: judge(rows[0]!.summary, rows[1]!.summary, options.thresholdMs, RULE_MIN_SAMPLES) };
  });
  const ok = steps.every((s) => s.verdict.ok);

  const out = resolve(root, options.out);
  writeResults(out, {
    rule: 'FP-TIME',
    ok,
    problems: steps.flatMap((s) => s.verdict.problems.map((p) => `${s.id}: ${p}`)),
    thresholdMs: options.thresholdMs,
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machineInfo(),
    settings: timingSettings(options, 'each step from sending its form to the last byte of the page its redirect leads to; a fresh browser and address for each attempt'),
    steps: steps.map((s) => ({
      step: s.id,
      differenceOfMediansMs: s.verdict.differenceMs,
      ok: s.verdict.ok,
      cases: s.rows.map((row, i) => ({ id: CASES[i]!.id, label: row.label, ...row.summary, samplesMs: samples.get(CASES[i]!.id)!.get(s.id)!.map(round2) })),
    })),
    failures: Object.fromEntries(CASES.map((c) => [c.id, Object.fromEntries(failures.get(c.id)!)])),
  });

  process.stdout.write(`\nFP-TIME: time of each recovery step up to the code being sent, ${options.samples} sample(s) per case\n`);
  for (const s of steps) process.stdout.write(`\n${s.id}\n${table(s.rows, s.verdict, { rule: `${s.id} step`, known: 'real account' })}\n`);
  for (const c of CASES) {
    for (const [reason, count] of failures.get(c.id)!) process.stdout.write(`failed, case ${c.id}: ${count}× ${reason}\n`);
  }
  process.stdout.write(`\nFP-TIME: ${ok ? 'PASS' : 'FAIL'}\nresults: ${out}\n`);
  return ok ? 0 : 1;
}

await runScript({ parse: (argv, env) => parseTimingOptions(argv, env, SCRIPT), usage: usage(SCRIPT), measure });
