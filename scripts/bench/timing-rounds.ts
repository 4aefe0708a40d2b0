// The rounds of the timing benchmarks (bench:enumeration, bench:recovery-timing): warm-up rounds, then measured
// ones, each one attempt per case in random order, so that a drift (other load, a growing database) cannot favour
// one case; a run whose attempts keep failing stops instead of running out every remaining sample.
import { randomInt } from 'node:crypto';
import { interrupted, log } from './harness.ts';
import type { TimingOptions } from './timing-options.ts';

const MAX_FAILURES_IN_A_ROW = 10;
const PROGRESS_EVERY_ROUNDS = 50;

export type Outcome<T> = { ms: T } | { failure: string };

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/**
 * Runs the rounds; `keep` gets each measured attempt's times. Returns, per case id, how often each kind of failure
 * happened (warm-up rounds included).
 */
export async function timingRounds<C extends { id: string }, T>(
  options: Pick<TimingOptions, 'warmup' | 'samples'>,
  cases: readonly C[],
  attempt: (c: C) => Promise<Outcome<T>>,
  keep: (c: C, ms: T) => void,
): Promise<Map<string, Map<string, number>>> {
  const failures = new Map<string, Map<string, number>>(cases.map((c) => [c.id, new Map()]));
  let failuresInARow = 0;
  const rounds = options.warmup + options.samples;
  log(`${options.warmup} warm-up round(s), then ${options.samples} measured; each round is one attempt per case, in random order…`);
  for (let round = 0; round < rounds; round += 1) {
    for (const c of shuffled(cases)) {
      if (interrupted.aborted) throw new Error('interrupted');
      const outcome = await attempt(c);
      if ('failure' in outcome) {
        const kinds = failures.get(c.id)!;
        kinds.set(outcome.failure, (kinds.get(outcome.failure) ?? 0) + 1);
        failuresInARow += 1;
        if (failuresInARow >= MAX_FAILURES_IN_A_ROW) throw new Error(`${failuresInARow} attempts in a row failed, the last one: ${outcome.failure}`);
        continue;
      }
      failuresInARow = 0;
      if (round >= options.warmup) keep(c, outcome.ms);
    }
    if ((round + 1) % PROGRESS_EVERY_ROUNDS === 0) log(`  ${round + 1}/${rounds} rounds`);
  }
  return failures;
}
