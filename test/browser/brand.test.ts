// An operator's brand (name, logo, accent colour, help/privacy/terms links) on every kind of page, which must still
// pass axe-core's WCAG 2.2 AA rules, at desktop and phone widths; on a phone the page never scrolls sideways and
// keeps a margin at the screen's edge (helpers/chromium.ts). Screenshots go to test-artifacts/browser/brand-*.png.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { BRAND, launchChromium, PageChecks } from '../helpers/chromium.ts';
import { createClient } from '../helpers/factories.ts';
import { authorizationUrl, discover } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
let browser: Browser;
let loginUrl: string;

beforeAll(async () => {
  server = await startTestServer(BRAND);
  const rp = await createClient(server);
  loginUrl = (await authorizationUrl(await discover(server, rp), rp.redirect_uris[0]!)).url.href;
  browser = await launchChromium();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

// The sign-in walk (sign-in.test.ts) and the recovery walk (recovery.test.ts) check their pages the same way; these
// are the pages no walk passes through.
it('shows the brand on the home, sign-in, not-found and expired-interaction pages, which pass axe at desktop and phone widths', async () => {
  const pages = new PageChecks({ prefix: 'brand-', brand: BRAND });
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  for (const [name, url] of Object.entries({
    home: `${server.origin}/`,
    signin: loginUrl,
    'not-found': `${server.origin}/no-such-page`,
    expired: `${server.origin}/interaction/no-such-interaction`,
  })) {
    await page.goto(url);
    await pages.check(page, name);
  }
  await context.close();
  expect(pages.checked).toHaveLength(4);
  expect(pages.problems).toEqual([]);
}, 120_000);

it('the language picker switches the page to French and keeps the choice for the next page', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(loginUrl);
  await page.getByRole('navigation', { name: 'Language' }).getByRole('link', { name: 'Français' }).click();
  await page.getByRole('heading', { name: 'Connexion' }).waitFor();
  expect(new URL(page.url()).pathname).toMatch(/^\/interaction\//); // the same sign-in, in French
  await page.goto(`${server.origin}/recover`);
  expect(await page.locator('html').getAttribute('lang')).toBe('fr');
  await context.close();
}, 60_000);
