// CAPTCHA: a picture (svg-captcha) and an audio alternative (captcha-audio.ts) of one answer that never leaves the
// server. Each CAPTCHA is one document `{ _id, answer, seed, expiresAt }` in `captchas`, read by `_id` only, and
// checked once: `check` consumes it (deleteOne by _id) before comparing, so an answer, right or wrong, is tried
// once, even by parallel requests.
import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Connection } from 'mongoose';
import svgCaptcha from 'svg-captcha';
import { claim, consume, type ExpiringDoc } from '../db/atomic.ts';
import { speak } from './captcha-audio.ts';
import { seededRandom } from './seeded-random.ts';

/** Holds expiring documents: the composition should add it to the collections db/expiry.ts sweeps. */
export const CAPTCHA_COLLECTION = 'captchas';
export const CAPTCHA_LIFETIME_MS = 10 * 60_000;
export const ANSWER_LENGTH = 6;

/**
 * Characters that are unambiguous both to read (in svg-captcha's distorted font) and to hear (as espeak-ng's US
 * English letter names); 13^6 ≈ 4.8 million answers. Letters are shown in capitals; the comparison ignores case.
 * What is left out, and why:
 *   0 1      look like O and I/l.
 *   A        "ay" rhymes with K and is the start of "eight"; looks like 4.
 *   B C D E G P T V Z   the "ee" letters, which differ only in their first consonant (hard to hear through noise);
 *                       besides, B looks like 8, D like 0, G like 6, T like 7, Z like 2, V like U and Y.
 *   H        "aitch" sounds like "eight".
 *   I        looks like 1 and l; "eye" sounds like Y ("why").
 *   J        "jay" rhymes with K; looks like I in some glyphs.
 *   L        "el" rhymes with F ("ef"); l looks like 1.
 *   M N      "em" and "en" differ only in the nasal; N also ends "seven".
 *   O Q      look like 0 (and each other); "cue" rhymes with U and with the end of W.
 *   S        looks like 5; "es" rhymes with F.
 *   U        "you" is the end of W ("double-you"); looks like V.
 *   X        "ex" rhymes with F and sounds like the end of "six".
 * The audio clips (src/security/captcha-audio/, scripts/captcha-audio.sh) exist for exactly these characters.
 */
export const ALPHABET = '23456789FKRWY';

const PICTURE = { width: 260, height: 80, fontSize: 64, noise: 3, color: false };
const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/;

interface CaptchaDoc extends ExpiringDoc {
  answer: string;
  /**
   * base64url of 32 random bytes: the picture's distortions and the audio's noise and timing come from it, so every
   * download of one CAPTCHA is the same (many different drawings of one answer would let a solver vote character by
   * character).
   */
  seed: string;
}

export interface CaptchaDeps {
  connection: Connection;
  /** Development and tests only (config `CAPTCHA_TEST_ANSWER`): every CAPTCHA's answer, shown and spoken as well. */
  testAnswer?: string | undefined;
  /** Now, in milliseconds (tests move it). */
  clock?: () => number;
}

export interface Captcha {
  /** A new CAPTCHA; the id is all the page gets (for the picture and audio URLs and a hidden field). */
  issue(): Promise<{ id: string }>;
  /** The picture, an SVG with an accessible name (`title`); undefined when the id is unknown, used or expired. */
  image(id: string, options?: { title?: string }): Promise<string | undefined>;
  /** A 16-bit mono PCM WAV speaking the characters in `language`; undefined when the id is unknown, used or expired. */
  audio(id: string, language?: string): Promise<Buffer | undefined>;
  /**
   * 'right' once for the right answer (case and spaces ignored), else 'wrong'; the CAPTCHA is used up by any check.
   * 'gone' when there is none to check: unknown, used (by another check, in parallel too) or expired.
   */
  check(id: string, answer: string): Promise<'right' | 'wrong' | 'gone'>;
  /** Milliseconds since it was issued; undefined when the id is unknown, used or expired. */
  sinceIssued(id: string): Promise<number | undefined>;
  /** Uses it up without an answer (the wait of captcha-gate.ts): true for the one caller, of any in parallel, that did. */
  useUnanswered(id: string): Promise<boolean>;
}

/** svg-captcha's main export draws a given text, but its typings only declare `create`, which picks the text itself. */
const drawText = svgCaptcha as unknown as (text: string, options: typeof PICTURE) => string;

/**
 * The picture of `answer`, the same for the same seed. svg-captcha takes every distortion from Math.random, so it
 * draws with Math.random lent a sequence from the seed ("picture" apart from the audio's use of it). Drawing is
 * synchronous: nothing else runs while Math.random is lent, and it is given back whatever happens.
 */
function drawSeeded(answer: string, seed: Buffer): string {
  const original = Math.random;
  Math.random = seededRandom(createHash('sha256').update('picture\u0000').update(seed).digest()).fraction;
  try {
    return drawText(answer, PICTURE);
  } finally {
    Math.random = original;
  }
}

export function randomAnswer(length = ANSWER_LENGTH): string {
  let answer = '';
  for (let i = 0; i < length; i += 1) answer += ALPHABET[randomInt(ALPHABET.length)];
  return answer;
}

export function normalizeAnswer(input: string): string {
  return input.normalize('NFKC').replace(/\s+/g, '').toLowerCase();
}

function sameAnswer(expected: string, given: string): boolean {
  const digest = (text: string) => createHash('sha256').update(normalizeAnswer(text)).digest();
  return timingSafeEqual(digest(expected), digest(given));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function createCaptcha({ connection, testAnswer, clock = Date.now }: CaptchaDeps): Captcha {
  const collection = () => connection.db!.collection<ExpiringDoc>(CAPTCHA_COLLECTION);

  /** The live CAPTCHA of this id, by `_id` alone; expiry is checked here, the sweeper only cleans up. */
  async function live(id: string): Promise<CaptchaDoc | undefined> {
    if (!ID_PATTERN.test(id)) return undefined;
    const doc = (await collection().findOne({ _id: id })) as CaptchaDoc | null;
    return doc && doc.expiresAt.getTime() > clock() ? doc : undefined;
  }

  return {
    async issue() {
      const id = randomBytes(16).toString('base64url');
      const fields = { answer: testAnswer ?? randomAnswer(), seed: randomBytes(32).toString('base64url') };
      const expiresAt = new Date(clock() + CAPTCHA_LIFETIME_MS);
      // 128 random bits do not collide; if they ever did, failing beats handing out someone else's CAPTCHA.
      if (!(await claim(collection(), id, expiresAt, fields))) throw new Error('CAPTCHA id collision');
      return { id };
    },

    async image(id, { title = 'CAPTCHA' } = {}) {
      const doc = await live(id);
      if (!doc) return undefined;
      const name = escapeXml(title);
      // svg-captcha draws paths only (no <text>); the name goes into role/aria-label and a <title>.
      return drawSeeded(doc.answer, Buffer.from(doc.seed, 'base64url')).replace(/^<svg\b([^>]*)>/, (_, attributes: string) => `<svg role="img" aria-label="${name}"${attributes}><title>${name}</title>`);
    },

    async audio(id, language) {
      const doc = await live(id);
      return doc && speak(doc.answer, Buffer.from(doc.seed, 'base64url'), language);
    },

    async check(id, answer) {
      const doc = await live(id);
      // Whoever deletes it decides: every other check of this CAPTCHA, in parallel or later, finds it gone.
      if (!doc || !(await consume(collection(), id))) return 'gone';
      return sameAnswer(doc.answer, answer) ? 'right' : 'wrong';
    },

    async sinceIssued(id) {
      const doc = await live(id);
      // Issued a lifetime before it expires: no field of its own, so CAPTCHAs stored before it existed count alike.
      return doc && clock() - (doc.expiresAt.getTime() - CAPTCHA_LIFETIME_MS);
    },

    async useUnanswered(id) {
      return ID_PATTERN.test(id) && (await consume(collection(), id));
    },
  };
}
