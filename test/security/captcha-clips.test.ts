// The committed clips the audio CAPTCHA is built from (scripts/captcha-audio.sh): a folder per language of the pages,
// exactly one clip per character of the alphabet in each, in the format the joiner expects, and small.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLIP_DIR } from '../../src/security/captcha-audio.ts';
import { ALPHABET } from '../../src/security/captcha.ts';
import { SUPPORTED_LOCALES } from '../../src/http/i18n.ts';
import { readWav } from './wav.ts';

const script = readFileSync(join(import.meta.dirname, '../../scripts/captcha-audio.sh'), 'utf8');

it('has a folder for each language of the pages, and the script makes each one', () => {
  expect(readdirSync(CLIP_DIR).sort()).toEqual([...SUPPORTED_LOCALES].sort());
  const voices = /^VOICES="([^"]*)"/m.exec(script)?.[1]?.split(' ').map((pair) => pair.split(':')[0]);
  expect(voices?.sort()).toEqual([...SUPPORTED_LOCALES].sort());
});

it('are the same alphabet as the script that regenerates them', () => {
  const chars = /^CHARS="([^"]*)"/m.exec(script)?.[1]?.split(' ');
  expect(chars?.sort()).toEqual([...ALPHABET.toLowerCase()].sort());
});

describe.each(SUPPORTED_LOCALES)('CAPTCHA clips in %s', (language) => {
  const dir = join(CLIP_DIR, language);
  const files = readdirSync(dir).sort();

  it('are one file per character of the alphabet, and nothing else', () => {
    expect(files).toEqual([...ALPHABET.toLowerCase()].map((char) => `${char}.wav`).sort());
  });

  it.each(files)('%s is 8 kHz mono 16-bit PCM, trimmed to under a second', (file) => {
    const info = readWav(readFileSync(join(dir, file)));
    expect(info).toMatchObject({ format: 1, channels: 1, bitsPerSample: 16, sampleRate: 8000 });
    expect(info.durationSeconds).toBeGreaterThan(0.15);
    expect(info.durationSeconds).toBeLessThan(1);
  });

  it('take well under 500 KB together', () => {
    const total = files.reduce((sum, file) => sum + statSync(join(dir, file)).size, 0);
    expect(total).toBeLessThan(150_000);
  });
});
