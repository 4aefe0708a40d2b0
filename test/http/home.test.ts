// The page at `/` says what this server is, names its issuer and links its discovery document and the way back
// into an account; the link to the demo application exists only in development.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it('answers / with a page naming the issuer and linking discovery, and no demo link outside development', async () => {
  const page = await new Browser().get(`${server.origin}/`);
  expect(page.status).toBe(200);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['home.title', 'home.intro', 'home.issuer', 'home.discovery', 'home.recover']));
  expect(messageIds(page)).not.toContain('home.demo');
  expect(page.body).toContain(server.issuer);
  expect(page.body).toContain(`href="${server.issuer}/.well-known/openid-configuration"`);
});

it("leads the issuer's own URL to this page, and /favicon.ico to the icon, instead of a 404", async () => {
  for (const url of [server.issuer, `${server.issuer}/`]) {
    const answer = await fetch(url, { redirect: 'manual' });
    expect({ url, status: answer.status, location: answer.headers.get('location') }).toEqual({ url, status: 303, location: '/' });
  }
  const icon = await fetch(`${server.origin}/favicon.ico`);
  expect(icon.status).toBe(200);
  expect(icon.url).toBe(`${server.origin}/static/favicon.svg`);
  expect(icon.headers.get('content-type')).toContain('image/svg+xml');
  // Discovery, below the issuer, is untouched.
  expect((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200);
});

it('the consent page names the application in the browser title', async () => {
  const rp = await createClient(server, { client_name: 'Wiki & Co' });
  const user = await createUser(server);
  const browser = new Browser();
  const login = await openLoginPage(browser, (await authorizationUrl(await discover(server, rp), rp.redirect_uris[0]!)).url);
  const consent = await browser.follow(await submitLogin(browser, login, user.username));
  const title = /<title>([^<]*)<\/title>/.exec(consent.body)![1]!;
  expect(title).toContain('Allow Wiki &amp; Co to access your account?');
  expect(title).not.toContain('{client}');
});
