// The CAPTCHA against the real local database: answers checked once only (also in parallel), case and spaces
// ignored, gone after 10 minutes, and a picture and an audio file that carry the answer without spelling it out.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { ALPHABET, CAPTCHA_COLLECTION, CAPTCHA_LIFETIME_MS, createCaptcha, type Captcha } from '../../src/security/captcha.ts';
import { loadClips } from '../../src/security/captcha-audio.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { readWav } from './wav.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let connection: Connection;
let now = Date.now();
const clock = () => now;
let captcha: Captcha;

beforeAll(async () => {
  db = await openTestDatabase();
  connection = db.connection;
  captcha = createCaptcha({ connection, clock });
});
afterAll(() => db.drop());

const stored = (id: string) => connection.db!.collection(CAPTCHA_COLLECTION).findOne({ _id: id as never });
const answerOf = async (id: string) => String((await stored(id))!.answer);
const twenty = <T>(fn: () => Promise<T>) => Promise.all(Array.from({ length: 20 }, fn));

describe('issue', () => {
  it('gives the page only an id, and keeps the answer in a document that expires in 10 minutes', async () => {
    const issued = await captcha.issue();
    expect(Object.keys(issued)).toEqual(['id']);
    expect(issued.id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const doc = await stored(issued.id);
    expect(Object.keys(doc!).sort()).toEqual(['_id', 'answer', 'expiresAt', 'seed']);
    expect((doc!.expiresAt as Date).getTime()).toBe(now + CAPTCHA_LIFETIME_MS);
  });

  it('draws 6-character answers from the unambiguous alphabet, different each time', async () => {
    const answers = await Promise.all(Array.from({ length: 40 }, async () => answerOf((await captcha.issue()).id)));
    for (const answer of answers) expect(answer).toMatch(new RegExp(`^[${ALPHABET}]{6}$`));
    expect(new Set(answers).size).toBeGreaterThan(35);
    // Every character of the alphabet shows up over 240 draws (each is missing with probability (12/13)^240 ≈ 5e-9).
    expect(new Set(answers.join('')).size).toBe(ALPHABET.length);
  });

  it('leaves out characters that look or sound alike', () => {
    for (const ambiguous of '01OILSZBGDQUVAHJMNEPTCX') expect(ALPHABET).not.toContain(ambiguous);
  });
});

describe('check', () => {
  it('accepts the right answer once, and never again', async () => {
    const { id } = await captcha.issue();
    const answer = await answerOf(id);
    expect(await captcha.check(id, answer)).toBe('right');
    expect(await captcha.check(id, answer)).toBe('gone');
  });

  it('accepts exactly one of 20 parallel checks of the right answer', async () => {
    for (let round = 0; round < 3; round += 1) {
      const { id } = await captcha.issue();
      const answer = await answerOf(id);
      const results = await twenty(() => captcha.check(id, answer));
      expect(results.filter((result) => result === 'right')).toHaveLength(1);
      expect(results.filter((result) => result === 'gone')).toHaveLength(19);
    }
  });

  it('ignores case and spaces', async () => {
    const fixed = createCaptcha({ connection, clock, testAnswer: 'K7RW3Y' });
    const lower = await fixed.issue();
    expect(await fixed.check(lower.id, 'k7rw3y')).toBe('right');
    const spaced = await fixed.issue();
    expect(await fixed.check(spaced.id, ' k7 Rw 3y ')).toBe('right');
    const random = await captcha.issue();
    expect(await captcha.check(random.id, (await answerOf(random.id)).toLowerCase())).toBe('right');
  });

  it('refuses a wrong answer, and the CAPTCHA is used up by it', async () => {
    const { id } = await captcha.issue();
    const answer = await answerOf(id);
    const wrong = answer.slice(0, 5) + (answer[5] === '2' ? '3' : '2');
    expect(await captcha.check(id, wrong)).toBe('wrong');
    expect(await captcha.check(id, answer)).toBe('gone');
    expect(await captcha.check(id, '')).toBe('gone');
  });

  it('refuses unknown and malformed ids', async () => {
    expect(await captcha.check('AAAAAAAAAAAAAAAAAAAAAA', 'K7RW3Y')).toBe('gone');
    expect(await captcha.check('../../etc', 'K7RW3Y')).toBe('gone');
  });

  it('accepts an answer until 10 minutes have passed, and not from then on', async () => {
    const start = now;
    const early = await captcha.issue();
    const late = await captcha.issue();
    try {
      now = start + CAPTCHA_LIFETIME_MS - 1000;
      expect(await captcha.check(early.id, await answerOf(early.id))).toBe('right');
      now = start + CAPTCHA_LIFETIME_MS;
      expect(await captcha.image(late.id)).toBeUndefined();
      expect(await captcha.audio(late.id)).toBeUndefined();
      expect(await captcha.check(late.id, await answerOf(late.id))).toBe('gone');
    } finally {
      now = start;
    }
  });
});

describe('with a test answer (CAPTCHA_TEST_ANSWER)', () => {
  it('gives every CAPTCHA that answer, and the picture and audio carry it', async () => {
    const fixed = createCaptcha({ connection, clock, testAnswer: '2FK9' });
    const [a, b] = await Promise.all([fixed.issue(), fixed.issue()]);
    expect(a.id).not.toBe(b.id);
    expect(await answerOf(a.id)).toBe('2FK9');
    expect(await fixed.check(a.id, '2fk9')).toBe('right');
    expect(await fixed.check(b.id, '2FK9')).toBe('right');
    const c = await fixed.issue();
    expect(readWav((await fixed.audio(c.id))!).durationSeconds).toBeGreaterThan(4 * 0.25);
    expect(await fixed.image(c.id)).toMatch(/^<svg/);
  });
});

describe('image', () => {
  it('is an SVG with an accessible name, drawn as paths without the answer as text', async () => {
    const fixed = createCaptcha({ connection, clock, testAnswer: 'K7RW3Y' });
    const { id } = await fixed.issue();
    const svg = (await fixed.image(id, { title: 'Picture of the characters to enter' }))!;
    expect(svg).toMatch(/^<svg [^>]*role="img"[^>]*aria-label="Picture of the characters to enter"[^>]*>/);
    expect(svg).toMatch(/^<svg[^>]*><title>Picture of the characters to enter<\/title>/);
    expect(svg).toMatch(/<\/svg>$/);
    expect(svg).not.toMatch(/<text\b/i);
    expect(svg.toLowerCase()).not.toContain('k7rw3y');
    expect(svg.match(/<path /g)!.length).toBeGreaterThanOrEqual(6); // one per character, besides the noise lines
  });

  it('escapes the name it is given', async () => {
    const { id } = await captcha.issue();
    const svg = (await captcha.image(id, { title: 'a <b> & "c"' }))!;
    expect(svg).toContain('aria-label="a &#60;b&#62; &#38; &#34;c&#34;"');
    expect(svg).not.toContain('<b>');
  });

  it('is undefined for an unknown or used CAPTCHA', async () => {
    expect(await captcha.image('AAAAAAAAAAAAAAAAAAAAAA')).toBeUndefined();
    const { id } = await captcha.issue();
    await captcha.check(id, 'wrong');
    expect(await captcha.image(id)).toBeUndefined();
    expect(await captcha.audio(id)).toBeUndefined();
  });
});

describe('audio', () => {
  async function audioOf(answer: string, language?: string) {
    const fixed = createCaptcha({ connection, clock, testAnswer: answer });
    const { id } = await fixed.issue();
    return { id, fixed, wav: (await fixed.audio(id, language))! };
  }

  it('is a RIFF/WAVE file of 16-bit mono PCM whose header sizes match its length', async () => {
    const { wav } = await audioOf('K7RW3Y');
    const info = readWav(wav);
    expect(info).toMatchObject({ format: 1, channels: 1, bitsPerSample: 16, sampleRate: 8000, byteRate: 16000, blockAlign: 2 });
    expect(info.riffSize).toBe(wav.length - 8);
    expect(info.dataSize).toBe(wav.length - 44);
  });

  it('lasts longer the more characters it speaks, each with a gap of at least 250 ms', async () => {
    const durations = [];
    for (const answer of ['2F', '2FK9RW', '2FK9RWY34567892F']) {
      const seconds = readWav((await audioOf(answer)).wav).durationSeconds;
      expect(seconds).toBeGreaterThan((answer.length - 1) * 0.25 + answer.length * 0.25);
      durations.push(seconds);
    }
    expect(durations[1]!).toBeGreaterThan(durations[0]!);
    expect(durations[2]!).toBeGreaterThan(durations[1]!);
  });

  it('differs between two CAPTCHAs with the same answer, and is the same file on every download of one', async () => {
    const first = await audioOf('K7RW3Y');
    const second = await audioOf('K7RW3Y');
    expect(first.wav.equals(second.wav)).toBe(false);
    // Repeated downloads cannot be averaged to strip the noise: they are identical.
    expect((await first.fixed.audio(first.id))!.equals(first.wav)).toBe(true);
  });

  it("gives one CAPTCHA's recording in another language noise and gaps of its own, so the two cannot be subtracted", async () => {
    const { id, fixed, wav } = await audioOf('K7RW3Y');
    const french = readWav((await fixed.audio(id, 'fr'))!).samples;
    const english = readWav(wav).samples;
    // The lead before the first character is noise and hum alone: the same stretch differs sample by sample.
    const lead = 8000 * 0.1;
    let same = 0;
    for (let i = 0; i < lead; i += 1) if (french[i] === english[i]) same += 1;
    expect(same).toBeLessThan(lead / 10);
    // A language without clips is read, and sounds, as English.
    expect((await fixed.audio(id, 'de'))!.equals(wav)).toBe(true);
  });

  it.each(['en', 'fr'])("speaks the answer's characters in order (%s): each clip is found where it should be, and no other fits as well", async (language) => {
    const clips = await loadClips(language);
    const answer = 'K7RW3Y';
    const { samples } = readWav((await audioOf(answer, language)).wav);
    const ms = (n: number) => (n * 8000) / 1000;
    let from = ms(150);
    let to = ms(400);
    for (const char of answer.toLowerCase()) {
      const clip = clips.get(char)!;
      const found = bestMatch(samples, clip, from, to, 1);
      let other = 0;
      for (const [name, rival] of clips) if (name !== char) other = Math.max(other, bestMatch(samples, rival, from, to, 2).score);
      expect(found.score).toBeGreaterThan(0.75);
      expect(found.score - other).toBeGreaterThan(0.2);
      from = found.at + clip.length + ms(250);
      to = found.at + clip.length + ms(650);
    }
  });
});

/** The offset in [from, to] where `clip` correlates best with `samples` (normalised: 1 is a perfect fit). */
function bestMatch(samples: Int16Array, clip: Int16Array, from: number, to: number, step: number): { score: number; at: number } {
  let clipEnergy = 0;
  for (const value of clip) clipEnergy += value * value;
  let best = { score: -1, at: from };
  for (let at = from; at <= to && at + clip.length <= samples.length; at += step) {
    let dot = 0;
    let energy = 0;
    for (let j = 0; j < clip.length; j += 1) {
      const value = samples[at + j]!;
      dot += value * clip[j]!;
      energy += value * value;
    }
    const score = dot / Math.sqrt(energy * clipEnergy);
    if (score > best.score) best = { score, at };
  }
  return best;
}
