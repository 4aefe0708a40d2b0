// The real browser of the browser tests (Debian's chromium driven by playwright-core) and the one check every page
// of ours gets: at desktop and at phone width, a full-page screenshot in test-artifacts/browser/, axe-core's
// WCAG 2.2 AA rules, and on the phone no sideways scrolling and a margin at the screen's edge; with a brand
// configured, that the page shows it (name, logo, accent colour, footer links).
import { expect } from '@jest/globals';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Result } from 'axe-core';

const ROOT = join(import.meta.dirname, '../..');
export const ARTIFACTS = join(ROOT, 'test-artifacts/browser');
const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/** An operator's brand, as configuration: what the browser tests run with. */
export const BRAND = {
  BRAND_NAME: 'Acme Identity',
  BRAND_LOGO_URL: '/static/favicon.svg',
  BRAND_ACCENT: '#1d6b3a',
  BRAND_HELP_URL: 'https://help.acme.example/',
  BRAND_PRIVACY_URL: 'https://acme.example/privacy',
  BRAND_TERMS_URL: 'https://acme.example/terms',
};

export const WIDTHS = [
  { label: 'desktop', width: 1280, height: 800 },
  { label: 'phone', width: 320, height: 640 },
] as const;

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    // Debian's chromium by default; CHROMIUM_PATH names another build (Ubuntu's snap, say: /snap/bin/chromium).
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** The Content Security Policy violations `page` reports on its console from now on (a list that fills as they come). */
export function cspViolations(page: Page): string[] {
  const seen: string[] = [];
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) seen.push(message.text());
  });
  return seen;
}

function describeViolation(violation: Result): string {
  const nodes = violation.nodes.map((node) => `    at ${node.target.join(' ')}\n      ${(node.failureSummary ?? '').replace(/\n/g, '\n      ')}`);
  return `  ${violation.id} (${violation.impact ?? 'unknown impact'}): ${violation.help}\n    ${violation.helpUrl}\n${nodes.join('\n')}`;
}

/** Runs axe-core in the page. The script is evaluated by the driver, which our CSP does not govern. */
async function axe(page: Page): Promise<Result[]> {
  await page.evaluate(AXE_SOURCE);
  const { violations, passed } = await page.evaluate(async (tags) => {
    const axeCore = (window as unknown as { axe: typeof import('axe-core') }).axe;
    const results = await axeCore.run(document, { runOnly: { type: 'tag', values: tags } });
    return { violations: results.violations, passed: results.passes.map((rule) => rule.id) };
  }, WCAG_TAGS);
  // Guards against a check that silently did not run: a real page passes some rules.
  expect(passed).toEqual(expect.arrayContaining(['document-title', 'html-has-lang']));
  return violations;
}

async function expectBrand(page: Page, brand: typeof BRAND): Promise<void> {
  expect(await page.title()).toContain(brand.BRAND_NAME);
  expect(await page.locator('header.brand').textContent()).toContain(brand.BRAND_NAME);
  expect(await page.locator('header.brand img').getAttribute('src')).toBe(brand.BRAND_LOGO_URL);
  expect(await page.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim())).toBe(brand.BRAND_ACCENT);
  for (const id of ['footer.help', 'footer.privacy', 'footer.terms']) await page.locator(`footer [data-message-id="${id}"]`).waitFor();
}

async function expectPhoneLayout(page: Page, name: string): Promise<void> {
  const layout = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: window.innerWidth,
    card: document.querySelector('main')?.getBoundingClientRect().toJSON() as { left: number; right: number } | undefined,
  }));
  expect({ page: name, sidewaysScroll: layout.scroll > layout.width }).toEqual({ page: name, sidewaysScroll: false });
  if (layout.card) {
    expect(layout.card.left).toBeGreaterThanOrEqual(8);
    expect(layout.width - layout.card.right).toBeGreaterThanOrEqual(8);
  }
}

/** What the checks of one test file found, reported together at the end so one run shows every page's problems. */
export class PageChecks {
  readonly problems: string[] = [];
  readonly checked: string[] = [];
  private readonly prefix: string;
  private readonly brand: typeof BRAND | undefined;

  constructor(options: { prefix?: string; brand?: typeof BRAND } = {}) {
    this.prefix = options.prefix ?? '';
    this.brand = options.brand;
  }

  /**
   * Checks the page as it is now at both widths (the viewport is resized, the page is not reloaded), then leaves
   * it at desktop width. `ours: false` for a page that is not Latchkey's (the demo app's), which gets no brand check.
   */
  async check(page: Page, name: string, { ours = true } = {}): Promise<void> {
    for (const { label, width, height } of WIDTHS) {
      await page.setViewportSize({ width, height });
      await page.screenshot({ path: join(ARTIFACTS, `${this.prefix}${name}-${label}.png`), fullPage: true });
      if (ours && this.brand) await expectBrand(page, this.brand);
      if (label === 'phone') await expectPhoneLayout(page, name);
      const violations = await axe(page);
      if (violations.length) this.problems.push(`${this.prefix}${name} at ${label} width (${page.url()}):\n${violations.map(describeViolation).join('\n')}`);
    }
    await page.setViewportSize({ width: WIDTHS[0].width, height: WIDTHS[0].height });
    this.checked.push(name);
  }
}
