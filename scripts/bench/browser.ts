// The benchmark's browser: one cookie jar (tough-cookie, so paths and signed-cookie pairs behave as in a real
// browser), redirects taken one hop at a time, and the one thing a user does on a page: fill in and submit its form.
// Every request carries the flow's abort signal, so a stuck server cannot hold a flow forever.
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  /** The absolute redirect target, when the answer is a redirect. */
  location: string | undefined;
  contentType: string;
  body: string;
}

export interface Form {
  action: string;
  fields: Record<string, string>;
  /** Names of the inputs of type password. */
  passwordFields: string[];
}

/** Called after every request with a label that is the same for the same step of every flow. */
export type RequestObserver = (label: string, ms: number) => void;

export class Browser {
  readonly #jar = new CookieJar();
  readonly #signal: AbortSignal;
  readonly #observe: RequestObserver;
  readonly #headers: Record<string, string>;
  #requests = 0;

  /** `headers` go with every request (the recovery scenario's X-Forwarded-For, as a proxy in front would add). */
  constructor(signal: AbortSignal, observe: RequestObserver, headers: Record<string, string> = {}) {
    this.#signal = signal;
    this.#observe = observe;
    this.#headers = headers;
  }

  async request(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Page> {
    const started = performance.now();
    const cookie = await this.#jar.getCookieString(url);
    const response = await fetch(url, {
      method: init.method ?? 'GET',
      body: init.body,
      redirect: 'manual',
      signal: this.#signal,
      headers: { accept: 'text/html', ...this.#headers, ...(cookie && { cookie }), ...init.headers },
    });
    for (const setCookie of response.headers.getSetCookie()) await this.#jar.setCookie(setCookie, url);
    const body = await response.text();
    this.record(init.method ?? 'GET', url, performance.now() - started);
    const location = response.headers.get('location');
    return {
      url,
      status: response.status,
      location: location ? new URL(location, url).href : undefined,
      contentType: response.headers.get('content-type') ?? '',
      body,
    };
  }

  /** The Cookie header this browser would send to `url`. */
  cookieHeader(url: string): Promise<string> {
    return this.#jar.getCookieString(url);
  }

  /** Reports a request's time under "<n>. METHOD /path", n counting the flow's requests (login and consent pages share a path). */
  record(method: string, url: string, ms: number): void {
    this.#requests += 1;
    this.#observe(`${this.#requests}. ${stepLabel(method, url)}`, ms);
  }

  submit(form: Form, values: Record<string, string> = {}): Promise<Page> {
    return this.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, ...values }).toString(),
    });
  }
}

/** "POST /interaction/:id/login": the path with its random segments (uids, ids) replaced. */
export function stepLabel(method: string, url: string): string {
  const path = new URL(url).pathname.replace(/\/[A-Za-z0-9_-]{16,}(?=\/|$)/g, '/:id');
  return `${method} ${path}`;
}

const ENTITIES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#34;': '"', '&#39;': "'", '&#x2F;': '/', '&#47;': '/' };
const decode = (text: string) => text.replace(/&(?:amp|lt|gt|quot|#34|#39|#x2F|#47);/g, (entity) => ENTITIES[entity] ?? entity);

const attribute = (tag: string, name: string) => {
  const value = new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1];
  return value === undefined ? undefined : decode(value);
};

/** Every POST form of the page, in order; the parsing is only as general as our pages and the library's need. */
function postForms(page: Page): Form[] {
  const forms: Form[] = [];
  for (const [, attributes = '', inner = ''] of page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const action = attribute(attributes, 'action');
    if (action === undefined || (attribute(attributes, 'method') ?? 'get').toLowerCase() !== 'post') continue;
    const fields: Record<string, string> = {};
    const passwordFields: string[] = [];
    for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input, 'name');
      if (!name) continue;
      if (attribute(input, 'type')?.toLowerCase() === 'password') passwordFields.push(name);
      fields[name] = attribute(input, 'value') ?? '';
    }
    forms.push({ action: new URL(action, page.url).href, fields, passwordFields });
  }
  return forms;
}

/** The form a user would submit to go on: the first POST form that is not a way out (cancel/abort). */
export function primaryForm(page: Page): Form {
  const form = postForms(page).find((candidate) => !/\/abort\b/.test(candidate.action));
  if (!form) throw new Error(`no form to submit on ${stepLabel('GET', page.url)} (status ${page.status})`);
  return form;
}

/** The POST form whose action's path ends with `suffix` (e.g. "/send"). */
export function formEndingWith(page: Page, suffix: string): Form {
  const form = postForms(page).find((candidate) => new URL(candidate.action).pathname.endsWith(suffix));
  if (!form) throw new Error(`no ${suffix} form on ${stepLabel('GET', page.url)} (status ${page.status})`);
  return form;
}
