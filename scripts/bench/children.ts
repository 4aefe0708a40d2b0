// The parent's side of the benchmark's child processes: fork a script with an IPC channel, wait for it to announce
// itself, call it, stop it. A child's console output is kept (the tail only) instead of printed, so the table is
// not buried under the provider's notices; it is shown when the child fails.
import { fork, type ChildProcess } from 'node:child_process';
import { isAnnouncement, isReply, type Request } from './ipc.ts';

const OUTPUT_TAIL_CHARS = 4000;
const STOP_TIMEOUT_MS = 15_000;

export interface Child<Info> {
  name: string;
  info: Info;
  /** Sends a request and waits for its answer, at most `timeoutMs`. */
  call<T>(method: string, params: unknown, timeoutMs: number): Promise<T>;
  /** Asks the child to stop, then kills it if it has not exited in time. Safe to call more than once. */
  stop(): Promise<void>;
  /** Kills the child at once (last resort when the parent is exiting). */
  kill(): void;
  outputTail(): string;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export async function startChild<Info>(name: string, script: URL, options: { env?: Record<string, string>; readyTimeoutMs: number }): Promise<Child<Info>> {
  const child = fork(script, [], {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const outputTail = () => output.trim();

  const pending = new Map<number, Pending>();
  let nextId = 1;
  let exited: string | undefined;
  child.on('exit', (code, signal) => {
    exited = `${name} exited (${signal ?? `code ${code}`})`;
    for (const call of pending.values()) {
      clearTimeout(call.timer);
      call.reject(new Error(`${exited}; its last output:\n${outputTail()}`));
    }
    pending.clear();
  });
  child.on('message', (message: unknown) => {
    if (!isReply(message)) return;
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    clearTimeout(call.timer);
    if (message.ok) call.resolve(message.result);
    else call.reject(new Error(`${name}: ${message.error}`));
  });

  const info = await waitForAnnouncement<Info>(name, child, options.readyTimeoutMs, outputTail);

  function call<T>(method: string, params: unknown, timeoutMs: number): Promise<T> {
    if (exited) return Promise.reject(new Error(`${exited}; its last output:\n${outputTail()}`));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${name} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: Request = { id, method, params };
      child.send(request);
    });
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      const force = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      call('stop', null, STOP_TIMEOUT_MS).catch(() => child.kill('SIGKILL'));
      await gone;
      clearTimeout(force);
    })());

  return {
    name,
    info,
    call,
    stop,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    outputTail,
  };
}

function waitForAnnouncement<Info>(name: string, child: ChildProcess, timeoutMs: number, outputTail: () => string): Promise<Info> {
  return new Promise<Info>((resolve, reject) => {
    const fail = (reason: string) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start: ${reason}\n${outputTail()}`));
    };
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${signal ?? `code ${code}`})`);
    const onMessage = (message: unknown) => {
      if (!isAnnouncement(message)) return;
      if (message.event === 'failed') return fail(message.error);
      cleanup();
      resolve(message.info as Info);
    };
    function cleanup() {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
    }
    child.on('exit', onExit);
    child.on('message', onMessage);
  });
}
