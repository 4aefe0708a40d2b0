// A deterministic stream of unpredictable numbers from a 32-byte seed: the same CAPTCHA's picture and audio come out
// the same at every download (captcha.ts, captcha-audio.ts), and nobody without the seed can predict them.
import { createCipheriv } from 'node:crypto';

/** The AES-256-CTR keystream of `seed` (32 bytes), as bytes, integers and fractions. */
export function seededRandom(seed: Buffer) {
  const cipher = createCipheriv('aes-256-ctr', seed, Buffer.alloc(16));
  const bytes = (n: number) => cipher.update(Buffer.alloc(n));
  return {
    bytes,
    /** An integer in [min, max]; the modulo bias of a 32-bit draw is irrelevant for timings and levels. */
    int: (min: number, max: number) => min + (bytes(4).readUInt32LE(0) % (max - min + 1)),
    /** A number in [0, 1), as Math.random gives. */
    fraction: () => bytes(4).readUInt32LE(0) / 2 ** 32,
  };
}
