// Our sign-in pages under attack and misuse: enumeration, CSRF, malformed bodies, expired interactions, headers.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, comparableSignInPage, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, openedHash, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let user: User;
let disabled: User;

beforeAll(async () => {
  server = await startTestServer();
  await allowManyFailedSignIns(server);
  rp = await createClient(server);
  config = await discover(server, rp);
  user = await createUser(server);
  disabled = await createUser(server);
  await server.latchkey.accounts.setStatus(disabled._id, 'disabled');
});
afterAll(() => server.close());

async function freshLoginPage(browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  return { browser, page: await openLoginPage(browser, start.url) };
}


describe('failed sign-in', () => {
  it('answers a wrong password, an unknown user and a disabled account identically', async () => {
    const attempts = [
      { login: user.username, password: 'wrong password here' },
      { login: 'nobody-by-this-name', password: PASSWORD },
      { login: disabled.username, password: PASSWORD },
    ];
    const results = [];
    for (const attempt of attempts) {
      const { browser, page } = await freshLoginPage();
      const before = await browser.cookieNames(server.origin + page.url.slice(server.origin.length));
      const response = await submitLogin(browser, page, attempt.login, attempt.password);
      results.push({
        status: response.status,
        location: response.headers.get('location'),
        setCookies: response.headers.getSetCookie().map((c) => c.split('=')[0]).sort(),
        body: comparableSignInPage(response, attempt.login),
        messages: messageIds(response),
        cookiesBefore: before.sort(),
      });
    }
    expect(results[0]!.status).toBe(200);
    expect(results[0]!.messages).toContain('login.invalid');
    expect(results[0]!.body).toContain('Incorrect email, username or password');
    expect(results[1]).toEqual(results[0]);
    expect(results[2]).toEqual(results[0]);
  });

  it('keeps the typed identifier and ties the error to the fields', async () => {
    const { browser, page } = await freshLoginPage();
    const response = await submitLogin(browser, page, user.username, 'nope nope nope');
    expect(response.body).toContain(`value="${user.username}"`);
    expect(response.body).toMatch(/id="password"[^>]*aria-describedby="login-error"|aria-describedby="login-error"[^>]*id="password"/s);
    // The title says so first, as every page showing an error does; the page as first shown does not.
    expect(/<title>([^<]*)<\/title>/.exec(response.body)?.[1]).toMatch(/^Error: Sign in · /);
    expect(/<title>([^<]*)<\/title>/.exec(page.body)?.[1]).toMatch(/^Sign in · /);
  });

  it('shows with the error the support code of the refused post (its request line in the log), not the page’s own', async () => {
    const { browser, page } = await freshLoginPage();
    expect(messageIds(page)).not.toContain('error.support_code');
    const form = findForm(page, '/login');
    const refused = await browser.post(form.action, { ...form.fields, login: user.username, password: 'not the password' });
    expect(refused.status).toBe(303);
    const postCode = refused.headers.get('x-request-id')!;
    expect(postCode).toMatch(/^[A-Z0-9]{8}$/);
    const shown = await backToSignIn(browser, refused);
    expect(messageIds(shown)).toEqual(expect.arrayContaining(['login.invalid', 'error.support_code']));
    expect(shown.body).toContain(`Support code: ${postCode}`);
    expect(shown.headers.get('x-request-id')).not.toBe(postCode);
    // A missing field, refused the same way, gives its own post's code.
    const missing = await browser.post(findForm(shown, '/login').action, { ...findForm(shown, '/login').fields, login: user.username, password: '' });
    const again = await backToSignIn(browser, missing);
    expect(messageIds(again)).toEqual(expect.arrayContaining(['login.missing', 'error.support_code']));
    expect(again.body).toContain(`Support code: ${missing.headers.get('x-request-id')}`);
    // Read once: the page loaded again shows neither the error nor a code.
    expect(messageIds(await browser.get(again.url))).not.toContain('error.support_code');
  });

  it('asks for both fields when one is empty, without checking anything', async () => {
    const { browser, page } = await freshLoginPage();
    const response = await submitLogin(browser, page, user.username, '');
    expect(response.status).toBe(200);
    expect(messageIds(response)).toContain('login.missing');
  });
});

describe('successful sign-in', () => {
  it('answers 303 (never 307) and moves on to consent', async () => {
    const { browser, page } = await freshLoginPage();
    const response = await submitLogin(browser, page, user.email.toUpperCase());
    expect(response.status).toBe(303);
    const consent = await browser.follow(response);
    expect(findForm(consent, '/confirm')).toBeTruthy();
    expect(consent.body).toContain('Test App');
  });

  it('rehashes the password when the configured argon2 cost has risen', async () => {
    const stronger = await startTestServer({ ARGON2_TIME_COST: '3' });
    try {
      // A user hashed at the old cost, stored in the stronger server's database.
      const legacyHash = user.passwordHash;
      const moved = await createUser(stronger);
      await stronger.connection.db!.collection('users').updateOne({ _id: moved._id as never }, { $set: { passwordHash: legacyHash } });
      const result = await stronger.latchkey.accounts.signIn(moved.username, PASSWORD);
      expect(result.ok).toBe(true);
      const stored = openedHash(stronger, (await stronger.latchkey.accounts.findById(moved._id))!.passwordHash);
      expect(stored).toMatch(/^\$argon2id\$v=19\$/);
      expect(stored).toContain('t=3');
      expect(stored).not.toBe(openedHash(stronger, legacyHash));
    } finally {
      await stronger.close();
    }
  });
});

describe('CSRF', () => {
  it('refuses a sign-in POST without the token and changes nothing', async () => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const response = await browser.post(form.action, { login: user.username, password: PASSWORD });
    expect(response.status).toBe(403);
    expect(messageIds(response)).toContain('error.csrf');
    expect(response.headers.get('location')).toBeNull();
    // The interaction is still waiting for a sign-in: the same page comes back.
    const again = await browser.get(page.url);
    expect(findForm(again, '/login')).toBeTruthy();
  });

  it('refuses a token issued to another browser', async () => {
    const { page: attackerPage } = await freshLoginPage();
    const attackerToken = findForm(attackerPage, '/login').fields.csrf!;
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const response = await browser.post(form.action, { csrf: attackerToken, login: user.username, password: PASSWORD });
    expect(response.status).toBe(403);
  });
});

describe('CSRF on consent', () => {
  it('refuses Allow and Cancel without the token; the consent page still waits', async () => {
    const { browser, page } = await freshLoginPage();
    const consent = await browser.follow(await submitLogin(browser, page, user.username));
    for (const action of ['/confirm', '/abort']) {
      const form = findForm(consent, action);
      const response = await browser.post(form.action, {});
      expect(response.status).toBe(403);
      expect(response.headers.get('location')).toBeNull();
    }
    const again = await browser.get(consent.url);
    expect(findForm(again, '/confirm')).toBeTruthy();
  });
});

describe('malformed bodies', () => {
  it.each([
    ['an oversized body', 'application/x-www-form-urlencoded', () => `login=${'a'.repeat(40_000)}&password=x`, 413],
    ['JSON instead of a form', 'application/json', () => JSON.stringify({ login: 'a', password: 'b' }), 415],
    ['a repeated field', 'application/x-www-form-urlencoded', () => 'login=a&login=b&password=c', 400],
    ['invalid UTF-8', 'application/x-www-form-urlencoded', () => 'login=%C3%28&password=x', 400],
  ])('answers %s with a clean 4xx page and a support code', async (_label, type, body, status) => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const response = await browser.request(form.action, { method: 'POST', headers: { 'content-type': type }, body: body() });
    expect(response.status).toBe(status);
    expect(response.body).toMatch(/Support code: [A-Z0-9]{8}/);
    expect(response.body).not.toMatch(/at .*\.ts:\d+/); // no stack trace
  });

  it('answers an oversized chunked body (no Content-Length) with the 413 page, not a dropped connection', async () => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const big = `login=${'a'.repeat(40_000)}`;
    const chunks = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 4096) controller.enqueue(new TextEncoder().encode(big.slice(i, i + 4096)));
        controller.close();
      },
    });
    const response = await browser.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: chunks,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(messageIds(response)).toContain('error.too_large');
  });

  it('treats fields named like object properties as ordinary fields', async () => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const body = new URLSearchParams({ ...form.fields, login: user.username, password: 'wrong one here' });
    for (const name of ['constructor', '__proto__', 'toString']) body.append(name, 'x');
    const response = await backToSignIn(browser, await browser.request(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }));
    expect(response.status).toBe(200);
    expect(messageIds(response)).toContain('login.invalid');
  });

  it('answers a form with a missing CSRF field but valid shape with 403 and JSON clients with JSON', async () => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    const response = await browser.request(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: 'login=a&password=b',
    });
    expect(response.status).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'csrf_failed', support_code: expect.any(String) });
  });
});

describe('expired or unknown interactions', () => {
  it('shows a start-again page for an interaction this browser does not have', async () => {
    const response = await new Browser().get(`${server.origin}/interaction/not-a-real-uid`);
    expect(response.status).toBe(400);
    expect(messageIds(response)).toEqual(expect.arrayContaining(['error.interaction_expired', 'error.start_again']));
  });

  it('shows the start-again page when a finished interaction is posted again (back button)', async () => {
    const { browser, page } = await freshLoginPage();
    const form = findForm(page, '/login');
    // Sign in and let the browser move on (the provider resumes and ends this interaction).
    await browser.follow(await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD }));
    const replay = await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD });
    expect(replay.status).toBe(400);
    expect(messageIds(replay)).toContain('error.interaction_expired');
  });
});

describe('headers and cookies', () => {
  it('sends the security headers and no-store on our pages', async () => {
    const { page } = await freshLoginPage();
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("base-uri 'none'");
    expect(csp).not.toContain('form-action');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('referrer-policy')).toBe('no-referrer');
    expect(page.headers.get('cache-control')).toBe('no-store');
  });

  it('sets HttpOnly, SameSite=Lax, signed cookies', async () => {
    const browser = new Browser();
    const start = await authorizationUrl(config, rp.redirect_uris[0]!);
    const first = await browser.get(start.url.href);
    const page = await browser.get(new URL(first.headers.get('location')!, server.origin).href);
    const setCookies = [...first.headers.getSetCookie(), ...page.headers.getSetCookie()];
    expect(setCookies.length).toBeGreaterThan(0);
    for (const cookie of setCookies) {
      expect(cookie.toLowerCase()).toContain('httponly');
      expect(cookie.toLowerCase()).toContain('samesite=lax');
    }
    expect(setCookies.some((c) => c.startsWith('latchkey.interaction.sig='))).toBe(true);
  });

  it('answers unknown paths with a 404 page', async () => {
    const response = await new Browser().get(`${server.origin}/no/such/page`);
    expect(response.status).toBe(404);
    expect(messageIds(response)).toContain('error.not_found');
  });

  it('reports health and readiness', async () => {
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    const ready = await fetch(`${server.origin}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });
});

describe('logs', () => {
  it('never contain the passwords typed', () => {
    const all = server.logs.join('\n');
    expect(all).toContain('signin.failed');
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain('wrong password here');
  });
});
