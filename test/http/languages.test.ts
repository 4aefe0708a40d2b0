// Pages speak the language asked for by ui_locales, else Accept-Language, else English.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser } from '../helpers/browser.ts';
import { createClient } from '../helpers/factories.ts';
import { authorizationUrl, discover } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type * as client from 'openid-client';

let server: TestServer;
let config: client.Configuration;
let redirectUri: string;
beforeAll(async () => {
  server = await startTestServer();
  const rp = await createClient(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

async function loginPage(params: Record<string, string>, acceptLanguage?: string) {
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri, params);
  const first = await browser.get(start.url.href);
  return browser.request(new URL(first.headers.get('location')!, server.origin).href, acceptLanguage ? { headers: { 'accept-language': acceptLanguage } } : {});
}

it('follows ui_locales from the authorization request', async () => {
  const page = await loginPage({ ui_locales: 'fr-CA en' });
  expect(page.body).toContain('<html lang="fr">');
  expect(page.body).toContain('Se connecter');
});

it('falls back to Accept-Language, by quality', async () => {
  const page = await loginPage({}, 'de;q=0.9, fr;q=0.8, en;q=0.5');
  expect(page.body).toContain('<html lang="fr">');
});

it('answers in English when nothing asked for is available', async () => {
  const page = await loginPage({ ui_locales: 'ja' }, 'de');
  expect(page.body).toContain('<html lang="en">');
  expect(page.body).toContain('Sign in');
});

it('ignores language tags that name object properties', async () => {
  const page = await loginPage({ ui_locales: 'constructor __proto__' }, 'toString');
  expect(page.body).toContain('<html lang="en">');
});

it('offers language links that work on the pages the provider renders (signed out)', async () => {
  const browser = new Browser();
  const page = await browser.get(`${server.issuer}/session/end/success`);
  expect(page.status).toBe(200);
  const links = [...page.body.matchAll(/href="([^"]*[?&](?:amp;)?lang=fr[^"]*)"/g)].map((match) => match[1]!.replace(/&amp;/g, '&'));
  expect(links).toHaveLength(1);
  const french = await browser.get(new URL(links[0]!, server.origin).href);
  expect(french.status).toBe(200);
  expect(french.body).toContain('<html lang="fr">');
});
