// Password sign-in POSTs per second: the one request of a sign-in whose cost is argon2id, measured on its own and
// read against raw argon2 verifications per second with the same parameters and concurrency (latchkey-server.ts).
// Each POST needs its own sign-in page (an interaction), so a pool of them is opened before the window; the window
// ends at its deadline or when the pool runs out, and the rate is over the time it ran.
import { Browser, primaryForm, type Form } from './browser.ts';
import { authorizationRequest, type Endpoints } from './flow.ts';
import type { RequestsResult } from './requests.ts';
import { summarize } from './stats.ts';
import type { Target } from './target.ts';

/** Sign-in pages opened per browser before a window. */
export const LOGINS_PER_BROWSER = 60;

interface OpenSignIn {
  browser: Browser;
  form: Form;
}

async function openSignIn(target: Target, endpoints: Endpoints): Promise<OpenSignIn> {
  const browser = new Browser(AbortSignal.timeout(120_000), () => {});
  let page = await browser.request(authorizationRequest(target, endpoints).url);
  for (let hops = 0; page.status >= 300 && page.status < 400 && page.location && hops < 5; hops += 1) page = await browser.request(page.location);
  const form = primaryForm(page);
  if (form.passwordFields.length === 0) throw new Error('expected the sign-in page');
  return { browser, form };
}

export async function loginPosts(target: Target, endpoints: Endpoints, concurrency: number, durationMs: number): Promise<RequestsResult> {
  const pool: OpenSignIn[] = [];
  for (let i = 0; i < concurrency * LOGINS_PER_BROWSER; i += concurrency) {
    pool.push(...(await Promise.all(Array.from({ length: concurrency }, () => openSignIn(target, endpoints)))));
  }
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let failed = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const loop = async () => {
    for (let open = pool.pop(); open && performance.now() < deadline; open = pool.pop()) {
      const sent = performance.now();
      const page = await open.browser.submit(open.form, { login: target.login, [open.form.passwordFields[0]!]: target.password });
      // Signed in: a redirect on to the authorization endpoint; a refusal redirects back to the sign-in page.
      if (page.status === 303 && page.location?.includes('/oidc/auth/')) latencies.push(performance.now() - sent);
      else {
        failed += 1;
        failures[`status ${page.status}`] = (failures[`status ${page.status}`] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { completed: latencies.length, failed, failures, elapsedMs: performance.now() - started, latencyMs: summarize(latencies) };
}
