// The options of the timing benchmarks (`npm run bench:enumeration`, `npm run bench:recovery-timing`): command-line
// flags, then defaults. The defaults are the security checklist's ENUM-TIME and FP-TIME rules (200 samples per case,
// medians at most 15 ms apart).
import { flags, number, OptionsError } from './options.ts';

/** ENUM-TIME asks for at least this many samples per case; fewer make a run that cannot pass. */
export const RULE_MIN_SAMPLES = 200;

export interface TimingOptions {
  /** Measured attempts per case. */
  samples: number;
  /** Unmeasured rounds (one attempt per case each) first: JIT, connection pools, the database's caches. */
  warmup: number;
  /** Largest acceptable difference between the two cases' medians. */
  thresholdMs: number;
  /** Where the JSON results go. */
  out: string;
  /** A MongoDB server to use instead of starting FerretDB (MONGODB_URI; a fresh database on it). */
  mongodbUri: string | undefined;
}

/** What a timing script measures, for its usage text and default output. */
export interface TimingScript {
  command: string;
  /** One attempt, as the usage text names it ("sign-in POSTs", "recoveries up to the code being sent"). */
  attempts: string;
  defaultOut: string;
}

export const usage = ({ command, attempts, defaultOut }: TimingScript) => `npm run ${command} [-- options]

  --samples=N            measured ${attempts} per case (default ${RULE_MIN_SAMPLES}; the rule needs ${RULE_MIN_SAMPLES} or more)
  --warmup=N             unmeasured rounds first, one per case each (default 10)
  --threshold-ms=MS      largest acceptable difference of the medians (default 15)
  --out=FILE             JSON results (default ${defaultOut})

  MONGODB_URI=mongodb://…  measure on that server (in a fresh database) instead of a local FerretDB
  ARGON2_* and other Latchkey variables apply to the server under test as they do to npm start.`;

export const ENUMERATION: TimingScript = { command: 'bench:enumeration', attempts: 'sign-in POSTs', defaultOut: 'bench-results/enumeration-timing.json' };
export const USAGE = usage(ENUMERATION);

export function parseTimingOptions(argv: string[], env: NodeJS.ProcessEnv, script: TimingScript = ENUMERATION): TimingOptions | 'help' {
  const given = flags(argv);
  if (given.has('help')) return 'help';
  for (const name of given.keys()) {
    if (!['samples', 'warmup', 'threshold-ms', 'out'].includes(name)) throw new OptionsError(`unknown option --${name}`);
  }
  const whole = (name: string, fallback: string, min: number, max: number) => {
    const value = number(name, given.get(name) ?? fallback, min, max);
    if (!Number.isInteger(value)) throw new OptionsError(`${name} must be a whole number`);
    return value;
  };
  return {
    // The upper bounds keep a typo from turning into an hours-long run.
    samples: whole('samples', String(RULE_MIN_SAMPLES), 1, 5000),
    warmup: whole('warmup', '10', 0, 500),
    thresholdMs: number('threshold-ms', given.get('threshold-ms') ?? '15', 0.1, 1000),
    out: given.get('out') ?? script.defaultOut,
    mongodbUri: env.MONGODB_URI || undefined,
  };
}
