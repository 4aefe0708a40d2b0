// Password sign-in POSTs per second: the one request of a sign-in whose cost is argon2id, measured on its own and
// read against raw argon2 verifications per second with the same parameters and concurrency (latchkey-server.ts).
// Each POST needs its own sign-in page (an interaction), so a pool of them is opened before the window; the window
// ends at its deadline or when the pool runs out, and the rate is over the time it ran.
//
// The pages are opened by the benchmark's browser (fetch, a cookie jar); the POSTs themselves are sent with
// node:http, with each browser's Cookie header taken from its jar beforehand, as the argon2-only server's POSTs
// are (requests.ts): both sides of the ratio then cost the load client, which shares the two cores, the same.
import type { IncomingHttpHeaders } from 'node:http';
import { Browser, primaryForm } from './browser.ts';
import { authorizationRequest, type Endpoints } from './flow.ts';
import { sendRepeatedly, type ReadyRequest, type RequestsResult } from './requests.ts';
import type { Target } from './target.ts';

/** Sign-in pages opened per browser before a window. */
export const LOGINS_PER_BROWSER = 60;

// Signed in: a redirect on to the authorization endpoint; a refusal redirects back to the sign-in page.
const signedIn = (status: number, headers: IncomingHttpHeaders) => status === 303 && Boolean(headers.location?.includes('/oidc/auth/'));

/** A sign-in page's form, filled in and ready to post. */
async function openSignIn(target: Target, endpoints: Endpoints): Promise<ReadyRequest> {
  const browser = new Browser(AbortSignal.timeout(120_000), () => {});
  let page = await browser.request(authorizationRequest(target, endpoints).url);
  for (let hops = 0; page.status >= 300 && page.status < 400 && page.location && hops < 5; hops += 1) page = await browser.request(page.location);
  const form = primaryForm(page);
  if (form.passwordFields.length === 0) throw new Error('expected the sign-in page');
  const body = Buffer.from(new URLSearchParams({ ...form.fields, login: target.login, [form.passwordFields[0]!]: target.password }).toString());
  const action = new URL(form.action);
  const headers = {
    accept: 'text/html',
    cookie: await browser.cookieHeader(form.action),
    'content-type': 'application/x-www-form-urlencoded',
    'content-length': String(body.length),
  };
  return { options: { host: action.hostname, port: action.port, path: action.pathname + action.search, method: 'POST', headers }, body, answered: signedIn };
}

export async function loginPosts(target: Target, endpoints: Endpoints, concurrency: number, durationMs: number): Promise<RequestsResult> {
  const pool: ReadyRequest[] = [];
  for (let i = 0; i < concurrency * LOGINS_PER_BROWSER; i += concurrency) {
    pool.push(...(await Promise.all(Array.from({ length: concurrency }, () => openSignIn(target, endpoints)))));
  }
  return sendRepeatedly(concurrency, durationMs, () => pool.pop());
}
