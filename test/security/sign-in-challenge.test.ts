// The per-address challenge's count of tries in flight (security/sign-in-challenge.ts), on a real database: a try
// whose judging fails (the policy cannot be read: the database is down) must not stay counted as in flight, or the
// address would be asked for a CAPTCHA until the process restarts.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { createSignInChallenge, type SignInChallenge } from '../../src/security/sign-in-challenge.ts';
import { createLimits } from '../../src/security/limits.ts';
import { createPolicyStore } from '../../src/policy/store.ts';
import { openTestDatabase } from '../helpers/database.ts';

let connection: Connection;
let drop: () => Promise<void>;
let challenge: SignInChallenge;
let databaseDown = false;

beforeAll(async () => {
  ({ connection, drop } = await openTestDatabase());
  const policy = createPolicyStore(connection);
  // The policy read as it fails while the database is down (its cache would hide that: bypassed here).
  const failing = { ...policy, current: () => (databaseDown ? Promise.reject(new Error('database unreachable')) : policy.current()) };
  challenge = createSignInChallenge(createLimits(connection, 'test-key'), failing);
});
afterAll(() => drop());

it('lets no try whose judging failed stay in flight: the address is not challenged once the database is back', async () => {
  const ip = '192.0.2.90';
  const first = await challenge.begin(ip);
  await first.failed(); // one failure counted: the next tries' judging reads the policy
  first.end();

  databaseDown = true;
  for (let i = 0; i < 30; i += 1) await expect(challenge.begin(ip)).rejects.toThrow('database unreachable');
  databaseDown = false;

  expect(await challenge.required(ip)).toBe(false);
  const next = await challenge.begin(ip);
  expect(next.challenged).toBe(false);
  next.end();
});

it('counts a failed try once: counted, and no longer in flight, as soon as its failure is', async () => {
  const ip = '192.0.2.91';
  // 19 failures, each still being answered (not ended) when the next begins, as a burst's are.
  const attempts = [];
  for (let i = 0; i < 19; i += 1) {
    const attempt = await challenge.begin(ip);
    expect(attempt.challenged).toBe(false);
    await attempt.failed();
    attempts.push(attempt);
  }
  // The 20th is still within the threshold of 20; the 21st is not.
  const twentieth = await challenge.begin(ip);
  expect(twentieth.challenged).toBe(false);
  await twentieth.failed();
  expect((await challenge.begin(ip)).challenged).toBe(true);
  for (const attempt of [...attempts, twentieth]) attempt.end();
});
