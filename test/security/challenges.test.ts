// Code challenges against the real local database: a code answers only its own purpose (a recovery flow's method,
// a security info page's number), within its life, and once. The routes name the challenge from what the server
// stored; these are the checks underneath that hold even if a route ever named the wrong one.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createChallenges, CHALLENGES, type Challenges } from '../../src/security/challenges.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let challenges: Challenges;
let aheadMs = 0;

beforeAll(async () => {
  db = await openTestDatabase();
  challenges = createChallenges(db.connection, 'a test key for code hashes, 32 bytes or more', () => Date.now() + aheadMs);
});
afterAll(() => db.drop());

it("refuses a right code asked under another purpose, which leaves it to its own", async () => {
  const { id, code } = await challenges.create('recovery:flow-a:sms', 6, 600);
  expect(await challenges.check(id, 'recovery:flow-b:sms', code)).toBe('expired');
  expect(await challenges.status(id, 'recovery:flow-b:sms')).toBe('gone');
  expect(await challenges.isLive(id, 'recovery:flow-a:sms')).toBe(true);
  expect(await challenges.check(id, 'recovery:flow-a:sms', code)).toBe('accepted');
});

it('refuses a right code once its life is over, and a used one', async () => {
  const late = await challenges.create('recovery:flow-c:email', 6, 60);
  aheadMs = 61_000;
  expect(await challenges.status(late.id, 'recovery:flow-c:email')).toBe('expired');
  expect(await challenges.check(late.id, 'recovery:flow-c:email', late.code)).toBe('expired');
  aheadMs = 0;

  const once = await challenges.create('recovery:flow-d:email', 6, 600);
  expect(await challenges.check(once.id, 'recovery:flow-d:email', once.code)).toBe('accepted');
  expect(await challenges.status(once.id, 'recovery:flow-d:email')).toBe('used');
  expect(await challenges.check(once.id, 'recovery:flow-d:email', once.code)).toBe('expired');
  expect(await db.connection.db!.collection(CHALLENGES).countDocuments({ _id: once.id } as never)).toBe(0);
});

it('stores the code only as its keyed hash, and a decoy\'s so that no answer is right', async () => {
  const real = await challenges.create('recovery:flow-e:sms', 6, 600);
  const stored = JSON.stringify(await db.connection.db!.collection(CHALLENGES).findOne({ _id: real.id } as never));
  expect(stored).not.toContain(real.code);
  const decoy = await challenges.create('recovery:flow-f:sms', 6, 600, { answerable: false });
  expect(await challenges.check(decoy.id, 'recovery:flow-f:sms', decoy.code)).toBe('wrong');
  expect(await challenges.isLive(decoy.id, 'recovery:flow-f:sms')).toBe(true);
});
