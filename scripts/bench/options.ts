// `npm run bench` options: command-line flags first, then BENCH_* environment variables, then defaults.

export interface BenchOptions {
  /** Measured seconds per scenario (one provider at one concurrency). */
  durationSeconds: number;
  /** Unmeasured seconds before each measured window: JIT, connection pools, caches. */
  warmupSeconds: number;
  /** Concurrent browsers, one scenario per level. */
  concurrency: number[];
  /** Where the JSON results go. */
  out: string;
  /** A MongoDB server to use instead of starting FerretDB (MONGODB_URI; a fresh database on it). */
  mongodbUri: string | undefined;
}

export const USAGE = `npm run bench [-- options]

  --duration=SECONDS     measured time per scenario (BENCH_DURATION, default 15)
  --warmup=SECONDS       warm-up before each measured window (BENCH_WARMUP, default 3)
  --concurrency=LIST     concurrent browsers, comma-separated (BENCH_CONCURRENCY, default 1,8)
  --out=FILE             JSON results (BENCH_OUT, default bench-results/latest.json)

  MONGODB_URI=mongodb://…  benchmark on that server (in a fresh database) instead of a local FerretDB
  ARGON2_* and other Latchkey variables apply to the server under test as they do to npm start.`;

export class OptionsError extends Error {}

/** `--name=value` and bare `--name` (as "true"); anything else is an error. */
export function flags(argv: string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new OptionsError(`unknown argument ${arg}`);
    found.set(match[1]!, match[2] ?? 'true');
  }
  return found;
}

export function number(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new OptionsError(`${name} must be a number from ${min} to ${max}, not ${raw}`);
  return value;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | 'help' {
  const given = flags(argv);
  if (given.has('help')) return 'help';
  for (const name of given.keys()) {
    if (!['duration', 'warmup', 'concurrency', 'out'].includes(name)) throw new OptionsError(`unknown option --${name}`);
  }
  const pick = (name: string, variable: string, fallback: string) => given.get(name) ?? (env[variable] || fallback);
  const concurrency = pick('concurrency', 'BENCH_CONCURRENCY', '1,8')
    .split(',')
    .map((level) => number('concurrency', level.trim(), 1, 64));
  if (concurrency.some((level) => !Number.isInteger(level))) throw new OptionsError('concurrency levels are whole numbers');
  return {
    durationSeconds: number('duration', pick('duration', 'BENCH_DURATION', '15'), 1, 600),
    warmupSeconds: number('warmup', pick('warmup', 'BENCH_WARMUP', '3'), 0, 120),
    concurrency,
    out: pick('out', 'BENCH_OUT', 'bench-results/latest.json'),
    mongodbUri: env.MONGODB_URI || undefined,
  };
}
