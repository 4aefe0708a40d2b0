// What every measurement script here shares: a throw-away database, child processes that are always stopped
// (in reverse order, once, also on Ctrl-C, and never outliving this process), and the option/exit handling.
import { randomBytes } from 'node:crypto';
import { startLocalDb } from '../local-db.ts';
import { withDatabase } from '../../src/db/uri.ts';
import { startChild, type Child } from './children.ts';
import { OptionsError } from './options.ts';

/** Starting a server includes key generation, index creation and one argon2 hash. */
const START_TIMEOUT_MS = 120_000;

export const log = (line: string) => process.stderr.write(`${line}\n`);
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** Everything started, stopped in reverse, once, whatever happens. */
const stops: Array<() => Promise<void>> = [];
const children: Child<unknown>[] = [];
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  return (cleaning ??= (async () => {
    for (const stop of stops.reverse()) await stop().catch((error: unknown) => log(`while stopping: ${describe(error)}`));
  })());
}

/** Aborted on Ctrl-C, so a request in flight does not hold up the stop. */
const interruption = new AbortController();
export const interrupted: AbortSignal = interruption.signal;

/** A fresh database named `<prefix>_<random>`: on MONGODB_URI's server when given, else on a temporary FerretDB. */
export async function throwAwayDatabase(mongodbUri: string | undefined, prefix: string): Promise<string> {
  let server = mongodbUri;
  if (!server) {
    log('starting FerretDB…');
    const db = await startLocalDb({ log });
    stops.push(() => db.stop());
    server = db.uri;
  }
  return withDatabase(server, `${prefix}_${randomBytes(6).toString('hex')}`);
}

/** Starts a child process (children.ts) that is stopped with everything else. */
export async function startTrackedChild<Info>(name: string, script: URL, env: Record<string, string> = {}): Promise<Child<Info>> {
  const child = await startChild<Info>(name, script, { env, readyTimeoutMs: START_TIMEOUT_MS });
  children.push(child);
  stops.push(() => child.stop());
  return child;
}

export interface Script<Options> {
  parse(argv: string[], env: NodeJS.ProcessEnv): Options | 'help';
  usage: string;
  /** Runs the measurement; returns the exit status (0 when what it checks holds). */
  measure(options: Options): Promise<number>;
}

/** Runs a measurement script as the process: options (exit 2 when wrong), Ctrl-C (exit 130), clean-up, exit. */
export async function runScript<Options>({ parse, usage, measure }: Script<Options>): Promise<never> {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (cleaning) {
        // A second Ctrl-C: kill the children at once.
        for (const child of children) child.kill();
        process.exit(130);
      }
      log(`${signal}: stopping…`);
      interruption.abort();
      void cleanUp().then(() => process.exit(130));
    });
  }
  // Last resort if the process exits any other way: no child outlives it.
  process.on('exit', () => {
    for (const child of children) child.kill();
  });

  let options: Options | 'help';
  try {
    options = parse(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof OptionsError)) throw error;
    log(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (options === 'help') {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }

  let exitCode = 1;
  try {
    exitCode = await measure(options);
  } catch (error) {
    // After Ctrl-C the children going away is expected, not worth a stack trace.
    if (!interrupted.aborted) log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await cleanUp();
  }
  process.exit(exitCode);
}
