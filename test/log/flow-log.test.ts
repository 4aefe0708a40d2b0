// Everything the server logs during a full relying-party flow and failed sign-ins, captured at debug level, must
// hold none of the secrets that flowed through it: passwords, the code and its PKCE verifier, access, refresh and
// ID tokens, the client secret, CSRF tokens and every cookie value the browser was given. The access log carries
// paths only: query strings are where codes, tokens and the RP's state travel.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent, submitLogin } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

/** A browser that also keeps every Set-Cookie header it was sent, and every form it was shown. */
class RecordingBrowser extends Browser {
  readonly setCookieHeaders: string[] = [];
  readonly pages: Page[] = [];

  override async request(url: string, init: RequestInit = {}): Promise<Page> {
    const page = await super.request(url, init);
    this.setCookieHeaders.push(...page.headers.getSetCookie());
    this.pages.push(page);
    return page;
  }

  /** The values of every cookie set, from the headers and from the jar (whatever its path). */
  async cookieValues(): Promise<Map<string, string>> {
    const values = new Map<string, string>();
    for (const header of this.setCookieHeaders) {
      const [pair = ''] = header.split(';');
      const at = pair.indexOf('=');
      values.set(pair.slice(at + 1).trim(), pair.slice(0, at).trim());
    }
    for (const cookie of (await this.jar.serialize()).cookies) values.set(String(cookie.value ?? ''), String(cookie.key));
    return values;
  }
}

let server: TestServer;
let rp: ClientMetadata;
let user: User;
let config: client.Configuration;
let redirectUri: string;
/** Each secret that went through the server, by what it is. */
const secrets: { what: string; value: string }[] = [];
const browsers: RecordingBrowser[] = [];
/** Every authorization request URL the browsers opened. */
const authorizationRequests: URL[] = [];

function keep(what: string, value: string | undefined) {
  if (!value) throw new Error(`no ${what} to look for`);
  secrets.push({ what, value });
}

beforeAll(async () => {
  server = await startTestServer();
  await allowManyFailedSignIns(server);
  rp = await createClient(server);
  user = await createUser(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
  keep('password', PASSWORD);
  keep('client secret', rp.client_secret);

  // The full flow: code with PKCE through our pages, then every token endpoint an RP uses.
  const browser = new RecordingBrowser();
  browsers.push(browser);
  const start = await authorizationUrl(config, redirectUri);
  authorizationRequests.push(start.url);
  keep('PKCE verifier', start.verifier);
  keep('state', start.state);
  const callback = await signInAndConsent(browser, start, user.username, redirectUri);
  keep('authorization code', callback.searchParams.get('code') ?? undefined);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  keep('access token', tokens.access_token);
  keep('refresh token', tokens.refresh_token);
  keep('ID token', tokens.id_token);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  keep('refreshed access token', refreshed.access_token);
  keep('rotated refresh token', refreshed.refresh_token);
  keep('refreshed ID token', refreshed.id_token);
  expect((await client.fetchUserInfo(config, refreshed.access_token, user._id)).sub).toBe(user._id);
  expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(true);
  expect((await client.tokenIntrospection(config, refreshed.refresh_token!)).active).toBe(true);
  // A replayed code is refused: the refusal is logged too.
  await expect(client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state })).rejects.toMatchObject({
    error: 'invalid_grant',
  });

  // Two failed sign-ins: a wrong password for a real account, and an account that does not exist.
  const wrongPassword = `wrong ${randomBytes(8).toString('hex')}`;
  const unknownPassword = `unknown ${randomBytes(8).toString('hex')}`;
  keep('wrong password', wrongPassword);
  keep('password of an unknown login', unknownPassword);
  const unknownLogin = `nobody-${randomBytes(4).toString('hex')}`;
  keep('login', user.username);
  keep('unknown login', unknownLogin);
  for (const [login, password, expected] of [
    [user.username, wrongPassword, 'login.invalid'],
    [unknownLogin, unknownPassword, 'login.invalid'],
    [unknownLogin, '', 'login.missing'],
  ] as const) {
    const failing = new RecordingBrowser();
    browsers.push(failing);
    const { url } = await authorizationUrl(config, redirectUri);
    authorizationRequests.push(url);
    const page = await submitLogin(failing, await openLoginPage(failing, url), login, password);
    expect(page.status).toBe(200);
    expect(messageIds(page)).toContain(expected);
  }

  for (const b of browsers) {
    // Only values long enough to mean something if found: a deleted cookie's empty value would match everything.
    for (const [value, name] of await b.cookieValues()) if (value.length >= 8) keep(`cookie ${name}`, value);
    for (const page of b.pages) {
      for (const match of page.body.matchAll(/<form\b[^>]*action="([^"]*)"/g)) {
        const fields = findForm(page, match[1]!.replace(/&amp;/g, '&')).fields;
        for (const [name, value] of Object.entries(fields)) if (/csrf/i.test(name) && value) keep(`form field ${name}`, value);
      }
    }
  }
});
afterAll(() => server.close());

/** The log lines, parsed. */
const entries = () => server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);

/**
 * The log as text, less the one cookie value it holds by design: an interaction's uid is the value of the
 * interaction (and resume) cookie and also the path of every page of that interaction (/interaction/<uid>,
 * /oidc/auth/<uid>). It is not a credential: those cookies are signed, and the uid alone opens nothing. Only that
 * segment of an access-log path is taken out; the same value anywhere else still fails the test.
 */
function logTextWithoutInteractionPaths(uids: Set<string>): string {
  return entries()
    .map((entry) => {
      if (entry.msg === 'request' && typeof entry.path === 'string') {
        entry.path = entry.path.replace(/\/(interaction|auth)\/([^/]+)/, (segment, route: string, uid: string) => (uids.has(uid) ? `/${route}/<uid>` : segment));
      }
      return JSON.stringify(entry);
    })
    .join('\n');
}

describe('the log of a full flow and failed sign-ins', () => {
  it('recorded the flow: requests, the failed sign-ins, and secrets of every kind to look for', () => {
    const lines = entries();
    expect(lines.filter((line) => line.msg === 'request').length).toBeGreaterThan(15);
    const failures = lines.filter((line) => line.event === 'signin.failed');
    expect(failures).toHaveLength(3);
    // Each says where it came from and, by a keyed hash only, which login was tried: the same login, the same hash.
    for (const failure of failures) {
      expect(failure).toMatchObject({ factor: 'password', ip: expect.stringMatching(/\S/), loginHash: expect.stringMatching(/^[\w-]{22}$/) });
    }
    expect(failures.map((f) => f.reason)).toEqual(['invalid', 'invalid', 'missing_field']);
    expect(failures[0]!.loginHash).not.toBe(failures[1]!.loginHash);
    expect(failures[2]!.loginHash).toBe(failures[1]!.loginHash);
    expect(lines.filter((line) => line.event === 'signin.succeeded')).toHaveLength(1);
    const kinds = new Set(secrets.map((s) => s.what));
    for (const kind of ['cookie latchkey.session', 'cookie latchkey.session.sig', 'cookie latchkey.csrf', 'cookie latchkey.interaction.sig', 'form field csrf']) {
      expect(kinds).toContain(kind);
    }
  });

  it('holds no password, code, PKCE verifier, token, client secret, CSRF token or cookie value', () => {
    const uids = new Set(secrets.filter((s) => /^cookie (__Secure-)?latchkey\.(interaction|resume)$/.test(s.what)).map((s) => s.value));
    expect(uids.size).toBeGreaterThan(0);
    const text = logTextWithoutInteractionPaths(uids);
    const leaked = secrets.filter((s) => text.includes(s.value)).map((s) => s.what);
    expect(leaked).toEqual([]);
  });

  it('logs requests by path only: nothing of the query string, not even its harmless parameters', () => {
    const requests = entries().filter((line) => line.msg === 'request');
    const pathOf = (line: Record<string, unknown>) => String(line.path).split(/[?#]/)[0];
    expect(requests.filter((line) => line.method === 'GET' && pathOf(line) === '/oidc/auth')).toHaveLength(authorizationRequests.length);
    // The authorization requests' parameters: the logger would redact state, but not code_challenge or nonce.
    const values = authorizationRequests.flatMap((url) => ['state', 'code_challenge', 'nonce'].map((name) => url.searchParams.get(name)!));
    expect(values.every(Boolean)).toBe(true);
    expect(server.logs.filter((line) => values.some((value) => line.includes(value)))).toEqual([]);
    for (const line of requests) expect(line.path).toEqual(expect.stringMatching(/^\/[^?#]*$/));
  });
});
