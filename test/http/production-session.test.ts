// The session cookie a production server sets at sign-in (behind its TLS-terminating proxy): the __Host- prefix,
// so browsers keep it only if it is Secure, host-only and for the whole path, and HttpOnly.
//
// Cookies are handled by hand here: a cookie jar would rightly refuse Secure and prefixed cookies over the plain
// http the test server speaks behind its pretend proxy.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findForm, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';

const SESSION_COOKIE = '__Host-latchkey.session';
const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'id.example.test' };
const redirectUri = 'https://app.example.test/cb';

let server: TestServer;
let user: User;

beforeAll(async () => {
  server = await startTestServer({ ...PRODUCTION_ENV, ISSUER: 'https://id.example.test/oidc' });
  user = await createUser(server);
});
afterAll(() => server.close());

/** A browser at https://id.example.test, reached through the test server's plain http port. */
class ProxiedBrowser {
  readonly cookies = new Map<string, string>();
  readonly setCookies: string[] = [];

  async request(url: string, init: RequestInit = {}): Promise<Page> {
    const target = new URL(url, 'https://id.example.test');
    const local = `${server.origin}${target.pathname}${target.search}`;
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(local, {
      ...init,
      redirect: 'manual',
      headers: { accept: 'text/html', ...forwarded, ...(cookie && { cookie }), ...(init.headers as Record<string, string>) },
    });
    for (const header of response.headers.getSetCookie()) {
      this.setCookies.push(header);
      const [pair = ''] = header.split(';');
      const name = pair.slice(0, pair.indexOf('='));
      if (/expires=Thu, 01 Jan 1970/i.test(header)) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(pair.indexOf('=') + 1));
    }
    // Forms carry relative actions: resolve them against the public origin.
    return { url: target.href, status: response.status, headers: response.headers, body: await response.text() };
  }

  /** Follows redirects on the identity provider's origin; stops at the first response for another origin. */
  async follow(page: Page): Promise<Page> {
    let current = page;
    for (let hops = 0; hops < 10 && current.status >= 300 && current.status < 400; hops += 1) {
      const next = new URL(current.headers.get('location')!, current.url);
      if (next.origin !== 'https://id.example.test') return { ...current, url: next.href };
      current = await this.request(next.href);
    }
    return current;
  }
}

/** An authorization request's parameters for a new first-party client (PKCE), which needs no consent. */
async function authorizationParams(state: string, extra: Record<string, string> = {}): Promise<URLSearchParams> {
  const rp = await createClient(server, { redirect_uris: [redirectUri], first_party: true });
  return new URLSearchParams({
    client_id: rp.client_id,
    response_type: 'code',
    scope: 'openid',
    redirect_uri: redirectUri,
    state,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...extra,
  });
}

describe('the session cookie in production', () => {
  it(`is ${SESSION_COOKIE}: Secure, HttpOnly, Path=/ and no Domain, and it carries the session`, async () => {
    const browser = new ProxiedBrowser();
    const params = await authorizationParams('st1');
    const loginPage = await browser.follow(await browser.request(`/oidc/auth?${params}`));
    expect(loginPage.status).toBe(200);
    const form = findForm(loginPage, '/login');
    const posted = await browser.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, login: user.username, password: PASSWORD }).toString(),
    });
    expect(posted.status).toBe(303);
    // A first-party client: straight back to the RP with a code once the session exists.
    const back = await browser.follow(posted);
    expect(back.url.startsWith(`${redirectUri}?`)).toBe(true);
    expect(new URL(back.url).searchParams.get('code')).toEqual(expect.any(String));

    const sessionCookies = browser.setCookies.filter((c) => /^[^=]*latchkey\.session[^=]*=/.test(c) && !/expires=Thu, 01 Jan 1970/i.test(c));
    expect(sessionCookies.map((c) => c.slice(0, c.indexOf('='))).sort()).toEqual([SESSION_COOKIE, `${SESSION_COOKIE}.sig`]);
    for (const cookie of sessionCookies) {
      const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(['secure', 'httponly', 'path=/']));
      expect(attributes.some((a) => a.startsWith('domain='))).toBe(false);
    }

    // The prefixed cookie is the session: sent again, the next request needs no sign-in (prompt=none succeeds).
    params.set('prompt', 'none');
    params.set('state', 'st2');
    const again = await browser.follow(await browser.request(`/oidc/auth?${params}`));
    const answer = new URL(again.url);
    expect(answer.searchParams.get('error')).toBeNull();
    expect(answer.searchParams.get('code')).toEqual(expect.any(String));
  });
});

describe('every other cookie of a sign-in in production', () => {
  it('is __Host- or __Secure-, Secure and HttpOnly, also the ones that keep a typed login; a sign-in withdraws the login handed to the recovery', async () => {
    const browser = new ProxiedBrowser();
    const params = await authorizationParams('st3', { login_hint: user.username });
    const loginPage = await browser.follow(await browser.request(`/oidc/auth?${params}`));
    // The language picker's choice is remembered too.
    expect((await browser.request(`${new URL(loginPage.url).pathname}?lang=fr`)).status).toBe(200);
    const post = (page: Page, password: string) =>
      browser.request(findForm(page, '/login').action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...findForm(page, '/login').fields, login: user.username, password }).toString(),
      });
    // Refused, back to the page (which keeps the login), then "Can't access your account?" and its first page.
    const again = await browser.follow(await post(loginPage, 'not the password at all'));
    const recoverLink = /href="([^"]*\/recover)"/.exec(again.body)![1]!;
    const whoAreYou = await browser.follow(await browser.request(recoverLink));
    expect(whoAreYou.body).toMatch(new RegExp(`<input id="identifier"[^>]*value="${user.username}"`, 's'));
    const setBefore = browser.setCookies.length;
    expect((await post(again, PASSWORD)).status).toBe(303);

    const kept = browser.setCookies.filter((c) => !/expires=Thu, 01 Jan 1970/i.test(c));
    const names = kept.map((c) => c.slice(0, c.indexOf('=')));
    expect(names).toEqual(expect.arrayContaining(['__Host-lk_lang', '__Secure-lk_signin_retry', '__Secure-lk_recover_login']));
    for (const cookie of kept) {
      expect(cookie).toMatch(/^__(Host|Secure)-/);
      const attributes = cookie.split(';').slice(1).map((a) => a.trim().toLowerCase());
      expect(attributes).toEqual(expect.arrayContaining(['secure', 'httponly']));
    }
    const withdrawn = browser.setCookies.slice(setBefore).filter((c) => /expires=Thu, 01 Jan 1970/i.test(c));
    expect(withdrawn.map((c) => c.slice(0, c.indexOf('=')))).toContain('__Secure-lk_recover_login');
  });
});
