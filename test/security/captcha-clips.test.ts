// The committed clips the audio CAPTCHA is built from (scripts/captcha-audio.sh): exactly one per character of the
// alphabet, in the format the joiner expects, and small.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CLIP_DIR } from '../../src/security/captcha-audio.ts';
import { ALPHABET } from '../../src/security/captcha.ts';
import { readWav } from './wav.ts';

const files = readdirSync(CLIP_DIR).sort();

describe('CAPTCHA clips', () => {
  it('are one file per character of the alphabet, and nothing else', () => {
    expect(files).toEqual([...ALPHABET.toLowerCase()].map((char) => `${char}.wav`).sort());
  });

  it('are the same alphabet as the script that regenerates them', () => {
    const script = readFileSync(join(import.meta.dirname, '../../scripts/captcha-audio.sh'), 'utf8');
    const chars = /^CHARS="([^"]*)"/m.exec(script)?.[1]?.split(' ');
    expect(chars?.sort()).toEqual([...ALPHABET.toLowerCase()].sort());
  });

  it.each(files)('%s is 8 kHz mono 16-bit PCM, trimmed to under a second', (file) => {
    const info = readWav(readFileSync(join(CLIP_DIR, file)));
    expect(info).toMatchObject({ format: 1, channels: 1, bitsPerSample: 16, sampleRate: 8000 });
    expect(info.durationSeconds).toBeGreaterThan(0.15);
    expect(info.durationSeconds).toBeLessThan(1);
  });

  it('take well under 500 KB together', () => {
    const total = files.reduce((sum, file) => sum + statSync(join(CLIP_DIR, file)).size, 0);
    expect(total).toBeLessThan(150_000);
  });
});
