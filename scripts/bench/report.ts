// Turns measured windows into the results: one record per scenario, Latchkey-to-bare ratios, a table for the
// terminal and the JSON file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LatencySummary } from './stats.ts';
import type { WindowResult } from './load-client.ts';
import type { ServerCounters } from './target.ts';

export interface Scenario {
  target: string;
  /** "sign-in" (authorization request to ID token) or "recovery" (a password reset by email code). */
  flow: string;
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
  concurrency: number;
  /** Latchkey flows/s divided by the bare provider's: below 1 means slower. */
  flowsPerSecond: number;
  /** Latchkey median flow time divided by the bare provider's: above 1 means slower. */
  p50: number;
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;

export function toScenario(target: string, flow: string, concurrency: number, window: WindowResult, before: ServerCounters, after: ServerCounters): Scenario {
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

export function ratios(scenarios: Scenario[], ours: string, yardstick: string): Ratio[] {
  const result: Ratio[] = [];
  // Only sign-ins have a yardstick: the bare provider has no recovery.
  for (const mine of scenarios.filter((s) => s.target === ours && s.flow === 'sign-in')) {
    const theirs = scenarios.find((s) => s.target === yardstick && s.flow === mine.flow && s.concurrency === mine.concurrency);
    if (!theirs) continue;
    result.push({
      concurrency: mine.concurrency,
      flowsPerSecond: round(mine.flowsPerSecond / theirs.flowsPerSecond, 3),
      p50: round(mine.latencyMs.p50 / theirs.latencyMs.p50, 2),
    });
  }
  return result;
}

const COLUMNS = ['provider', 'flow', 'browsers', 'flows', 'failed', 'flows/s', 'p50 ms', 'p99 ms', 'db cmds/flow', 'server cpu ms/flow'];

export function table(scenarios: Scenario[], ratioRows: Ratio[], ours: string, yardstick: string): string {
  const show = (value: number | null) => (value === null || Number.isNaN(value) ? '-' : String(value));
  const rows = scenarios.map((s) => [
    s.target,
    s.flow,
    String(s.concurrency),
    String(s.completed),
    String(s.failed),
    show(s.flowsPerSecond),
    show(s.latencyMs.p50),
    show(s.latencyMs.p99),
    show(s.dbCommandsPerFlow),
    show(s.serverCpuMsPerFlow),
  ]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const lines = [line(COLUMNS), ...rows.map(line)];
  for (const ratio of ratioRows) {
    lines.push(`${ours} / ${yardstick} at ${ratio.concurrency} browser(s), sign-in: flows/s ×${ratio.flowsPerSecond}, p50 ×${ratio.p50}`);
  }
  return lines.join('\n');
}

export function writeResults(path: string, results: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(results, null, 2) + '\n');
}
