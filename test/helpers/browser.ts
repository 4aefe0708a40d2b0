// A minimal browser for HTTP-level tests: a real cookie jar (tough-cookie: paths, expiry, prefixes), manual
// redirects so each hop can be asserted, and helpers to read and submit the forms of our pages.
import { CookieJar } from 'tough-cookie';

export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

export interface Form {
  action: string;
  fields: Record<string, string>;
}

/**
 * A browser that reaches the server through a TLS-terminating proxy: it addresses pages by their public https URL
 * (which its cookie jar sees, so Secure and `__Host-` cookies behave as over https) while the requests go to the
 * server's plain-http origin with the proxy's forwarded headers (and any extra, e.g. forged, headers).
 */
export interface ProxyRoute {
  publicOrigin: string;
  serverOrigin: string;
  headers?: Record<string, string>;
}

export class Browser {
  readonly jar = new CookieJar();
  private readonly proxy: ProxyRoute | undefined;
  /** Sent with every request (a User-Agent, say). */
  private readonly ownHeaders: Record<string, string>;

  constructor(proxy?: ProxyRoute, ownHeaders: Record<string, string> = {}) {
    this.proxy = proxy;
    this.ownHeaders = ownHeaders;
  }

  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const cookie = await this.jar.getCookieString(url);
    const proxied = this.proxy && url.startsWith(this.proxy.publicOrigin);
    const target = proxied ? this.proxy!.serverOrigin + url.slice(this.proxy!.publicOrigin.length) : url;
    const forwarded = proxied ? { 'x-forwarded-proto': 'https', ...this.proxy!.headers } : {};
    const response = await fetch(target, {
      ...init,
      redirect: 'manual',
      headers: { accept: 'text/html', ...this.ownHeaders, ...forwarded, ...(cookie && { cookie }), ...(init.headers as Record<string, string>) },
    });
    for (const setCookie of response.headers.getSetCookie()) await this.jar.setCookie(setCookie, url);
    const body = await response.text();
    // Every page any test opens: a message whose {placeholder} was left unfilled shows the braces to a person.
    const unfilled = (response.headers.get('content-type') ?? '').startsWith('text/html') ? /\{[a-z_]+\}/.exec(body) : null;
    if (unfilled) throw new Error(`${url} shows an unfilled placeholder ${unfilled[0]}: …${body.slice(Math.max(0, unfilled.index - 120), unfilled.index + 40)}…`);
    return { url, status: response.status, headers: response.headers, body };
  }

  get(url: string): Promise<Page> {
    return this.request(url);
  }

  post(url: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  /** Follows redirects from `page` until a page that is not a redirect, or one whose URL starts with `stopAt`. */
  async follow(page: Page, stopAt?: string): Promise<Page> {
    let current = page;
    for (let hops = 0; hops < 20 && current.status >= 300 && current.status < 400; hops += 1) {
      const next = new URL(current.headers.get('location')!, current.url).href;
      if (stopAt && next.startsWith(stopAt)) return { ...current, url: next };
      current = await this.get(next);
    }
    return current;
  }

  async cookieNames(url: string): Promise<string[]> {
    return (await this.jar.getCookies(url)).map((c) => c.key);
  }
}

const decode = (s: string) => s.replace(/&#34;|&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Every form of a page, with its absolute action and its hidden and prefilled fields. */
export function allForms(page: Page): Form[] {
  return [...page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)].flatMap(([, attributes = '', inner = '']) => {
    const action = /action="([^"]*)"/.exec(attributes)?.[1];
    if (action === undefined) return [];
    const fields: Record<string, string> = {};
    for (const [input] of inner.matchAll(/<input\b[^>]*>/g)) {
      // As a browser does, an unticked checkbox sends nothing.
      if (/type="checkbox"/.test(input) && !/\schecked\b/.test(input)) continue;
      const name = /name="([^"]*)"/.exec(input)?.[1];
      const value = /value="([^"]*)"/.exec(input)?.[1];
      if (name) fields[name] = decode(value ?? '');
    }
    return [{ action: new URL(decode(action), page.url).href, fields }];
  });
}

/** The first form of a page whose action contains `actionPart`. */
export function findForm(page: Page, actionPart: string): Form {
  const form = allForms(page).find((candidate) => candidate.action.includes(actionPart));
  if (form) return form;
  throw new Error(`no form with action containing ${actionPart} on ${page.url} (status ${page.status}):\n${page.body.slice(0, 2000)}`);
}

/** Message ids shown on a page (data-message-id attributes). */
export function messageIds(page: Page): string[] {
  return [...page.body.matchAll(/data-message-id="([^"]+)"/g)].map((m) => m[1]!);
}

/** Where the link (an <a>) carrying this message id leads, as written (its `&amp;` read as `&`), or undefined. */
export function linkTo(page: Page, messageId: string): string | undefined {
  return new RegExp(`<a [^>]*href="([^"]*)"[^>]*data-message-id="${messageId}"`).exec(page.body)?.[1]?.replaceAll('&amp;', '&');
}

/**
 * A sign-in page with everything that legitimately differs between two interactions blanked out: its id, CSRF token
 * and nonce, the refused post's support code, and the login typed (`login`).
 */
export function comparableSignInPage(page: Page, login: string): string {
  return page.body
    .replace(/\/interaction\/[\w-]+/g, '/interaction/UID')
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value="TOKEN"')
    .replace(/nonce="[^"]*"/g, 'nonce="NONCE"')
    .replace(/Support code: [A-Z0-9]{8}/g, 'Support code: CODE')
    .replaceAll(login, 'LOGIN');
}
