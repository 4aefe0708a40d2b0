// The CAPTCHA's picture and audio as a browser fetches them from a real server: the right types, never cached,
// a 404 for anything but a live CAPTCHA, and the answer in neither.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CAPTCHA_LIFETIME_MS, createCaptcha, type Captcha } from '../../src/security/captcha.ts';
import { captchaUrls } from '../../src/security/captcha-routes.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { readWav } from './wav.ts';

const ANSWER = 'K7RW3Y';
let server: TestServer;
let captcha: Captcha;
let now = Date.now();

beforeAll(async () => {
  server = await startTestServer({}, { clock: () => now });
  // Issued as the recovery flow will: on the server's database, with its clock.
  captcha = createCaptcha({ connection: server.connection, testAnswer: ANSWER, clock: () => now });
});
afterAll(() => server.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(server.origin + path, { headers });

describe('GET /recover/captcha/:id.svg', () => {
  it('serves the picture as image/svg+xml, not cached, with an accessible name in the page language', async () => {
    const { id } = await captcha.issue();
    const response = await get(captchaUrls(id).image);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const svg = await response.text();
    expect(svg).toMatch(/^<svg [^>]*aria-label="Picture of the characters to enter"/);
    expect(svg).toContain('<title>Picture of the characters to enter</title>');
    expect(svg.toLowerCase()).not.toContain(ANSWER.toLowerCase());

    const french = await (await get(captchaUrls(id).image, { 'accept-language': 'fr' })).text();
    expect(french).toContain('<title>Image des caractères à saisir</title>');
  });

  it('is the same picture on every download of one CAPTCHA (many drawings could be voted on), and another for another', async () => {
    const { id } = await captcha.issue();
    const downloads = await Promise.all([1, 2, 3].map(async () => (await get(captchaUrls(id).image)).text()));
    expect(new Set(downloads).size).toBe(1);
    const other = await captcha.issue();
    expect(await (await get(captchaUrls(other.id).image)).text()).not.toBe(downloads[0]);
  });
});

describe('GET /recover/captcha/:id.wav', () => {
  it('serves the audio as audio/wav, not cached, which pages may play (CSP media-src)', async () => {
    const { id } = await captcha.issue();
    const response = await get(captchaUrls(id).audio);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/wav');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const wav = Buffer.from(await response.arrayBuffer());
    expect(readWav(wav)).toMatchObject({ format: 1, channels: 1, bitsPerSample: 16 });
    expect(Number(response.headers.get('content-length'))).toBe(wav.length);
    expect(response.headers.get('content-security-policy')).toMatch(/(^|; )media-src 'self'(;|$)/);
  });

  it("speaks in the page's language: the page's ui_locales, else the browser's, else English", async () => {
    const { id } = await captcha.issue();
    const download = async (path: string, headers: Record<string, string> = {}) => Buffer.from(await (await get(path, headers)).arrayBuffer());
    const english = await download(captchaUrls(id).audio);
    const french = await download(captchaUrls(id, 'fr').audio);
    // What the CAPTCHA itself speaks in each language (its characters, checked clip by clip in captcha.test.ts).
    expect(english.equals((await captcha.audio(id, 'en'))!)).toBe(true);
    expect(french.equals((await captcha.audio(id, 'fr'))!)).toBe(true);
    expect(french.equals(english)).toBe(false);
    expect((await download(captchaUrls(id).audio, { 'accept-language': 'fr' })).equals(french)).toBe(true);
    expect((await download(captchaUrls(id, 'de').audio)).equals(english)).toBe(true);
  });
});

describe('an id that is not a live CAPTCHA', () => {
  const notFound = async (path: string) => {
    const response = await get(path, { accept: 'text/html' });
    expect({ path, status: response.status }).toEqual({ path, status: 404 });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('data-message-id="error.not_found"');
  };

  it('is a 404 page when unknown or malformed', async () => {
    for (const id of ['AAAAAAAAAAAAAAAAAAAAAA', 'x', '%2e%2e']) {
      await notFound(captchaUrls(id).image);
      await notFound(captchaUrls(id).audio);
    }
  });

  it('is a 404 page once the CAPTCHA was checked', async () => {
    const { id } = await captcha.issue();
    expect((await get(captchaUrls(id).image)).status).toBe(200);
    await captcha.check(id, 'wrong');
    await notFound(captchaUrls(id).image);
    await notFound(captchaUrls(id).audio);
  });

  it('is a 404 page once the CAPTCHA has expired (10 minutes)', async () => {
    const start = now;
    const { id } = await captcha.issue();
    try {
      now = start + CAPTCHA_LIFETIME_MS - 1000;
      expect((await get(captchaUrls(id).audio)).status).toBe(200);
      now = start + CAPTCHA_LIFETIME_MS;
      await notFound(captchaUrls(id).image);
      await notFound(captchaUrls(id).audio);
    } finally {
      now = start;
    }
  });
});

describe('the answer', () => {
  it('appears in no response header of the picture or the audio', async () => {
    const { id } = await captcha.issue();
    for (const path of Object.values(captchaUrls(id))) {
      const response = await get(path);
      for (const [name, value] of response.headers) expect(`${name}: ${value}`.toLowerCase()).not.toContain(ANSWER.toLowerCase());
    }
  });
});
