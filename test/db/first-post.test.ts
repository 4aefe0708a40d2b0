// Identical posts of a form (db/first-post.ts): one is the first, the others wait for what it did; a mark past its
// time, which the sweeper may not have removed yet, counts for nothing.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createFirstPosts, type FirstPosts } from '../../src/db/first-post.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let posts: FirstPosts<{ done: boolean }>;
let now = Date.now();

beforeAll(async () => {
  db = await openTestDatabase();
  posts = createFirstPosts(db.connection, 'first_posts_test', 'test', 'a test key', () => now);
});
afterAll(() => db.drop());

it('makes one of identical posts the first, and gives the others what it left', async () => {
  const form = ['token', 'ada', 'old password', 'new password'];
  const claims = await Promise.all(Array.from({ length: 5 }, () => posts.claimFirst(form)));
  expect(claims.filter(Boolean)).toHaveLength(1);
  // Any other field: a first post of its own.
  expect(await posts.claimFirst([...form.slice(0, 3), 'another new password'])).toBe(true);
  const waiting = posts.outcomeOf(form);
  await posts.settle(form, { done: true });
  expect(await waiting).toEqual({ done: true });
});

it('treats a mark past its minute as gone: the same post is a first one again, with nothing to read', async () => {
  const form = ['token', 'bo', 'old password', 'new password'];
  expect(await posts.claimFirst(form)).toBe(true);
  await posts.settle(form, { done: true });
  now += 61_000;
  expect(await posts.outcomeOf(form)).toBeUndefined();
  expect(await posts.claimFirst(form)).toBe(true);
  expect(await posts.claimFirst(form)).toBe(false);
});
