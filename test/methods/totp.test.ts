// The authenticator app's codes (security checklist TOTP-STEP, TOTP-SEED): 30-second steps, the current one or the
// one before accepted, nothing older and nothing ahead, each code once; seeds of at least 160 bits.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import type { Connection } from 'mongoose';
import { openTestDatabase } from '../helpers/database.ts';
import { createTotpMethod, newAuthenticator } from '../../src/methods/totp.ts';
import { createSecretBox } from '../../src/security/encryption.ts';
import type { User } from '../../src/accounts/user-model.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let connection: Connection;
const box = createSecretBox(randomBytes(32));
// The middle of a 30-second step, so that a step's codes are told apart by nothing but the step.
const NOW = Math.floor(Date.now() / 30_000) * 30_000 + 15_000;
let users = 0;

beforeAll(async () => {
  db = await openTestDatabase();
  connection = db.connection;
});
afterAll(() => db.drop());

/** A user holding a new authenticator, and the code its app shows `steps` steps from now. */
function withApp(): { user: User; codeAt: (steps: number) => string; secret: string } {
  const { sealed, secret } = newAuthenticator(box, { issuer: 'Latchkey', label: 'ada@example.test' });
  users += 1;
  const user = { _id: `totp-user-${users}-${Date.now()}`, securityInfo: { authenticator: { totpSecret: sealed } } } as unknown as User;
  return { user, secret, codeAt: (steps) => generateSync({ secret, epoch: Math.floor(NOW / 1000) + steps * 30 }) };
}

const method = () => createTotpMethod({ connection, box, clock: () => NOW });

it('accepts the current step and the one before, refuses two steps back and one ahead', async () => {
  const verify = method().verifyHeld!;
  const results = await Promise.all([0, -1, -2, 1].map(async (steps) => {
    const { user, codeAt } = withApp();
    return verify(user, codeAt(steps));
  }));
  expect(results).toEqual(['right', 'right', 'wrong', 'wrong']);
});

it('accepts a code once, and no older code after it', async () => {
  const verify = method().verifyHeld!;
  const { user, codeAt } = withApp();
  expect(await verify(user, codeAt(0))).toBe('right');
  expect(await verify(user, codeAt(0))).toBe('used');
  expect(await verify(user, codeAt(-1))).toBe('used');
  expect(await verify(user, '000000' === codeAt(0) ? '111111' : '000000')).toBe('wrong');
});

it('draws seeds of at least 160 bits, each new', () => {
  const seeds = Array.from({ length: 5 }, () => withApp().secret);
  for (const seed of seeds) expect(Math.floor((seed.replace(/=+$/, '').length * 5) / 8)).toBeGreaterThanOrEqual(20);
  expect(new Set(seeds).size).toBe(seeds.length);
});
