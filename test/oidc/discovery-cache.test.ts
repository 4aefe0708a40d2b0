// Discovery and JWKS are answered from memory with an ETag: a relying party that has the current document gets a
// 304 without a body, one that has an older copy gets the document; both carry a Cache-Control that suits them.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it.each([['discovery', '/.well-known/openid-configuration'], ['JWKS', '/jwks']])('%s: the same document with a stable ETag, and 304 for a client that has it', async (_name, path) => {
  const url = `${server.issuer}${path}`;
  const first = await fetch(url);
  expect(first.status).toBe(200);
  const etag = first.headers.get('etag');
  expect(etag).toMatch(/^"[\w-]+"$/);
  expect(first.headers.get('cache-control')).toMatch(/^public, max-age=\d+/);
  const document = await first.json();

  const second = await fetch(url);
  expect(second.headers.get('etag')).toBe(etag);
  expect(await second.json()).toEqual(document);

  const unchanged = await fetch(url, { headers: { 'if-none-match': etag! } });
  expect(unchanged.status).toBe(304);
  expect(await unchanged.text()).toBe('');
  const stale = await fetch(url, { headers: { 'if-none-match': '"an-older-copy"' } });
  expect(stale.status).toBe(200);
  expect(await stale.json()).toEqual(document);
});

it('keeps discovery in the issuer\'s origin, whatever Host the request names', async () => {
  const document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; token_endpoint: string };
  expect(document.issuer).toBe(server.issuer);
  expect(new URL(document.token_endpoint).origin).toBe(new URL(server.issuer).origin);
});
