// Discovery and JWKS are answered from memory with an ETag: a relying party that has the current document gets a
// 304 without a body, one that has an older copy gets the document; both carry a Cache-Control that suits them.
// The authorization server metadata is answered at RFC 8414 §3.1's location too (the issuer's path after the
// well-known prefix), from the same snapshot.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';

/** Paths from the origin; the issuer is `<origin>/oidc`. */
const DOCUMENTS = [
  ['discovery', '/oidc/.well-known/openid-configuration'],
  ['JWKS', '/oidc/jwks'],
  ['authorization server metadata at the RFC 8414 location', '/.well-known/oauth-authorization-server/oidc'],
];
const RFC8414 = '/.well-known/oauth-authorization-server/oidc';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it.each(DOCUMENTS)('%s: the same document with a stable ETag, and 304 for a client that has it', async (_name, path) => {
  const url = `${server.origin}${path}`;
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
  // Compared weakly, as RFC 9110 asks of If-None-Match: a proxy that compressed the body marks the tag W/.
  for (const has of [`W/${etag}`, `"an-older-copy", ${etag}`, `W/"an-older-copy" ,W/${etag}`, '*']) {
    const cached = await fetch(url, { headers: { 'if-none-match': has } });
    expect(cached.status).toBe(304);
  }
  const stale = await fetch(url, { headers: { 'if-none-match': '"an-older-copy"' } });
  expect(stale.status).toBe(200);
  expect(await stale.json()).toEqual(document);
});

it('keeps discovery in the issuer\'s origin, whatever Host the request names', async () => {
  const document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as { issuer: string; token_endpoint: string };
  expect(document.issuer).toBe(server.issuer);
  expect(new URL(document.token_endpoint).origin).toBe(new URL(server.issuer).origin);
});

it.each(DOCUMENTS)('%s: any origin may read it (a browser app verifying tokens), on every answer', async (_name, path) => {
  for (let i = 0; i < 2; i += 1) {
    const response = await fetch(`${server.origin}${path}`, { headers: { origin: 'https://spa.example' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  }
});

it.each(DOCUMENTS)('%s: answered from memory with the same security headers as a page, and a request id', async (_name, path) => {
  const page = await fetch(`${server.origin}/recover`);
  const securityHeaders = (response: Response) => {
    const names = ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'permissions-policy'];
    return Object.fromEntries(names.map((name) => [name, response.headers.get(name)?.replace(/'nonce-[^']+'/g, "'nonce-…'")]));
  };
  const expected = securityHeaders(page);
  expect(expected['content-security-policy']).toContain("default-src 'none'");
  const ids = new Set<string>();
  for (let i = 0; i < 3; i += 1) {
    const response = await fetch(`${server.origin}${path}`);
    expect(securityHeaders(response)).toEqual(expected);
    ids.add(response.headers.get('x-request-id')!);
  }
  expect([...ids].every((id) => /^[A-Z0-9]{8}$/.test(id))).toBe(true);
  expect(ids.size).toBe(3);
});

it('answers the RFC 8414 location with the very document, ETag and CORS answers of the issuer-relative one', async () => {
  const rfc = await fetch(`${server.origin}${RFC8414}`);
  const library = await fetch(`${server.issuer}/.well-known/oauth-authorization-server`);
  expect(rfc.status).toBe(200);
  expect(rfc.headers.get('etag')).toBe(library.headers.get('etag'));
  expect(rfc.headers.get('content-type')).toBe(library.headers.get('content-type'));
  const document = (await rfc.json()) as { issuer: string; token_endpoint: string };
  expect(document).toEqual(await library.json());
  expect(document.issuer).toBe(server.issuer); // RFC 8414 §3.3: the issuer the location was built from

  const preflight = (url: string) =>
    fetch(url, { method: 'OPTIONS', headers: { origin: 'https://spa.example', 'access-control-request-method': 'GET' } });
  const [rfcPreflight, libraryPreflight] = [await preflight(`${server.origin}${RFC8414}`), await preflight(`${server.issuer}/.well-known/oauth-authorization-server`)];
  expect(rfcPreflight.status).toBe(libraryPreflight.status);
  for (const name of ['access-control-allow-origin', 'access-control-allow-methods']) {
    expect(rfcPreflight.headers.get(name)).toBe(libraryPreflight.headers.get(name));
  }
  expect(rfcPreflight.headers.get('access-control-allow-methods')).toBeTruthy();
});
