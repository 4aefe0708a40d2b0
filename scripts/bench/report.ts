// Turns measured windows into the results: one record per flow scenario and per endpoint rate, the ratios the
// targets are read from, tables for the terminal and the JSON file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpus } from 'node:os';
import type { LatencySummary } from './stats.ts';
import type { WindowResult } from './load-client.ts';
import type { ServerCounters } from './target.ts';

export interface Scenario {
  target: string;
  /** "sign-in" (authorization request to ID token) or "recovery" (a password reset by email code). */
  flow: string;
  /** "fresh" (only what the benchmark created) or "full" (after fill.ts added a deployment's worth of data). */
  database: string;
  concurrency: number;
  completed: number;
  failed: number;
  failures: Record<string, number>;
  elapsedSeconds: number;
  flowsPerSecond: number;
  latencyMs: LatencySummary;
  stepP50Ms: Record<string, number>;
  /** Database commands per completed flow (null for the in-memory provider). */
  dbCommandsPerFlow: number | null;
  dbCommandsPerFlowByName: Record<string, number> | null;
  /** Server process CPU (all threads) per completed flow. */
  serverCpuMsPerFlow: number;
  clientCpuMsPerFlow: number;
}

export interface Ratio {
  /** What is compared, e.g. "sign-in flows/s, latchkey ÷ plain (full)". */
  what: string;
  concurrency: number;
  /** Below 1: ours is slower (or, for full ÷ fresh, slowed down by the data). */
  ratio: number;
  /** For endpoint rates: each round's ratio, in the order measured (`ratio` is their median). */
  rounds?: number[];
}

/** Requests (or operations) per second at one endpoint or one raw operation. */
export interface Rate {
  name: string;
  concurrency: number;
  perSecond: number;
  completed: number;
  failed: number;
  failures: Record<string, number>;
  p50Ms: number | null;
  p99Ms: number | null;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const mean = (values: number[]): number | undefined => (values.length ? values.reduce((sum, value) => sum + value, 0) / values.length : undefined);

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[half] : round((sorted[half - 1]! + sorted[half]!) / 2, 3);
}

export function toScenario(target: string, flow: string, database: string, concurrency: number, window: WindowResult, before: ServerCounters, after: ServerCounters): Scenario {
  const flows = window.completed;
  const perFlow = (value: number) => (flows ? round(value / flows, 1) : NaN);
  const byName =
    before.dbCommands === null
      ? null
      : Object.fromEntries(
          Object.entries(after.dbCommandsByName)
            .map(([name, count]) => [name, perFlow(count - (before.dbCommandsByName[name] ?? 0))] as const)
            .filter(([, count]) => count > 0),
        );
  return {
    target,
    flow,
    database,
    concurrency,
    completed: flows,
    failed: window.failed,
    failures: window.failures,
    elapsedSeconds: round(window.elapsedMs / 1000),
    flowsPerSecond: round(flows / (window.elapsedMs / 1000)),
    latencyMs: window.latencyMs,
    stepP50Ms: window.stepP50Ms,
    dbCommandsPerFlow: before.dbCommands === null || after.dbCommands === null ? null : perFlow(after.dbCommands - before.dbCommands),
    dbCommandsPerFlowByName: byName,
    serverCpuMsPerFlow: perFlow((after.cpuMicros - before.cpuMicros) / 1000),
    clientCpuMsPerFlow: perFlow(window.clientCpuMicros / 1000),
  };
}

/**
 * Sign-in flows/s of `ours` ÷ flows/s of `theirs`, per concurrency level both have; where a provider and database
 * were measured more than once at a level, of the mean.
 */
export function ratios(scenarios: Scenario[], ours: { target: string; database: string }, theirs: { target: string; database: string }, what: string): Ratio[] {
  const meanRate = (of: { target: string; database: string }, concurrency: number) =>
    mean(scenarios.filter((s) => s.flow === 'sign-in' && s.target === of.target && s.database === of.database && s.concurrency === concurrency).map((s) => s.flowsPerSecond));
  const levels = [...new Set(scenarios.filter((s) => s.flow === 'sign-in' && s.target === ours.target && s.database === ours.database).map((s) => s.concurrency))];
  const result: Ratio[] = [];
  for (const concurrency of levels) {
    const [mine, other] = [meanRate(ours, concurrency), meanRate(theirs, concurrency)];
    if (mine !== undefined && other) result.push({ what, concurrency, ratio: round(mine / other, 3) });
  }
  return result;
}

/**
 * Per second of `ours` ÷ per second of `theirs` at one concurrency level. The two are measured in alternation, so
 * the n-th of each make a round; the ratio is the median of the rounds' ratios. Here two windows a minute apart can
 * differ by 30 % (on both sides: the client's own cost per request moves as much), which a pair measured seconds
 * apart mostly shares, and one such round cannot move a median the way it moves a mean.
 */
export function rateRatio(rates: Rate[], ours: string, theirs: string, concurrency: number, what: string): Ratio[] {
  const of = (name: string) => rates.filter((r) => r.name === name && r.concurrency === concurrency).map((r) => r.perSecond);
  const [mine, other] = [of(ours), of(theirs)];
  const rounds = mine.slice(0, other.length).flatMap((rate, i) => (other[i] ? [round(rate / other[i], 3)] : []));
  const middle = median(rounds);
  return middle === undefined ? [] : [{ what, concurrency, ratio: middle, rounds }];
}

export function toRate(name: string, concurrency: number, result: { completed: number; elapsedMs: number; failed?: number; failures?: Record<string, number>; latencyMs?: LatencySummary }): Rate {
  return {
    name,
    concurrency,
    perSecond: round(result.completed / (result.elapsedMs / 1000), 1),
    completed: result.completed,
    failed: result.failed ?? 0,
    failures: result.failures ?? {},
    p50Ms: result.latencyMs?.p50 ?? null,
    p99Ms: result.latencyMs?.p99 ?? null,
  };
}

const COLUMNS = ['provider', 'flow', 'database', 'browsers', 'flows', 'failed', 'flows/s', 'p50 ms', 'p99 ms', 'db cmds/flow', 'server cpu ms/flow'];
const RATE_COLUMNS = ['measured', 'concurrency', 'per second', 'p50 ms', 'p99 ms', 'failed'];

const show = (value: number | null) => (value === null || Number.isNaN(value) ? '-' : String(value));

function grid(columns: string[], rows: string[][]): string[] {
  const widths = columns.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [line(columns), ...rows.map(line)];
}

export function table(scenarios: Scenario[], rates: Rate[], ratioRows: Ratio[]): string {
  const flows = grid(
    COLUMNS,
    scenarios.map((s) => [
      s.target,
      s.flow,
      s.database,
      String(s.concurrency),
      String(s.completed),
      String(s.failed),
      show(s.flowsPerSecond),
      show(s.latencyMs.p50),
      show(s.latencyMs.p99),
      show(s.dbCommandsPerFlow),
      show(s.serverCpuMsPerFlow),
    ]),
  );
  const rateLines = grid(RATE_COLUMNS, rates.map((r) => [r.name, String(r.concurrency), show(r.perSecond), show(r.p50Ms), show(r.p99Ms), String(r.failed)]));
  const ratioLines = ratioRows.map((r) => `${r.what} at ${r.concurrency}: ×${r.ratio}${r.rounds ? ` (median of rounds ${r.rounds.join(', ')})` : ''}`);
  return [...flows, '', ...rateLines, '', ...ratioLines].join('\n');
}

/** The machine a run was made on, for its results file. */
export const machineInfo = () => ({ cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version, platform: `${process.platform}-${process.arch}` });

export function writeResults(path: string, results: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(results, null, 2) + '\n');
}
