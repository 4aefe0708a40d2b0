// "Keep me signed in" (src/interactions/keep-signed-in.ts): unticked, the session cookie ends with the browser (no
// Expires or Max-Age); ticked, it outlives it. The choice made with the password holds when the sign-in completes
// later, after a temporary password is replaced.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const OWN_PASSWORD = 'lantern orchard velvet compass';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

/** Follows `answer` to the RP (or a page of ours), keeping every session cookie set on the way. */
async function followKeepingSessionCookies(browser: Browser, answer: Page): Promise<{ page: Page; session: string[] }> {
  const session: string[] = [];
  let page = answer;
  for (let hops = 0; ; hops += 1) {
    session.push(...page.headers.getSetCookie().filter((c) => /^latchkey\.session=/.test(c) && !/expires=Thu, 01 Jan 1970/i.test(c)));
    if (hops > 8 || page.status < 300 || page.status >= 400) break;
    const next = new URL(page.headers.get('location')!, page.url).href;
    if (next.startsWith(rp.redirect_uris[0]!)) break;
    page = await browser.get(next);
  }
  return { page, session };
}

/** The sign-in page of a fresh request, posted with `fields` (remember or not). */
async function signIn(user: User, fields: Record<string, string>, password = PASSWORD) {
  const browser = new Browser();
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  const page = await openLoginPage(browser, start.url);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['login.remember', 'login.remember_note']));
  const form = findForm(page, '/login');
  return { browser, answer: await browser.post(form.action, { ...form.fields, login: user.username, password, ...fields }) };
}

/** Whether a Set-Cookie header outlives the browser (has an expiry). */
const outlivesBrowser = (setCookie: string) => /;\s*(expires|max-age)=/i.test(setCookie);

describe('keep me signed in', () => {
  it('unticked: the session cookie ends with the browser', async () => {
    const user = await createUser(server);
    const { browser, answer } = await signIn(user, {});
    const { page, session } = await followKeepingSessionCookies(browser, answer);
    expect(findForm(page, '/confirm')).toBeDefined(); // signed in: consent next
    expect(session.length).toBeGreaterThan(0);
    expect(session.filter(outlivesBrowser)).toEqual([]);
  });

  it('ticked: the session cookie outlives the browser', async () => {
    const user = await createUser(server);
    const { browser, answer } = await signIn(user, { remember: '1' });
    const { session } = await followKeepingSessionCookies(browser, answer);
    expect(session.length).toBeGreaterThan(0);
    expect(session.every(outlivesBrowser)).toBe(true);
  });

  it('ticked when signing in again in a browser whose session was to end with it: the cookie now outlives it', async () => {
    const user = await createUser(server);
    const { browser, answer } = await signIn(user, {});
    expect((await followKeepingSessionCookies(browser, answer)).session.filter(outlivesBrowser)).toEqual([]);
    // prompt=login: the password asked again in the same browser, this time with the box ticked.
    const start = await authorizationUrl(config, rp.redirect_uris[0]!, { prompt: 'login consent' });
    const form = findForm(await openLoginPage(browser, start.url), '/login');
    const again = await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD, remember: '1' });
    const { session } = await followKeepingSessionCookies(browser, again);
    expect(session.length).toBeGreaterThan(0);
    expect(session.every(outlivesBrowser)).toBe(true);
  });

  it('ticked with a temporary password: holds once the person has chosen their own', async () => {
    const user = await createUser(server);
    await server.latchkey.accounts.resetPassword(user._id, PASSWORD, { temporary: true });
    const { browser, answer } = await signIn(user, { remember: '1' });
    const change = await browser.follow(answer);
    expect(messageIds(change)).toContain('password_change.heading');
    const form = findForm(change, '/password');
    const { session } = await followKeepingSessionCookies(browser, await browser.post(form.action, { ...form.fields, password: OWN_PASSWORD, confirm: OWN_PASSWORD }));
    expect(session.length).toBeGreaterThan(0);
    expect(session.every(outlivesBrowser)).toBe(true);
  });

  it('comes back ticked after a wrong password, and then keeps the session past the browser', async () => {
    const user = await createUser(server);
    const { browser, answer } = await signIn(user, { remember: '1' }, 'not the password');
    const again = await browser.follow(answer);
    expect(messageIds(again)).toContain('login.invalid');
    expect(again.body).toMatch(/<input type="checkbox" id="remember"[^>]* checked>/);
    // The form as the browser now sends it (the box ticked), with the right password.
    const form = findForm(again, '/login');
    expect(form.fields.remember).toBe('1');
    const { session } = await followKeepingSessionCookies(browser, await browser.post(form.action, { ...form.fields, login: user.username, password: PASSWORD }));
    expect(session.length).toBeGreaterThan(0);
    expect(session.every(outlivesBrowser)).toBe(true);
  });

  it('refuses a value a checkbox never sends, and signs nobody in', async () => {
    const user = await createUser(server);
    const { answer } = await signIn(user, { remember: 'forever' });
    expect(answer.status).toBe(400);
  });
});
