// The demo application a newcomer signs in to: it passes the person's language on, says "You have signed out"
// after signing out, turns a cancelled sign-in into a sentence, and explains the address to use when opened
// under another host name (cookies belong to a host name).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startTestRp, type TestRp } from '../helpers/demo-rp.ts';

let server: TestServer;
let rp: TestRp;
beforeAll(async () => {
  server = await startTestServer();
  rp = await startTestRp(server);
});
afterAll(async () => {
  await rp.close();
  await server.close();
});

it('signs the person out here too once Latchkey no longer honours the sign-in (signed out everywhere, a new password)', async () => {
  const user = await createUser(server);
  const browser = new Browser();
  const loginPage = await browser.follow(await browser.get(`${rp.origin}/login`));
  const consent = findForm(await browser.follow(await submitLogin(browser, loginPage, user.username)), '/confirm');
  const home = await browser.follow(await browser.post(consent.action, consent.fields));
  expect(home.body).toContain(`Signed in as ${user.name}`);
  expect((await browser.get(`${rp.origin}/`)).body).toContain(`Signed in as ${user.name}`);

  await server.latchkey.accounts.revokeAccess(user._id); // what Sign out everywhere and a new password end with
  const ended = await browser.get(`${rp.origin}/`);
  expect(ended.body).not.toContain('Signed in as');
  expect(ended.body).toContain('Your sign-in has ended at Latchkey');
  expect(ended.body).toContain('href="/login"');
  // Said once: the app's own session is gone with it.
  expect((await browser.get(`${rp.origin}/`)).body).not.toContain('Your sign-in has ended');
});

it('passes the browser\'s language to the sign-in as ui_locales', async () => {
  const answer = await new Browser().request(`${rp.origin}/login`, { headers: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' } });
  expect(new URL(answer.headers.get('location')!).searchParams.get('ui_locales')).toBe('fr-FR');
});

it("keeps its sign-in's state as long as Latchkey's sign-in lasts (TTL_INTERACTION): the README's walk takes longer than ten minutes", async () => {
  const asked = Date.now();
  const answer = await new Browser().request(`${rp.origin}/login`);
  const flowCookie = answer.headers.getSetCookie().find((cookie) => cookie.startsWith('demo_rp.flow='));
  const expires = Date.parse(/; expires=([^;]+)/i.exec(flowCookie ?? '')?.[1] ?? '');
  // The date has whole seconds: at most one short of the sign-in's lifetime.
  expect(expires - asked).toBeGreaterThanOrEqual(server.config.ttl.interaction * 1000 - 1000);
});

it('says in words that a cancelled sign-in was cancelled', async () => {
  const browser = new Browser();
  const start = new URL((await browser.get(`${rp.origin}/login`)).headers.get('location')!);
  const callback = new URL(`${rp.origin}/callback`);
  callback.search = new URLSearchParams({ error: 'access_denied', error_description: 'End-User aborted interaction', state: start.searchParams.get('state')!, iss: server.issuer }).toString();
  const page = await browser.get(callback.href);
  expect(page.status).toBe(400);
  expect(page.body).toContain('You cancelled the sign-in');
  expect(page.body).not.toContain('End-User aborted interaction');
});

it("shows Latchkey's error on a callback it did not start (a request written by hand), escaped", async () => {
  const callback = new URL(`${rp.origin}/callback`);
  callback.search = new URLSearchParams({ error: 'invalid_request', error_description: 'PKCE <required>' }).toString();
  const page = await new Browser().get(callback.href);
  expect(page.status).toBe(400);
  expect(page.body).toContain('Sign-in expired');
  expect(page.body).toContain('<code>invalid_request</code> PKCE &#60;required&#62;');
});

it('says "You have signed out" when Latchkey sends the person back after signing out', async () => {
  expect((await new Browser().get(`${rp.origin}/?state=signed-out`)).body).toContain('You have signed out.');
  expect((await new Browser().get(`${rp.origin}/`)).body).not.toContain('You have signed out.');
});

it('explains which address to use when opened under another host name', async () => {
  const port = new URL(rp.origin).port;
  const page = await new Browser().get(`http://localhost:${port}/`);
  expect(page.status).toBe(421);
  expect(page.body).toContain(`${rp.origin}/`);
});
