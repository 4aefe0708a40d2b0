// The local MongoDB-compatible server for development, tests and benchmarks: FerretDB 1.24.2 built from its Go
// module source (scripts/ferretdb/build.sh) and run with its SQLite backend. Production uses MONGODB_URI instead.
//
//   npm run db            start it in the foreground (data in .data/ferretdb) and print its URI; `npm start`,
//                         `npm run demo` and `npm run admin` find and share a development database already running
//
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mongoose from 'mongoose';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const recipe = join(root, 'scripts/ferretdb/build.sh');
const toolsDir = join(root, '.tools/ferretdb');
const binary = join(toolsDir, 'ferretdb');
const recipeStamp = join(toolsDir, 'recipe.sha256');

export class LocalDbUnavailable extends Error {}

function recipeHash(): string {
  return createHash('sha256').update(readFileSync(recipe)).digest('hex');
}

/** Builds the binary when it is missing or was built by another version of the recipe. */
export async function ensureFerretDb(log: (line: string) => void = () => {}): Promise<string> {
  if (isBuilt()) return binary;
  if (!(await hasGo())) {
    throw new LocalDbUnavailable(
      `No MONGODB_URI is set and no \`go\` command was found (on PATH or in ${GO_DEV_BIN}), so the local database (FerretDB) cannot be built.\n` +
        'Either set MONGODB_URI=mongodb://… to a MongoDB 6+ server, or install Go 1.24+ and run again (https://go.dev/dl/; the first build also downloads the FerretDB modules from the Go proxy).',
    );
  }
  log('building the local database (FerretDB 1.24.2) from source; this takes a minute the first time…');
  await buildFerretDb(binary);
  writeFileSync(recipeStamp, recipeHash() + '\n');
  return binary;
}

/**
 * Runs the recipe into `out`. A failed build is something the person can fix (a Go older than the module asks for,
 * no way to the Go proxy): it says what Go printed and what to do, rather than a stack trace.
 */
export async function buildFerretDb(out: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  try {
    await promisify(execFile)('bash', [recipe, out], { maxBuffer: 64 * 1024 * 1024, env: withGoDevBin(env) });
  } catch (error) {
    // The recipe is a bash script: without bash (Windows outside WSL) the fault is not Go's.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new LocalDbUnavailable('Building the local database needs bash, which was not found. On Windows, run Latchkey inside WSL 2; or set MONGODB_URI=mongodb://… to a MongoDB 6+ server instead.');
    }
    const printed = String((error as { stderr?: unknown }).stderr ?? '').trim().split('\n').slice(-10).join('\n');
    throw new LocalDbUnavailable(
      `Building the local database (FerretDB 1.24.2) failed${printed ? `:\n${printed}` : '.'}\n` +
        'It needs Go 1.24+ (https://go.dev/dl/; Go 1.21 to 1.23 fetch it themselves from the Go proxy) and a way to the Go proxy; ' +
        'or set MONGODB_URI=mongodb://… to a MongoDB 6+ server instead.',
    );
  }
}

/**
 * Where go.dev's archive puts Go on Linux and macOS. Its own step of adding that folder to PATH is easily missed (and
 * a new shell forgets it), so Go is looked for there too, after PATH.
 */
const GO_DEV_BIN = '/usr/local/go/bin';

function withGoDevBin(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const path = env.PATH ?? '';
  if (path.split(delimiter).includes(GO_DEV_BIN)) return env;
  return { ...env, PATH: path ? `${path}${delimiter}${GO_DEV_BIN}` : GO_DEV_BIN };
}

/** Whether a `go` command runs, on PATH or where go.dev's archive installs it (the command is looked up in `env`). */
export async function hasGo(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  try {
    await promisify(execFile)('go', ['version'], { env: withGoDevBin(env) });
    return true;
  } catch {
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface LocalDb {
  /** A mongodb:// URI without a database name; append `/<db>`. */
  uri: string;
  stop(): Promise<void>;
  /**
   * This process is stopping (`stop` follows once Latchkey has): the server's exit from now on is no crash to
   * restart. Ctrl-C in a terminal reaches the database too (one process group), before Latchkey has finished.
   */
  expectStop(): void;
  /** Kills the server as a crash would (tests): a supervised server is started again. Absent when shared. */
  kill?: () => void;
  /** Freezes the server (SIGSTOP), as a hung host or a dropped network would, until the returned resume (tests). Absent when shared. */
  pause?: () => () => void;
}

export interface StartOptions {
  /** Where the SQLite files live. Kept between runs when given; a temporary folder removed on stop otherwise. */
  dataDir?: string;
  /** A fixed port (a restart where clients still hold the old address); a free one otherwise. */
  port?: number;
  /** The first wait before restarting a server that exited (1 s); tests lengthen it to observe the outage. */
  restartDelayMs?: number;
  log?: (line: string) => void;
}

/**
 * Where `npm start`, `npm run demo`, `npm run db` and `npm run admin` keep and find the development database:
 * .data/ferretdb, or LOCAL_DB_DIR (a second, separate development database; tests use it too).
 */
export function devDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOCAL_DB_DIR ? resolve(env.LOCAL_DB_DIR) : join(root, '.data/ferretdb');
}

/** The file in a data folder that names the server running on it, so other commands can find and share it. */
const uriFile = (dataDir: string) => join(dataDir, 'uri');

/** The URI of a local database already running on `dataDir`, if one answers. */
export async function runningLocalDb(dataDir: string = devDataDir()): Promise<string | undefined> {
  if (!existsSync(uriFile(dataDir))) return undefined;
  const uri = readFileSync(uriFile(dataDir), 'utf8').trim();
  const connection = mongoose.createConnection(`${uri}/admin`, { serverSelectionTimeoutMS: 1000 });
  try {
    await connection.asPromise();
    await connection.db!.admin().ping();
    return uri;
  } catch {
    return undefined; // left behind by a server that is gone
  } finally {
    await connection.close().catch(() => {});
  }
}

const lockFile = (dataDir: string) => join(dataDir, 'owner.lock');

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid in the folder's lock, if the lock exists and that process is alive. */
function liveOwner(dataDir: string): number | undefined {
  let owner: number;
  try {
    owner = Number(readFileSync(lockFile(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
  return owner && isAlive(owner) ? owner : undefined;
}

/** Takes the folder's lock (a file created exclusively, holding our pid); clears a lock whose owner has died. */
function tryLock(dataDir: string): boolean {
  mkdirSync(dataDir, { recursive: true });
  try {
    writeFileSync(lockFile(dataDir), String(process.pid), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(readFileSync(lockFile(dataDir), 'utf8'));
    if (!owner || !isAlive(owner)) rmSync(lockFile(dataDir), { force: true });
    return false;
  }
}

/**
 * Two servers on one SQLite folder would corrupt it. So a persistent folder has one owner: the first to take its
 * lock starts the server; everyone else (another `npm start`, `npm run db`, a racing start) shares that server.
 */
async function shareOrLock(dataDir: string): Promise<string | undefined> {
  // An owner starts its server within seconds, unless it is building FerretDB for the first time (a minute or two).
  const deadline = Date.now() + (isBuilt() ? OWNER_START_WAIT_MS : OWNER_BUILD_WAIT_MS);
  for (;;) {
    const running = await runningLocalDb(dataDir);
    if (running) return running;
    if (tryLock(dataDir)) return undefined;
    if (Date.now() > deadline) {
      const owner = liveOwner(dataDir);
      throw new LocalDbUnavailable(
        `The local database in ${dataDir} is locked by process ${owner ?? '(gone)'}, but no database answers there: ` +
          `stop that process, or delete ${lockFile(dataDir)} if it is not a Latchkey command.`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** How long a start waits for another process that holds the folder's lock to have its server answering. */
const OWNER_START_WAIT_MS = 10_000;
const OWNER_BUILD_WAIT_MS = 300_000;

function isBuilt(): boolean {
  return existsSync(binary) && existsSync(recipeStamp) && readFileSync(recipeStamp, 'utf8').trim() === recipeHash();
}

export async function startLocalDb(options: StartOptions = {}): Promise<LocalDb> {
  if (options.dataDir) {
    const running = await shareOrLock(options.dataDir);
    if (running) return shareServer({ ...options, dataDir: options.dataDir }, running);
    try {
      return await startOwnServer(options);
    } catch (error) {
      rmSync(lockFile(options.dataDir), { force: true });
      throw error;
    }
  }
  return startOwnServer(options);
}

/**
 * Another process owns the server (its owner stops and supervises it). When that owner has gone (stopped, or died
 * and its server with it), this process takes the folder's lock and starts the server itself on the same port, so
 * its connections come back by themselves and whoever else shared it keeps working too.
 */
function shareServer(options: StartOptions & { dataDir: string }, uri: string): LocalDb {
  const say = options.log ?? (() => {});
  const port = Number(new URL(uri).port);
  let owned: LocalDb | undefined;
  let stopping = false;
  let checking = false;

  async function takeOverIfOwnerGone(): Promise<void> {
    if (liveOwner(options.dataDir) !== undefined) return;
    // An owner killed outright can leave its server running: then it still serves, and nothing is started.
    if ((await runningLocalDb(options.dataDir)) !== undefined) return;
    if (!tryLock(options.dataDir) && !tryLock(options.dataDir)) return; // the first clears a dead owner's lock
    try {
      const server = await startOwnServer({ ...options, port });
      if (stopping) return void (await server.stop());
      owned = server;
      clearInterval(timer);
      say(`the local database's owner has gone; this process runs the database now (${uri}), its data is kept`);
    } catch (error) {
      rmSync(lockFile(options.dataDir), { force: true });
      say(`the local database's owner has gone, and starting it here failed: ${(error as Error).message.split('\n')[0]}`);
    }
  }

  const timer = setInterval(() => {
    if (checking || stopping) return;
    checking = true;
    void takeOverIfOwnerGone().finally(() => (checking = false));
  }, OWNER_CHECK_MS);
  timer.unref();

  return {
    uri,
    expectStop() {
      stopping = true;
      clearInterval(timer);
      owned?.expectStop();
    },
    async stop() {
      stopping = true;
      clearInterval(timer);
      await owned?.stop();
    },
    get kill() {
      return owned?.kill;
    },
  };
}

/** How often a process that shares another's server checks that its owner is still there. */
const OWNER_CHECK_MS = 2000;

/** Waits between restarts of a database that keeps exiting: 1 s, doubling, at most 30 s. */
const RESTART_DELAYS_MS = { first: 1000, max: 30_000 };
/** A server that ran this long before exiting was healthy: the next restart waits the first delay again. */
const HEALTHY_AFTER_MS = 60_000;

async function startOwnServer(options: StartOptions): Promise<LocalDb> {
  const bin = await ensureFerretDb(options.log);
  const temporary = !options.dataDir;
  const base = options.dataDir ?? join(root, '.data/tmp', `ferretdb-${process.pid}-${Date.now()}`);
  const dataDir = join(base, 'data');
  const stateDir = join(base, 'state');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(stateDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const uri = `mongodb://127.0.0.1:${port}`;
  const say = options.log ?? (() => {});

  let stderr = '';
  const spawnServer = async (): Promise<ChildProcess> => {
    const started = spawn(
      bin,
      [
        '--handler=sqlite',
        // The trailing slash makes it a directory: one SQLite file per database.
        `--sqlite-url=file:${dataDir}/?_pragma=synchronous(normal)`,
        `--listen-addr=127.0.0.1:${port}`,
        '--debug-addr=127.0.0.1:0',
        `--state-dir=${stateDir}`,
        '--telemetry=disable',
        '--log-level=error',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    started.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    try {
      await waitUntilAnswering(uri, started, () => stderr);
    } catch (error) {
      started.kill('SIGKILL');
      throw error;
    }
    return started;
  };

  // Supervised: when the server exits without being asked to (killed, crashed), it is started again on the same
  // port and data (clients reconnect by themselves), after a growing delay if it keeps exiting.
  let child = await spawnServer();
  let stopping = false;
  const firstDelayMs = options.restartDelayMs ?? RESTART_DELAYS_MS.first;
  let delayMs = firstDelayMs;
  let restartTimer: NodeJS.Timeout | undefined;
  const supervise = (running: ChildProcess, startedAt: number) => {
    running.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - startedAt > HEALTHY_AFTER_MS) delayMs = firstDelayMs;
      const stopped = `local database stopped (${signal ?? `exit code ${code}`})`;
      // A clean exit is what Ctrl-C in the terminal causes, a moment before this process hears of it and calls
      // expectStop: said only if the restart still goes ahead, so that stopping does not read like a crash.
      const clean = code === 0 && !signal;
      if (!clean) say(`${stopped}; restarting it in ${Math.round(delayMs / 1000)} s, its data is kept`);
      const restart = () => {
        restartTimer = undefined;
        if (stopping) return;
        if (clean) say(`${stopped}; restarting it, its data is kept`);
        spawnServer().then(
          (next) => {
            if (stopping) return void stopChild(next);
            child = next;
            say('local database is back');
            supervise(next, Date.now());
          },
          (error: unknown) => {
            say(`local database did not start again: ${(error as Error).message.split('\n')[0]}`);
            delayMs = Math.min(delayMs * 2, RESTART_DELAYS_MS.max);
            restartTimer = setTimeout(restart, delayMs);
          },
        );
      };
      restartTimer = setTimeout(restart, delayMs);
      delayMs = Math.min(delayMs * 2, RESTART_DELAYS_MS.max);
    });
  };
  supervise(child, Date.now());

  if (!temporary) writeFileSync(uriFile(base), uri + '\n');
  return {
    uri,
    expectStop() {
      stopping = true;
      clearTimeout(restartTimer);
    },
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      await stopChild(child);
      if (temporary) rmSync(base, { recursive: true, force: true });
      else for (const file of [uriFile(base), lockFile(base)]) rmSync(file, { force: true });
    },
    kill: () => child.kill('SIGKILL'),
    pause() {
      const frozen = child;
      frozen.kill('SIGSTOP');
      return () => void frozen.kill('SIGCONT');
    },
  };
}

async function waitUntilAnswering(uri: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`FerretDB exited with code ${child.exitCode}: ${stderr()}`);
    const connection = mongoose.createConnection(`${uri}/admin`, { serverSelectionTimeoutMS: 500 });
    try {
      await connection.asPromise();
      await connection.db!.admin().ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`FerretDB did not answer at ${uri}: ${stderr()}`, { cause: error });
      await new Promise((r) => setTimeout(r, 150));
    } finally {
      await connection.close().catch(() => {});
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}

// `npm run db`: run the persistent development database in the foreground.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const db = await startLocalDb({ dataDir: devDataDir(), log: (l) => process.stdout.write(l + '\n') }).catch((error: unknown) => {
    // What the person can fix (no Go, a failed build, a lock held by a database that never answers): said, no stack.
    if (!(error instanceof LocalDbUnavailable)) throw error;
    process.stderr.write(`\n${error.message}\n\n`);
    process.exit(1);
  });
  // A database another process already runs is only shared here: stopping this process leaves it running.
  const stops = db.kill ? 'Ctrl-C stops it.' : 'Another process (npm start, npm run demo or npm run db) runs it; Ctrl-C here leaves it to that one.';
  process.stdout.write(`local database ready: ${db.uri}\n${stops}\n`);
  const stop = () => void db.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
