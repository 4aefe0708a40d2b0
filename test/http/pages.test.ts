// What our pages show and set, checked on the markup and headers a browser receives: the sign-in fields that
// password managers rely on, the session cookie, the consent page's promise about lifetime, error pages that keep
// private detail in the log, and the methods each form endpoint accepts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { translator } from '../../src/http/i18n.ts';

// A grant lifetime other than the default, so the consent page must take it from the configuration.
const GRANT_DAYS = 30;

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let user: User;

beforeAll(async () => {
  server = await startTestServer({ TTL_GRANT: String(GRANT_DAYS * 86400) });
  rp = await createClient(server);
  config = await discover(server, rp);
  user = await createUser(server);
});
afterAll(() => server.close());

async function loginPage(browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  return { browser, page: await openLoginPage(browser, start.url) };
}

/** The opening tag of the element with this id. */
function tagWithId(page: Page, id: string): string {
  const tag = new RegExp(`<[a-z]+\\b[^>]*\\bid="${id}"[^>]*>`, 's').exec(page.body)?.[0];
  if (!tag) throw new Error(`no element with id ${id} in:\n${page.body.slice(0, 2000)}`);
  return tag;
}

function attribute(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
}

describe('the sign-in page', () => {
  it('marks the fields for password managers: autocomplete username and current-password', async () => {
    const { page } = await loginPage();
    const login = tagWithId(page, 'login');
    const password = tagWithId(page, 'password');
    expect(attribute(login, 'name')).toBe('login');
    expect(attribute(login, 'autocomplete')).toBe('username');
    expect(attribute(password, 'name')).toBe('password');
    expect(attribute(password, 'type')).toBe('password');
    expect(attribute(password, 'autocomplete')).toBe('current-password');
  });

  it('answers a failed attempt with a redirect to the page (a reload never re-posts the password), which shows the error once', async () => {
    const { browser, page } = await loginPage();
    const form = findForm(page, '/login');
    const answer = await browser.post(form.action, { ...form.fields, login: user.username, password: 'not the password at all' });
    expect(answer.status).toBe(303);
    const back = new URL(answer.headers.get('location')!, answer.url);
    expect(back.pathname).toBe(new URL(page.url).pathname);
    const shown = await browser.get(back.href);
    expect(messageIds(shown)).toContain('login.invalid');
    expect(attribute(tagWithId(shown, 'login'), 'value')).toBe(user.username);
    expect(shown.body).not.toContain('not the password at all');
    // Reloading the page shows it afresh: the message was for that one answer.
    const reloaded = await browser.get(back.href);
    expect(messageIds(reloaded)).not.toContain('login.invalid');
  });

  it('keeps the autocomplete hints on the page shown again after a failed attempt', async () => {
    const { browser, page } = await loginPage();
    const again = await submitLogin(browser, page, user.username, 'not the password at all');
    expect(messageIds(again)).toContain('login.invalid');
    expect(attribute(tagWithId(again, 'login'), 'autocomplete')).toBe('username');
    expect(attribute(tagWithId(again, 'password'), 'autocomplete')).toBe('current-password');
  });
});

describe('the session cookie', () => {
  it('is set at sign-in as HttpOnly (value and signature), so page scripts cannot read it', async () => {
    const { browser, page } = await loginPage();
    const setCookies: string[] = [];
    let response = await submitLogin(browser, page, user.username);
    setCookies.push(...response.headers.getSetCookie());
    // Follow the provider's resume redirect, which is where the session is stored and its cookie set.
    for (let hops = 0; hops < 5 && response.status >= 300 && response.status < 400; hops += 1) {
      const next = new URL(response.headers.get('location')!, response.url).href;
      if (next.startsWith(rp.redirect_uris[0]!)) break;
      response = await browser.get(next);
      setCookies.push(...response.headers.getSetCookie());
    }
    const session = setCookies.filter((c) => /^latchkey\.session(\.sig)?=/.test(c) && !/expires=Thu, 01 Jan 1970/i.test(c));
    expect(session.map((c) => c.split('=')[0]).sort()).toEqual(['latchkey.session', 'latchkey.session.sig']);
    for (const cookie of session) {
      const attributes = cookie.split(';').map((a) => a.trim().toLowerCase());
      expect(attributes).toContain('httponly');
      expect(attributes).toContain('path=/');
    }
    // And the browser now holds it: the next page is consent, not the sign-in form.
    expect(findForm(response, '/confirm').action).toContain('/interaction/');
  });
});

describe('the consent page', () => {
  it.each([
    ['while signed in, without offline access', 'openid profile', 'consent.lifetime'],
    ['after sign-out too, with offline access', 'openid profile offline_access', 'consent.lifetime_offline'],
  ] as const)('says how long the permission lasts (%s), from the configured grant lifetime', async (_label, scope, messageId) => {
    const browser = new Browser();
    const page = await openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!, { scope })).url);
    const consent = await browser.follow(await submitLogin(browser, page, user.username));
    expect(findForm(consent, '/confirm')).toMatchObject({ action: expect.stringContaining('/confirm') });
    const lifetime = translator('en')(messageId, { days: GRANT_DAYS });
    expect(lifetime).toContain(String(GRANT_DAYS)); // the catalogue entry names the days
    expect(messageIds(consent)).toContain(messageId);
    expect(consent.body).toContain(lifetime);
    expect(consent.body).toContain(`at most ${GRANT_DAYS} days`);
  });
});

describe('error pages', () => {
  /** The log lines of one request, found by its support code. */
  function logsOf(supportCode: string): Record<string, unknown>[] {
    return server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.requestId === supportCode);
  }

  /** Asserts the page shows the support code and none of the private detail logged for the same request. */
  function expectSupportCodeWithoutDetail(page: Page, privateDetail: string) {
    const supportCode = page.headers.get('x-request-id')!;
    expect(supportCode).toMatch(/^[A-Z0-9]{8}$/);
    expect(page.body).toContain(translator('en')('error.support_code', { code: supportCode }));
    expect(privateDetail.length).toBeGreaterThan(5);
    expect(page.body).not.toContain(privateDetail);
  }

  /** A login page's form, for posting something the server refuses. */
  async function loginForm(): Promise<{ browser: Browser; action: string; fields: Record<string, string> }> {
    const { browser, page } = await loginPage();
    return { browser, ...findForm(page, '/login') };
  }

  /** The page's title (the tab's name, the first thing a screen reader says) and its heading. */
  const titleAndHeading = (page: Page) => [/<title>([^<]*)<\/title>/.exec(page.body)?.[1], /<h1[^>]*>([^<]*)<\/h1>/.exec(page.body)?.[1]];

  const refusals: [string, number, string, () => Promise<Page>][] = [
    ['an expired interaction', 400, 'error.interaction_expired', () => new Browser().get(`${server.origin}/interaction/no-such-interaction`)],
    [
      'a wrong CSRF token',
      403,
      'error.csrf',
      async () => {
        const { browser, action, fields } = await loginForm();
        return browser.post(action, { ...fields, csrf: 'forged-token', login: user.username, password: 'whatever it is' });
      },
    ],
    [
      'a repeated form field',
      400,
      'error.bad_request',
      async () => {
        const { browser, action } = await loginForm();
        const body = 'login=first-login-value&login=second-login-value&password=x';
        return browser.request(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      },
    ],
  ];

  it.each(refusals)('shows the support code but not the logged detail of a refused request: %s', async (_label, status, messageId, send) => {
    const page = await send();
    expect(page.status).toBe(status);
    expect(messageIds(page)).toContain(messageId);
    const title = messageId === 'error.interaction_expired' ? 'Sign-in page expired' : 'Request not accepted';
    expect(titleAndHeading(page)).toEqual([`${title} · Latchkey`, title]);
    const refused = logsOf(page.headers.get('x-request-id')!).find((entry) => entry.msg === 'request refused');
    const detail = refused?.detail as string;
    expect(detail).toEqual(expect.any(String)); // the log has it...
    expectSupportCodeWithoutDetail(page, detail); // ...the page does not
  });

  it('shows the support code but not the detail of a 404 (the private detail is the path)', async () => {
    const page = await new Browser().get(`${server.origin}/private-path-detail-7f3a`);
    expect(page.status).toBe(404);
    expect(messageIds(page)).toContain('error.not_found');
    expect(titleAndHeading(page)).toEqual(['Page not found · Latchkey', 'Page not found']);
    expectSupportCodeWithoutDetail(page, 'private-path-detail-7f3a');
  });

  it('answers a server error with a generic page and the support code; the error message stays in the log', async () => {
    const secret = 'internal failure: db host 10.1.2.3 said NO_SUCH_INDEX';
    const accounts = server.latchkey.accounts;
    const original = accounts.signIn;
    accounts.signIn = async () => {
      throw new Error(secret);
    };
    try {
      const { browser, page } = await loginPage();
      const html = await submitLogin(browser, page, user.username);
      expect(html.status).toBe(500);
      expect(titleAndHeading(html)).toEqual(['Something went wrong · Latchkey', 'Something went wrong']);
      expect(messageIds(html).filter((id) => !id.startsWith('lang.'))).toEqual(['error.server', 'error.home', 'error.support_code']);
      expectSupportCodeWithoutDetail(html, secret);
      expect(html.body).not.toContain('NO_SUCH_INDEX');
      expect(html.body).not.toMatch(/at .*\.ts:\d+/); // no stack trace
      const logged = logsOf(html.headers.get('x-request-id')!).find((entry) => entry.msg === 'request failed');
      expect(JSON.stringify(logged)).toContain(secret);

      // The same for a client that asks for JSON.
      const { browser: other, page: otherPage } = await loginPage();
      const form = findForm(otherPage, '/login');
      const json = await other.post(form.action, { ...form.fields, login: user.username, password: 'whatever it is' }, { accept: 'application/json' });
      expect(json.status).toBe(500);
      const body = JSON.parse(json.body) as Record<string, string>;
      expect(body).toEqual({ error: 'server_error', error_description: translator('en')('error.server'), support_code: json.headers.get('x-request-id') });
      expect(json.body).not.toContain('NO_SUCH_INDEX');
    } finally {
      accounts.signIn = original;
    }
  });
});

describe('POST-only endpoints', () => {
  it.each(['login', 'confirm', 'abort'])('answers GET /interaction/:uid/%s with 405 and says POST is allowed', async (action) => {
    const { browser, page } = await loginPage();
    const uid = /\/interaction\/([^/]+)\/login/.exec(findForm(page, '/login').action)![1]!;
    const response = await browser.get(`${server.origin}/interaction/${uid}/${action}`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
    expect(response.headers.get('location')).toBeNull();
    // An error page like any other, with the support code to quote.
    expect(messageIds(response)).toEqual(expect.arrayContaining(['error.bad_request', 'error.support_code']));
    expect(response.body).toContain(response.headers.get('x-request-id'));
  });

  // oidc-provider's router has no 405 of its own (src/oidc/endpoint-methods.ts adds it). RFC 9110 §15.5.6: a known
  // resource asked with the wrong method is 405, with Allow.
  it.each(['token', 'token/introspection', 'token/revocation', 'session/end/confirm', 'request'])('answers GET /oidc/%s with 405 and says POST is allowed', async (path) => {
    const response = await fetch(`${server.issuer}/${path}`, { redirect: 'manual' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
  });

  // In plain-http development AUTHORIZATION_POST is off (the session cookie could not be SameSite=None): a POST to
  // these endpoints says which methods they take, rather than that the page does not exist.
  it.each(['auth', 'session/end'])('answers POST /oidc/%s with 405 and says GET is allowed when authorization by POST is off', async (path) => {
    const response = await new Browser().post(`${server.issuer}/${path}`, { client_id: 'any' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD');
    expect(messageIds(response)).toEqual(expect.arrayContaining(['error.bad_request', 'error.support_code']));
  });

  // Methods no router here knows (fetch will not even send TRACE): the routers' bare 501 becomes the path's 405 page,
  // or its 404 when no route of that path exists. Never a 5xx for what a client sent.
  it.each([
    ['TRACE', '/', 405],
    ['PROPFIND', '/recover', 405],
    ['TRACE', '/account/password', 405],
    ['PROPFIND', '/interaction/some-uid/login', 405],
    ['TRACE', '/no/such/page', 404],
  ])('answers %s %s with %s and a support code', async (method, path, status) => {
    const answer = await new Promise<{ status: number; allow?: string; type?: string; body: string; requestId?: string }>((resolve, reject) => {
      const request = httpRequest(`${server.origin}${path}`, { method, headers: { accept: 'text/html' } }, (response) => {
        let body = '';
        response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, allow: response.headers.allow, type: response.headers['content-type'], body, requestId: response.headers['x-request-id'] as string }));
      });
      request.on('error', reject).end();
    });
    expect(answer.status).toBe(status);
    if (status === 405) expect(answer.allow).toMatch(/GET|POST/);
    expect(answer.type).toContain('text/html');
    expect(answer.body).toContain('data-message-id="error.support_code"');
    expect(answer.body).toContain(answer.requestId);
  });

  it.each(['goal', 'method', 'send', 'resend', 'code', 'password', 'unlock', 'cancel'])('answers GET /recover/:flow/%s with 405 and says POST is allowed', async (step) => {
    const response = await new Browser().get(`${server.origin}/recover/some-flow/${step}`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toContain('POST');
    expect(response.headers.get('location')).toBeNull();
    expect(messageIds(response)).toEqual(expect.arrayContaining(['error.bad_request', 'error.support_code']));
    expect(response.body).toContain(response.headers.get('x-request-id'));
  });
});
