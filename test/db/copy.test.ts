// What the caches hand out is a copy: a caller that changes the document it got changes nothing kept, neither in
// the cache across requests (epoch-cache.ts) nor in a request's identity map (request-scope.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { copyDocument } from '../../src/db/copy.ts';
import { createEpochCache, type EpochCache } from '../../src/db/epoch-cache.ts';
import { inRequestScope, remember, remembered } from '../../src/db/request-scope.ts';
import { openTestDatabase, untilCacheTrusted } from '../helpers/database.ts';

const stored = () => ({
  _id: 'client-1',
  payload: { redirect_uris: ['https://rp.example/cb'], grant_types: ['authorization_code'], nested: { deeper: { n: 1, none: null } } },
  createdAt: new Date('2026-01-02T03:04:05Z'),
  kept: undefined,
});

/** Every object reachable from `value`. */
function objectsIn(value: unknown, found = new Set<object>()): Set<object> {
  if (value !== null && typeof value === 'object' && !found.has(value)) {
    found.add(value);
    for (const child of Object.values(value)) objectsIn(child, found);
  }
  return found;
}

describe('copyDocument', () => {
  it('copies plain objects, arrays, dates and anything else as structuredClone does', () => {
    const original = { ...stored(), secret: Buffer.from('bytes') };
    const copy = copyDocument(original);
    expect(copy).toStrictEqual(structuredClone(original));
    expect(copy.createdAt).toBeInstanceOf(Date);
    expect(Object.keys(copy)).toContain('kept');
  });

  it('shares no object with the original', () => {
    const original = stored();
    const theirs = objectsIn(original);
    for (const object of objectsIn(copyDocument(original))) expect(theirs.has(object)).toBe(false);
  });

  it('keeps a stored key named __proto__ as data, not as the prototype', () => {
    const original = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const copy = copyDocument(original);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy as { polluted?: boolean }).polluted).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(copy, '__proto__')?.value).toEqual({ polluted: true });
  });
});

describe('the caches', () => {
  let database: Awaited<ReturnType<typeof openTestDatabase>>;
  let cache: EpochCache;
  beforeAll(async () => {
    database = await openTestDatabase();
    cache = createEpochCache(database.connection, 'clients');
    cache.start();
    await untilCacheTrusted(cache);
  });
  afterAll(async () => {
    cache.stop();
    await database.drop();
  });

  it('a change to a document loaded into or served by the epoch cache does not reach the next caller', async () => {
    let loads = 0;
    const load = () => Promise.resolve((loads += 1, stored()));
    const first = await cache.find('client-1', load);
    first!.payload.redirect_uris.push('https://attacker.example/cb');
    first!.payload.nested.deeper.n = 2;
    first!.createdAt.setFullYear(1999);
    const second = await cache.find('client-1', load);
    expect(second).toStrictEqual(stored());
    second!.payload.grant_types.push('implicit');
    expect(await cache.find('client-1', load)).toStrictEqual(stored());
    expect(loads).toBe(1);
  });

  it("a change to a document from the request's identity map does not reach the request's next read", async () => {
    await inRequestScope(async () => {
      const first = await remembered('clients:2', () => Promise.resolve(stored()));
      first.payload.grant_types.push('implicit');
      expect(await remembered('clients:2', () => Promise.reject(new Error('read once')))).toStrictEqual(stored());
      const written = stored();
      remember('clients:2', written);
      written.payload.nested.deeper.n = 3;
      const again = await remembered<ReturnType<typeof stored>>('clients:2', () => Promise.reject(new Error('read once')));
      expect(again.payload.nested.deeper.n).toBe(1);
    });
  });
});
