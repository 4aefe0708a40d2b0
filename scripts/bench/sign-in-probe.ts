// One sign-in attempt as ENUM-TIME measures it: a fresh browser (empty cookie jar) sends an authorization request
// and follows it to the sign-in page, unmeasured; then only the sign-in POST is timed, from sending the form to
// the last byte of the answer. A refusal's answer is a redirect back to the sign-in page; that page (unmeasured) is
// what the attempt returns. The caller decides what the answer should have been.
import { Browser, primaryForm, stepLabel, type Form, type Page } from './browser.ts';
import { authorizationRequest, type Endpoints } from './flow.ts';
import type { Target } from './target.ts';

/** The authorization request redirects once to the sign-in page; more hops than this would be a loop. */
const MAX_REDIRECTS = 5;

/** What our sign-in page shows for every refused sign-in, whatever the reason: the answer ENUM-TIME expects. */
const GENERIC_ERROR = 'data-message-id="login.invalid"';

export interface Credentials {
  login: string;
  password: string;
}

export interface Attempt {
  /** Time of the sign-in POST alone. */
  ms: number;
  /** Its answer. */
  page: Page;
}

/** Timings are not requested: the POST is timed here, around the request alone. */
const ignoreTimings = () => {};

export async function attemptSignIn(target: Target, endpoints: Endpoints, credentials: Credentials, signal: AbortSignal): Promise<Attempt> {
  const browser = new Browser(signal, ignoreTimings);
  const form = await openSignInPage(browser, authorizationRequest(target, endpoints).url);
  const values = { login: credentials.login, [form.passwordFields[0]!]: credentials.password };
  const started = performance.now();
  const answer = await browser.submit(form, values);
  const ms = performance.now() - started;
  const back = answer.status === 303 && answer.location && /^\/interaction\/[^/]+$/.test(new URL(answer.location).pathname);
  return { ms, page: back ? await browser.request(answer.location!) : answer };
}

async function openSignInPage(browser: Browser, url: string): Promise<Form> {
  let page = await browser.request(url);
  for (let redirects = 0; page.location && redirects < MAX_REDIRECTS; redirects += 1) {
    // The measurement talks to the local server only, whatever a redirect says.
    if (new URL(page.location).hostname !== '127.0.0.1') throw new Error(`redirect away from 127.0.0.1: ${page.location}`);
    page = await browser.request(page.location);
  }
  if (page.status !== 200) throw new Error(`expected the sign-in page, got ${page.status} at ${stepLabel('GET', page.url)}`);
  const form = primaryForm(page);
  if (form.passwordFields.length === 0) throw new Error(`expected the sign-in page, got a form without a password at ${stepLabel('GET', page.url)}`);
  if (new URL(form.action).hostname !== '127.0.0.1') throw new Error(`sign-in form posts away from 127.0.0.1: ${form.action}`);
  return form;
}

/** Why an answer is not the generic refusal (200, the sign-in page again, "login.invalid"); undefined when it is. */
export function notGenericRefusal(page: Page): string | undefined {
  if (page.status !== 200) return `answered ${page.status}${page.location ? ` to ${stepLabel('GET', page.location)}` : ''}`;
  if (!page.contentType.includes('html')) return `answered 200 with ${page.contentType || 'no content type'}`;
  if (!page.body.includes(GENERIC_ERROR)) {
    const shown = [...page.body.matchAll(/data-message-id="([^"]*)"/g)].map((match) => match[1]).join(', ');
    return `answered 200 without the generic error (messages on the page: ${shown || 'none'})`;
  }
  return undefined;
}
