// An operator's brand (name, logo, accent colour, help/privacy/terms links) on every kind of page, which must still
// pass axe-core's WCAG 2.2 AA rules, at desktop and phone widths; on a phone the page never scrolls sideways and
// keeps a margin at the screen's edge. Screenshots go to test-artifacts/browser/brand-*.png.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createClient } from '../helpers/factories.ts';
import { authorizationUrl, discover } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ROOT = join(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts/browser');
const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const BRAND = {
  BRAND_NAME: 'Acme Identity',
  BRAND_LOGO_URL: '/static/favicon.svg',
  BRAND_ACCENT: '#1d6b3a',
  BRAND_HELP_URL: 'https://help.acme.example/',
  BRAND_PRIVACY_URL: 'https://acme.example/privacy',
  BRAND_TERMS_URL: 'https://acme.example/terms',
};

let server: TestServer;
let browser: Browser;
let loginUrl: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  server = await startTestServer(BRAND);
  const rp = await createClient(server);
  loginUrl = (await authorizationUrl(await discover(server, rp), rp.redirect_uris[0]!)).url.href;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox', '--disable-gpu'] });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: typeof import('axe-core') }).axe;
    const results = await axe.run(document, { runOnly: { type: 'tag', values: tags } });
    return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }, WCAG_TAGS);
}

it('shows the brand on the home, sign-in and recovery pages, which pass axe at desktop and phone widths', async () => {
  const pages = { home: `${server.origin}/`, signin: loginUrl, recover: `${server.origin}/recover` };
  const problems: string[] = [];
  for (const [width, height, label] of [[1280, 800, 'desktop'], [360, 740, 'phone']] as const) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    for (const [name, url] of Object.entries(pages)) {
      await page.goto(url);
      await page.screenshot({ path: join(ARTIFACTS, `brand-${name}-${label}.png`), fullPage: true });
      expect(await page.title()).toContain(BRAND.BRAND_NAME);
      expect(await page.locator('header.brand').textContent()).toContain(BRAND.BRAND_NAME);
      expect(await page.locator('header.brand img').getAttribute('src')).toBe(BRAND.BRAND_LOGO_URL);
      expect(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim())).toBe(BRAND.BRAND_ACCENT);
      for (const id of ['footer.help', 'footer.privacy', 'footer.terms']) await page.locator(`footer [data-message-id="${id}"]`).waitFor();
      problems.push(...(await axeViolations(page)).map((v) => `${name} (${label}): ${v}`));
      if (label === 'phone') {
        const layout = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth, card: document.querySelector('main')!.getBoundingClientRect() }));
        expect(layout.scroll).toBeLessThanOrEqual(layout.width);
        expect(layout.card.left).toBeGreaterThanOrEqual(8);
        expect(layout.width - layout.card.right).toBeGreaterThanOrEqual(8);
      }
    }
    await context.close();
  }
  expect(problems).toEqual([]);
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
