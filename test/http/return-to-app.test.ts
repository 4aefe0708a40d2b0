// "Back to <application>" on the account pages (src/http/return-to-app.ts): an application's link names itself and an
// address of its own (`client_id`, `return_to`); the pages then lead back there, and only to an address on the origin
// of one the client registered.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const NEW_PASSWORD = 'lantern orchard velvet compass';

let server: TestServer;
let app: ClientMetadata;
/** The application's account settings: on the origin of its redirect URI (`<server>/cb`), a path it never registered. */
const settings = () => `${server.origin}/settings?tab=security`;

beforeAll(async () => {
  server = await startTestServer();
  app = await createClient(server, { client_name: 'Expense Reports' });
});
afterAll(() => server.close());

/** An account page as an application's link opens it. */
const linked = (path: string, user: User, clientId: string, returnTo: string) =>
  `${server.origin}${path}?${new URLSearchParams({ login_hint: user.username, client_id: clientId, return_to: returnTo }).toString()}`;

/** The "Back to …" link a page shows, if any: its address and its words. */
function backLink(page: Page): { href: string; text: string } | undefined {
  const match = /<a[^>]*href="([^"]*)"[^>]*data-message-id="account.back_to_app">([^<]*)<\/a>/.exec(page.body);
  return match ? { href: match[1]!.replace(/&amp;/g, '&'), text: match[2]! } : undefined;
}

/** Opens "Your sessions and apps" past its password, from `url`. */
async function openSessions(browser: Browser, user: User, url: string): Promise<Page> {
  const door = await browser.get(url);
  expect(door.status).toBe(200);
  return browser.follow(await browser.post(`${server.origin}/account/sessions`, { ...findForm(door, '/account/sessions').fields, login: user.username, current: PASSWORD }));
}

describe('an account page opened from an application', () => {
  it('leads back to it beside the form and once the work is done', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const form = await browser.get(linked('/account/password', user, app.client_id, settings()));
    expect(form.status).toBe(200);
    expect(backLink(form)).toEqual({ href: settings(), text: 'Back to Expense Reports' });

    const change = findForm(form, '/account/password');
    const done = await browser.follow(await browser.post(change.action, { ...change.fields, login: user.username, current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD }));
    expect(messageIds(done)).toContain('change_password.done_title');
    expect(backLink(done)).toEqual({ href: settings(), text: 'Back to Expense Reports' });
    expect(messageIds(done)).not.toContain('error.home');
  });

  it('leads back to it from an error page too: the security info page turned off by the policy', async () => {
    await server.latchkey.policy.save({ registration: { selfService: false } });
    try {
      const off = await new Browser().get(linked('/account/security-info', await createUser(server), app.client_id, settings()));
      expect(off.status).toBe(404);
      expect(messageIds(off)).toContain('security_info.off');
      expect(backLink(off)).toEqual({ href: settings(), text: 'Back to Expense Reports' });
      expect(messageIds(off)).not.toContain('error.home');
    } finally {
      await server.latchkey.policy.save({});
    }
  });

  it('sends Done back to the application, through the password and the page step', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    const page = await openSessions(browser, user, linked('/account/sessions', user, app.client_id, settings()));
    expect(messageIds(page)).toContain('sessions.close');
    const close = findForm(page, '/close');
    const left = await browser.post(close.action, close.fields);
    expect(left.status).toBe(303);
    expect(left.headers.get('location')).toBe(settings());
  });

  it('leads home when the page was opened without an application', async () => {
    const user = await createUser(server);
    const browser = new Browser();
    expect(backLink(await browser.get(`${server.origin}/account/sessions`))).toBeUndefined();
    const page = await openSessions(browser, user, `${server.origin}/account/sessions`);
    const close = findForm(page, '/close');
    expect((await browser.post(close.action, close.fields)).headers.get('location')).toBe('/');
  });

  it.each([
    ['another origin', () => app.client_id, () => 'https://elsewhere.example/settings'],
    ['the right host on another port', () => app.client_id, () => `${server.origin.replace(/:(\d+)$/, (_, port: string) => `:${Number(port) + 1}`)}/settings`],
    ['a script address', () => app.client_id, () => 'javascript:alert(1)'],
    ['an address without a scheme', () => app.client_id, () => `//${new URL(server.origin).host}/settings`],
    ['credentials in the address', () => app.client_id, () => `${server.origin.replace('://', '://someone:secret@')}/settings`],
    ['an unknown client', () => 'no-such-client', settings],
  ])('never leads to an address the client did not register: %s', async (_case, clientId, returnTo) => {
    const user = await createUser(server);
    const browser = new Browser();
    // An allowed choice first: a link naming an address that is not allowed replaces it with none.
    expect(backLink(await browser.get(linked('/account/sessions', user, app.client_id, settings())))).toBeDefined();
    const door = linked('/account/sessions', user, clientId(), returnTo());
    expect(backLink(await browser.get(door))).toBeUndefined();
    const page = await openSessions(browser, user, door);
    const close = findForm(page, '/close');
    expect((await browser.post(close.action, close.fields)).headers.get('location')).toBe('/');
  });

  it('leads home once the application is deleted', async () => {
    const user = await createUser(server);
    const gone = await createClient(server, { client_name: 'Old Portal' });
    const browser = new Browser();
    expect(backLink(await browser.get(linked('/account/sessions', user, gone.client_id, settings())))?.text).toBe('Back to Old Portal');
    await server.clients.remove(gone.client_id);
    expect(backLink(await browser.get(`${server.origin}/account/sessions`))).toBeUndefined();
    const page = await openSessions(browser, user, `${server.origin}/account/sessions`);
    const close = findForm(page, '/close');
    expect((await browser.post(close.action, close.fields)).headers.get('location')).toBe('/');
  });
});
