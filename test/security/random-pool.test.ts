// The pool that support codes and CSP nonces come from: every value is fresh, across refills of the pool.
import { expect, it } from '@jest/globals';
import { pooledRandomBytes } from '../../src/security/random-pool.ts';

it('hands out each random byte once, across many refills, in the sizes asked for', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i += 1) {
    const size = i % 2 ? 16 : 6; // a nonce, a support code
    const bytes = pooledRandomBytes(size);
    expect(bytes).toHaveLength(size);
    seen.add(bytes.toString('hex'));
  }
  // 55,000 bytes: more than a dozen pools. A repeated value would mean bytes handed out twice (or, since the pool
  // forgets what it handed out, a value that is not a copy).
  expect(seen.size).toBe(5000);
});

it('refuses more than a pool at once', () => {
  expect(() => pooledRandomBytes(4097)).toThrow(RangeError);
});
