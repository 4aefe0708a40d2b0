// The CAPTCHA partial in a real browser (headless Debian chromium), on one of our pages with our Content Security
// Policy in force: the picture renders, the audio element loads and plays the WAV, and axe-core finds no WCAG 2.2
// AA problem in the partial. A screenshot goes to test-artifacts/security/ for a human to look at.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import ejs from 'ejs';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import type { Result } from 'axe-core';
import { durationText, translator } from '../../src/http/i18n.ts';
import { VIEWS_DIR } from '../../src/http/render.ts';
import { createCaptcha } from '../../src/security/captcha.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { readWav } from './wav.ts';
import { cspViolations, launchChromium } from '../helpers/chromium.ts';

const ROOT = join(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, 'test-artifacts/security');
const AXE_SOURCE = readFileSync(join(ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer();
  browser = await launchChromium();
  mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const describeViolation = (v: Result) => `${v.id}: ${v.help} at ${v.nodes.map((node) => node.target.join(' ')).join(', ')}`;

it('shows the picture and plays the audio under our CSP, and the partial passes axe-core', async () => {
  const captcha = createCaptcha({ connection: server.connection, testAnswer: 'K7RW3Y' });
  const { id } = await captcha.issue();
  const expectedSeconds = readWav((await captcha.audio(id))!).durationSeconds;
  const partial = await ejs.renderFile(join(VIEWS_DIR, 'partials/captcha.ejs'), { t: translator('en'), duration: (seconds: number) => durationText(seconds, 'en'), locale: 'en', nonce: '', captchaId: id, waitSeconds: 30 }, { async: true });

  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1024, height: 900 } });
  const page = await context.newPage();
  const blocked = cspViolations(page);
  // One of our pages (the 404 page), so the browser applies our security headers to everything the partial loads.
  await page.goto(`${server.origin}/captcha-test-page`);
  await page.evaluate((html) => {
    document.querySelector('main')!.innerHTML = `<form id="captcha-form" method="post" action="/nowhere">${html}</form>`;
  }, partial);

  await page.getByRole('img', { name: 'Picture of the characters to enter' }).waitFor();
  await page.waitForFunction(() => (document.getElementById('captcha-picture') as HTMLImageElement).complete);
  expect(await page.$eval('#captcha-picture', (img) => (img as HTMLImageElement).naturalWidth)).toBe(260);

  const audio = await page.$eval('#captcha-audio', (element) => {
    const player = element as HTMLAudioElement;
    return new Promise<{ readyState: number; duration: number; error: number | null }>((resolve) => {
      const done = () => resolve({ readyState: player.readyState, duration: player.duration, error: player.error?.code ?? null });
      player.addEventListener('canplaythrough', done, { once: true });
      player.addEventListener('error', done, { once: true });
      player.load(); // preload="none": nothing is fetched until asked
    });
  });
  expect(audio.error).toBeNull();
  expect(audio.readyState).toBe(4);
  expect(audio.duration).toBeCloseTo(expectedSeconds, 2);
  expect(blocked).toEqual([]);

  await page.screenshot({ path: join(ARTIFACTS, 'captcha.png'), fullPage: true });
  await page.evaluate(AXE_SOURCE); // evaluated by the test driver, which our CSP does not govern
  const { violations, passed } = await page.evaluate(async (tags) => {
    const axe = (window as unknown as { axe: typeof import('axe-core') }).axe;
    const results = await axe.run('#captcha-form', { runOnly: { type: 'tag', values: tags } });
    return { violations: results.violations, passed: results.passes.map((rule) => rule.id) };
  }, WCAG_TAGS);
  expect(passed).toEqual(expect.arrayContaining(['image-alt', 'label']));
  expect(violations.map(describeViolation)).toEqual([]);
  await context.close();
});

/**
 * The partial, its script running, on a page of the server's origin served by the test driver (without our CSP: the
 * partial is rendered here without a nonce), so that its picture and audio come from the server as on our pages.
 */
async function runningPartial(locals: Record<string, unknown>) {
  const partial = await ejs.renderFile(
    join(VIEWS_DIR, 'partials/captcha.ejs'),
    { t: translator('en'), duration: (seconds: number) => durationText(seconds, 'en'), locale: 'en', nonce: '', waitSeconds: 30, lifeSeconds: 600, ...locals },
    { async: true },
  );
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  await page.clock.install(); // the page's clock, moved on below
  const url = `${server.origin}/partial-under-test`;
  await page.route(url, (route) => route.fulfill({ contentType: 'text/html; charset=utf-8', body: `<!doctype html><html lang="en"><head><title>CAPTCHA</title></head><body><main><form>${partial}</form></main></body></html>` }));
  await page.goto(url);
  return { context, page };
}

const EXPIRED = 'These characters can no longer be used: choose “New picture” for new ones.';

it('says once its ten minutes are over that the CAPTCHA can no longer be used, and keeps an error about the form that is still true', async () => {
  const { id } = await createCaptcha({ connection: server.connection }).issue();
  // As on the sign-in page after a wrong answer: the password was not checked, which stays true.
  const { context, page } = await runningPartial({ captchaId: id, captchaError: 'login.captcha_wrong', focus: false });
  await page.waitForFunction(() => (document.getElementById('captcha-picture') as HTMLImageElement).complete);
  await page.clock.fastForward('09:55');
  expect(await page.locator('#captcha-expired').isHidden()).toBe(true);
  await page.clock.fastForward('00:10');
  await page.getByRole('alert').filter({ hasText: EXPIRED }).waitFor();
  expect(await page.locator('#captcha-error[data-message-id="login.captcha_wrong"]').count()).toBe(1);
  expect(await page.locator('#captcha-wait').isHidden()).toBe(true);
  expect(await page.locator('#captcha-wait-over').textContent()).toBe('');
  expect(await page.locator('#captcha').getAttribute('aria-describedby')).toBe('captcha-expired captcha-error captcha-hint');
  await context.close();
});

it('says so at once when the picture cannot be fetched, and drops what it said of the wait', async () => {
  // A CAPTCHA already gone (used from another tab): its picture is a 404.
  const { context, page } = await runningPartial({ captchaId: 'gone-already', captchaError: 'recover.captcha_wait_early' });
  await page.getByRole('alert').filter({ hasText: EXPIRED }).waitFor();
  expect(await page.locator('[data-message-id="recover.captcha_wait_early"]').count()).toBe(0);
  expect(await page.locator('#captcha').getAttribute('aria-invalid')).toBeNull();
  expect(await page.locator('#captcha').getAttribute('aria-describedby')).toBe('captcha-expired captcha-hint');
  await context.close();
});
