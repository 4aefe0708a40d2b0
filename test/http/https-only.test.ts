// Behind a TLS-terminating proxy in production, where cookies are Secure: a request the proxy did not mark as https
// (no X-Forwarded-Proto, "http", or "https" written by the client before the proxy's own "http") is refused with an
// error page or JSON and its support code, sets no cookie and changes nothing. The proxy's own value decides, as
// the client's address is the one the proxy appended to X-Forwarded-For.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import { createLockdowns } from '../../src/flows/recovery/lockdown.ts';

const PUBLIC_ORIGIN = 'https://id.example.test';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ ...PRODUCTION_ENV, ISSUER: `${PUBLIC_ORIGIN}/oidc` });
});
afterAll(() => server.close());

/** A browser whose requests reach the server with this X-Forwarded-Proto (none when undefined). */
function browserWith(proto: string | undefined): Browser {
  return new Browser({ publicOrigin: PUBLIC_ORIGIN, serverOrigin: server.origin, headers: proto === undefined ? {} : { 'x-forwarded-proto': proto } });
}

/** The same, without the header at all (the Browser's proxy route always adds one). */
const withoutProto = (path: string) => new Browser().get(`${server.origin}${path}`);

const errorLines = (from: number) => server.logs.slice(from).filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

function expectRefusal(page: Page) {
  expect(page.status).toBe(403);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['error.https_required', 'error.support_code']));
  expect(page.body).toContain(page.headers.get('x-request-id')!); // the support code shown is the one logged
  expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
  expect(page.headers.get('strict-transport-security')).toContain('max-age=');
  expect(page.headers.getSetCookie()).toEqual([]);
}

it('refuses pages asked without the proxy saying https, with a page and a support code, not a 500', async () => {
  const before = server.logs.length;
  const paths = ['/recover', `/recover/lockdown/${'A'.repeat(43)}`, '/'];
  for (const path of paths) {
    expectRefusal(await withoutProto(path));
    for (const proto of ['http', 'https, http']) expectRefusal(await browserWith(proto).get(`${PUBLIC_ORIGIN}${path}`));
  }
  expect(errorLines(before)).toEqual([]);
  const refused = server.logs.slice(before).filter((line) => line.includes('"error":"https_required"'));
  expect(refused).toHaveLength(paths.length * 3);
});

it('says so in French to a French browser, and to one that picked French, remembering nothing', async () => {
  const page = await new Browser().request(`${server.origin}/recover`, { headers: { 'accept-language': 'fr' } });
  expect(page.status).toBe(403);
  expect(page.body).toContain('connexion sécurisée');
  const picked = await withoutProto('/recover?lang=fr');
  expectRefusal(picked); // no language cookie either: it could not be Secure
  expect(picked.body).toContain('connexion sécurisée');
});

it("answers the provider's JSON endpoints in JSON, with the support code", async () => {
  const response = await fetch(`${server.origin}/oidc/token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'http' },
    body: 'grant_type=authorization_code&code=whatever',
  });
  expect(response.status).toBe(403);
  const body = (await response.json()) as Record<string, string>;
  expect(body).toMatchObject({ error: 'https_required', support_code: response.headers.get('x-request-id') });
});

it('serves the proxy\'s own "https", even after a value the client wrote', async () => {
  for (const proto of ['https', 'http, https']) {
    const page = await browserWith(proto).get(`${PUBLIC_ORIGIN}/recover`);
    expect(page.status).toBe(200);
    expect(page.headers.getSetCookie().some((cookie) => cookie.startsWith('__Host-latchkey.csrf=') && /; secure/i.test(cookie))).toBe(true);
  }
});

it('still answers the health checks and public documents a load balancer may ask straight from the instance', async () => {
  expect((await withoutProto('/healthz')).status).toBe(200);
  for (const path of ['/oidc/.well-known/openid-configuration', '/oidc/jwks']) {
    const response = await fetch(`${server.origin}${path}`, { headers: { accept: 'application/json' } });
    expect(response.status).toBe(200);
  }
});

it('changes nothing: a "This wasn\'t me" confirmation sent over plain http locks nothing down', async () => {
  const user = await createUser(server);
  const token = await createLockdowns(server.connection).issue(user._id);
  const secure = browserWith('https');
  const asked = await secure.get(`${PUBLIC_ORIGIN}/recover/lockdown/${token}`);
  const form = findForm(asked, '/recover/lockdown/');
  // The same browser's cookies and form, over plain http.
  const cookie = await secure.jar.getCookieString(`${PUBLIC_ORIGIN}/`);
  const plain = await browserWith('http').post(form.action, form.fields, { cookie });
  expectRefusal(plain);
  expect((await server.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeUndefined();
  expect(await createLockdowns(server.connection).peek(token)).toBe(user._id);
});
