// The timing benchmarks' figures and verdicts (ENUM-TIME for the sign-in POST, FP-TIME for the recovery's steps):
// per-case percentiles, the difference of the medians, and the text for the terminal. Two decimals, because the differences that matter here are well under 1 ms.
import { percentile } from './stats.ts';
import type { TimingOptions } from './timing-options.ts';

export interface CaseSummary {
  samples: number;
  failed: number;
  p10: number;
  p50: number;
  p90: number;
  mean: number;
  min: number;
  max: number;
}

export interface Verdict {
  ok: boolean;
  /** Median of B minus median of A: positive when a known login answers more slowly. */
  differenceMs: number;
  thresholdMs: number;
  /** Every reason the run fails the rule; empty when it passes. */
  problems: string[];
}

export const round2 = (ms: number) => Math.round(ms * 100) / 100;

export function summarizeCase(samplesMs: readonly number[], failed: number): CaseSummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (p: number) => round2(percentile(sorted, p));
  return {
    samples: sorted.length,
    failed,
    p10: at(10),
    p50: at(50),
    p90: at(90),
    mean: round2(sorted.length ? sorted.reduce((total, ms) => total + ms, 0) / sorted.length : NaN),
    min: round2(sorted[0] ?? NaN),
    max: round2(sorted.at(-1) ?? NaN),
  };
}

export function judge(a: CaseSummary, b: CaseSummary, thresholdMs: number, minSamples: number): Verdict {
  const differenceMs = round2(b.p50 - a.p50);
  const problems: string[] = [];
  if (a.failed + b.failed > 0) problems.push(`${a.failed + b.failed} attempt(s) did not get the answer expected`);
  if (Math.min(a.samples, b.samples) < minSamples) problems.push(`fewer than ${minSamples} measured samples per case`);
  // NaN (no samples at all) must fail too, hence not `abs > threshold`.
  if (!(Math.abs(differenceMs) < thresholdMs)) problems.push(`the medians differ by ${Math.abs(differenceMs)} ms, not under ${thresholdMs} ms`);
  return { ok: problems.length === 0, differenceMs, thresholdMs, problems };
}

const COLUMNS = ['case', 'samples', 'failed', 'p10 ms', 'median ms', 'p90 ms', 'mean ms'];

/** `rule`: the verdict's name ("ENUM-TIME"); `known`: what the cases compared with the unknown login are. */
export function table(rows: Array<{ label: string; summary: CaseSummary }>, verdict: Verdict, { rule = 'ENUM-TIME', known = 'known login' } = {}): string {
  const ms = (value: number) => value.toFixed(2);
  const cells = rows.map(({ label, summary: s }) => [label, String(s.samples), String(s.failed), ms(s.p10), ms(s.p50), ms(s.p90), ms(s.mean)]);
  const widths = COLUMNS.map((title, i) => Math.max(title.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const sign = verdict.differenceMs > 0 ? '+' : '';
  return [
    line(COLUMNS),
    ...cells.map(line),
    '',
    `largest difference of medians (${known} - unknown login): ${sign}${verdict.differenceMs} ms; threshold ${verdict.thresholdMs} ms`,
    verdict.ok ? `${rule}: PASS` : `${rule}: FAIL\n${verdict.problems.map((problem) => `  - ${problem}`).join('\n')}`,
  ].join('\n');
}

/** What a timing run's results file says of how it was measured. */
export function timingSettings(options: TimingOptions, measured: string) {
  return {
    samplesPerCase: options.samples,
    warmupRounds: options.warmup,
    measured,
    database: options.mongodbUri ? 'MONGODB_URI' : 'FerretDB (local, SQLite)',
  };
}
