// Writes deferred to the end of a request (request-scope.ts): each runs once, a caller that asks for them to be done
// goes on only once they have landed, even when another caller started them, and one that fails stops no other.
import { expect, it } from '@jest/globals';
import { defer, detached, forgetAll, inRequestScope, remembered } from '../../src/db/request-scope.ts';

const later = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deferred write that takes `ms`, then records `name` in `runs`, then does `then` (if any). */
const slowWrite = (runs: string[], name: string, ms: number, then?: () => Promise<unknown>) => async () => {
  await later(ms);
  runs.push(name);
  await then?.();
};

it('lets callers at the same moment go on only once every deferred write has landed, each run once', async () => {
  const runs: string[] = [];
  await inRequestScope(async () => {
    await defer('delete:a', slowWrite(runs, 'a', 30));
    await defer('delete:b', slowWrite(runs, 'b', 30));
    // As oidc-provider revokes several grants at once, each forgetting everything the request remembered.
    const seen = await Promise.all([forgetAll().then(() => [...runs]), forgetAll().then(() => [...runs])]);
    expect(seen).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
  });
  expect(runs).toEqual(['a', 'b']);
});

it('runs every deferred write when one fails, and fails the request with that error', async () => {
  const runs: string[] = [];
  const outcome = inRequestScope(async () => {
    await defer('delete:a', () => Promise.reject(new Error('the database refused')));
    await defer('delete:b', async () => void runs.push('b'));
    return 'answered';
  });
  await expect(outcome).rejects.toThrow('the database refused');
  expect(runs).toEqual(['b']);
});

it('runs a write deferred while others are being written', async () => {
  const runs: string[] = [];
  await inRequestScope(async () => {
    await defer('delete:a', slowWrite(runs, 'a', 10, () => defer('delete:c', async () => void runs.push('c'))));
    await forgetAll();
    expect(runs).toEqual(['a', 'c']);
  });
});

it('runs detached work outside the request that set it going: read from the database, its writes done, not left to a request that has ended', async () => {
  let background!: Promise<{ value: string; wrote: string[] }>;
  await inRequestScope(async () => {
    await remembered('users:a', async () => 'the copy the request read');
    background = detached(async () => {
      await later(20); // the request has ended by then
      const value = await remembered('users:a', async () => 'read again from the database');
      const wrote: string[] = [];
      await defer('delete:x', async () => void wrote.push('x'));
      return { value, wrote };
    });
  });
  expect(await background).toEqual({ value: 'read again from the database', wrote: ['x'] });
});
