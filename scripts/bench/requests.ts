// Requests per second at one endpoint: `concurrency` loops sending the same request until the deadline (each
// waits for its answer before the next, over kept-alive connections). For the endpoints a relying party or a
// resource server calls on its own, outside any browser flow: discovery, JWKS, client credentials, introspection;
// and the password sign-in POSTs, each to a sign-in page opened beforehand (login-posts.ts).
//
// Sent with node:http, not fetch: the load client shares the two cores with the servers it measures, and fetch
// costs it 0.2 to 0.5 ms of CPU per request here, against about 0.05 ms for node:http. With fetch the client was
// the bottleneck (a bare Koa hello-world measured 5,000 to 6,000 requests/s instead of about 20,000), which pulled
// every rate towards the client's own ceiling and every ratio between two of them towards 1.
import { Agent, request, type IncomingHttpHeaders, type RequestOptions } from 'node:http';
import { summarize, type LatencySummary } from './stats.ts';

export interface RequestSpec {
  url: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Statuses that count as answered (default: 200). */
  ok?: number[];
}

export interface RequestsResult {
  completed: number;
  failed: number;
  /** The first few unexpected answers, for the report. */
  failures: Record<string, number>;
  elapsedMs: number;
  latencyMs: LatencySummary;
}

/** Per request: an answer that takes longer counts as failed. */
const REQUEST_TIMEOUT_MS = 10_000;

/** One request on `agent`'s kept-alive connections; resolves with the answer's head once its whole body has arrived. */
function send(agent: Agent, options: RequestOptions, body: Buffer | undefined): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const sent = request({ ...options, agent }, (response) => {
      response.on('data', () => {});
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers }));
      response.on('error', reject);
    });
    // The agent's sockets time out after REQUEST_TIMEOUT_MS of silence (set once per socket, not per request).
    sent.on('timeout', () => sent.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    sent.on('error', reject);
    sent.end(body);
  });
}

/** One request ready to send, and which answers to it count as answered. */
export interface ReadyRequest {
  options: RequestOptions;
  body: Buffer | undefined;
  answered(status: number, headers: IncomingHttpHeaders): boolean;
}

/**
 * `concurrency` loops, each sending `next()`'s request and waiting for its answer before the next one, until the
 * deadline or until `next` has none left; the rate is over the time it ran.
 */
export async function sendRepeatedly(concurrency: number, durationMs: number, next: () => ReadyRequest | undefined): Promise<RequestsResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, timeout: REQUEST_TIMEOUT_MS });
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let failed = 0;
  const fail = (reason: string) => {
    failed += 1;
    failures.set(reason, (failures.get(reason) ?? 0) + 1);
  };
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    for (let ready = next(); ready && performance.now() < deadline; ready = next()) {
      const sentAt = performance.now();
      try {
        const { status, headers } = await send(agent, ready.options, ready.body);
        if (ready.answered(status, headers)) latencies.push(performance.now() - sentAt);
        else fail(`status ${status}`);
      } catch (error) {
        fail(error instanceof Error ? error.message : String(error));
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, loop));
  } finally {
    agent.destroy();
  }
  return { completed: latencies.length, failed, failures: Object.fromEntries([...failures].slice(0, 10)), elapsedMs: performance.now() - started, latencyMs: summarize(latencies) };
}

export function hammer(spec: RequestSpec, concurrency: number, durationMs: number): Promise<RequestsResult> {
  const ok = new Set(spec.ok ?? [200]);
  const url = new URL(spec.url);
  const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
  const request: ReadyRequest = {
    options: {
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method: spec.method ?? 'GET',
      headers: { ...spec.headers, ...(body && { 'content-length': String(body.length) }) },
    },
    body,
    answered: (status) => ok.has(status),
  };
  return sendRepeatedly(concurrency, durationMs, () => request);
}
