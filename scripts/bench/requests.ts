// Requests per second at one endpoint: `concurrency` loops sending the same request until the deadline (each
// waits for its answer before the next, over kept-alive connections). For the endpoints a relying party or a
// resource server calls on its own, outside any browser flow: discovery, JWKS, client credentials, introspection.
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

export async function hammer(spec: RequestSpec, concurrency: number, durationMs: number): Promise<RequestsResult> {
  const ok = new Set(spec.ok ?? [200]);
  const latencies: number[] = [];
  const failures = new Map<string, number>();
  let failed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      try {
        const response = await fetch(spec.url, { method: spec.method ?? 'GET', headers: spec.headers, body: spec.body, signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (ok.has(response.status)) latencies.push(performance.now() - sent);
        else {
          failed += 1;
          failures.set(`status ${response.status}`, (failures.get(`status ${response.status}`) ?? 0) + 1);
        }
      } catch (error) {
        failed += 1;
        const message = error instanceof Error ? error.message : String(error);
        failures.set(message, (failures.get(message) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { completed: latencies.length, failed, failures: Object.fromEntries([...failures].slice(0, 10)), elapsedMs: performance.now() - started, latencyMs: summarize(latencies) };
}
