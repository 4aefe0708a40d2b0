// Benchmark child: the browsers. Runs in its own process so the servers' event loops measure only serving.
// A window runs N browsers side by side; each starts fresh flows (a new cookie jar, so a full sign-in every time)
// until the window's deadline, then the window waits for the flows in progress to end, so nothing from one
// window spills into the next one's database command count. A window runs either sign-ins (flow.ts) or, against
// Latchkey, password resets by email code (recovery-flow.ts), whose emails arrive at this process's mail server.
import { runFlow, discover, type Endpoints } from './flow.ts';
import { startMailbox, type Mailbox } from './mailbox.ts';
import { runRecoveryFlow } from './recovery-flow.ts';
import { hammer, type RequestSpec } from './requests.ts';
import { loginPosts } from './login-posts.ts';
import { runChild } from './ipc.ts';
import { summarize, type LatencySummary } from './stats.ts';
import { cpuMicros, type Target } from './target.ts';
import type { RequestObserver } from './browser.ts';

/** Longest a single flow may take before it is abandoned (and counted as failed). */
const FLOW_TIMEOUT_MS = 30_000;
/** After a failure a browser pauses, so a broken server is not hammered in a tight loop. */
const PAUSE_AFTER_FAILURE_MS = 100;
/** Distinct failure messages kept per window. */
const MAX_FAILURE_KINDS = 10;

export type FlowKind = 'sign-in' | 'recovery';

export interface WindowRequest {
  target: string;
  flow: FlowKind;
  concurrency: number;
  durationMs: number;
}

export interface WindowResult {
  completed: number;
  failed: number;
  /** Failure message → how many flows failed with it. */
  failures: Record<string, number>;
  elapsedMs: number;
  latencyMs: LatencySummary;
  /** Median time of each request of a flow, by step label. */
  stepP50Ms: Record<string, number>;
  clientCpuMicros: number;
}

export interface LoadClientInfo {
  pid: number;
  /** Where Latchkey sends its emails in the recovery scenario. */
  smtpUrl: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Prepared {
  target: Target;
  endpoints: Endpoints;
  /** Recovery accounts no browser is using, least recently used first; kept across windows, so limits see each rarely. */
  idleAccounts: NonNullable<Target['recovery']>['accounts'];
}

/** The flow a browser runs again and again: each recovery takes an account no other browser is recovering. */
function flowRunner(kind: FlowKind, { target, endpoints, idleAccounts }: Prepared, mailbox: Mailbox, concurrency: number) {
  if (kind === 'sign-in') return (signal: AbortSignal, observe: RequestObserver) => runFlow(target, endpoints, signal, observe);
  const recovery = target.recovery;
  if (!recovery) throw new Error(`${target.name} has no recovery scenario`);
  if (recovery.accounts.length < concurrency) throw new Error(`${concurrency} browsers need as many recovery accounts; there are ${recovery.accounts.length}`);
  return async (signal: AbortSignal, observe: RequestObserver) => {
    const account = idleAccounts.shift()!;
    try {
      await runRecoveryFlow(recovery, account, mailbox, signal, observe);
    } finally {
      idleAccounts.push(account);
    }
  };
}

async function runWindow(prepared: Prepared, mailbox: Mailbox, { flow, concurrency, durationMs }: WindowRequest): Promise<WindowResult> {
  const run = flowRunner(flow, prepared, mailbox, concurrency);
  const cpuBefore = cpuMicros();
  const started = performance.now();
  const deadline = started + durationMs;
  const latencies: number[] = [];
  const steps = new Map<string, number[]>();
  const failures = new Map<string, number>();
  let failed = 0;
  const observe = (label: string, ms: number) => {
    let list = steps.get(label);
    if (!list) steps.set(label, (list = []));
    list.push(ms);
  };

  async function browse() {
    while (performance.now() < deadline) {
      const flowStarted = performance.now();
      try {
        await run(AbortSignal.timeout(FLOW_TIMEOUT_MS), observe);
        latencies.push(performance.now() - flowStarted);
      } catch (error) {
        failed += 1;
        const message = error instanceof Error ? error.message : String(error);
        if (failures.has(message) || failures.size < MAX_FAILURE_KINDS) failures.set(message, (failures.get(message) ?? 0) + 1);
        await sleep(PAUSE_AFTER_FAILURE_MS);
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, browse));

  return {
    completed: latencies.length,
    failed,
    failures: Object.fromEntries(failures),
    elapsedMs: performance.now() - started,
    latencyMs: summarize(latencies),
    stepP50Ms: Object.fromEntries([...steps].map(([label, samples]) => [label, summarize(samples).p50])),
    clientCpuMicros: cpuMicros() - cpuBefore,
  };
}

await runChild(async () => {
  const targets = new Map<string, Prepared>();
  const mailbox = await startMailbox();
  return {
    info: { pid: process.pid, smtpUrl: mailbox.url } satisfies LoadClientInfo,
    handlers: {
      /** Learns the providers' endpoints (discovery); params: Target[]. */
      async prepare(params) {
        for (const target of params as Target[]) {
          const endpoints = await discover(target, AbortSignal.timeout(10_000));
          targets.set(target.name, { target, endpoints, idleAccounts: [...(target.recovery?.accounts ?? [])] });
        }
        return null;
      },
      /** One endpoint's requests per second; params: { spec, concurrency, durationMs }. */
      async requests(params) {
        const { spec, concurrency, durationMs } = params as { spec: RequestSpec; concurrency: number; durationMs: number };
        return hammer(spec, concurrency, durationMs);
      },
      /** Password sign-in POSTs per second; params: { target, concurrency, durationMs }. */
      async loginPosts(params) {
        const { target, concurrency, durationMs } = params as { target: string; concurrency: number; durationMs: number };
        const prepared = targets.get(target);
        if (!prepared) throw new Error(`unknown target ${target}`);
        return loginPosts(prepared.target, prepared.endpoints, concurrency, durationMs);
      },
      async run(params) {
        const request = params as WindowRequest;
        const prepared = targets.get(request.target);
        if (!prepared) throw new Error(`unknown target ${request.target}`);
        return runWindow(prepared, mailbox, request);
      },
    },
    stop: () => mailbox.close(),
  };
});
