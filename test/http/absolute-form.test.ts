// A request whose target is a full URL (`GET https://attacker.example/oidc/... HTTP/1.1`, RFC 9112 §3.2.2) is
// answered for the issuer like any other: the attacker's authority reaches neither discovery (whose first answer is
// kept for every relying party), nor redirects, nor pages.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { request as httpRequest } from 'node:http';
import { createClient } from '../helpers/factories.ts';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

const ISSUER = 'https://id.example.test/oidc';
const PROXIED = { 'x-forwarded-proto': 'https' };

let server: TestServer;
let rp: ClientMetadata;

beforeAll(async () => {
  server = await startTestServer({ ...PRODUCTION_ENV, ISSUER });
  rp = await createClient(server, { redirect_uris: ['https://app.example.test/cb'] });
});
afterAll(() => server.close());

/** A request with exactly this request target (Node sends `path` as is). */
function rawTarget(target: string, headers: Record<string, string> = {}): Promise<{ status: number; location: string; body: string }> {
  const { hostname, port } = new URL(server.origin);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path: target, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, location: String(res.headers.location ?? ''), body }));
    });
    req.on('error', reject).end();
  });
}

// First in this file: the first discovery answer is the one kept.
it('keeps no attacker host in discovery after a first request with a full-URL target', async () => {
  const first = await rawTarget('https://attacker.example/oidc/.well-known/openid-configuration', PROXIED);
  expect(first.status).toBe(200);
  expect(first.body).not.toContain('attacker.example');
  const later = await rawTarget('/oidc/.well-known/openid-configuration', PROXIED);
  expect(later.body).not.toContain('attacker.example');
  expect((JSON.parse(later.body) as Record<string, string>).token_endpoint).toBe(`${ISSUER}/token`);
});

it('keeps no attacker host in redirects and pages reached with a full-URL target', async () => {
  const query = new URLSearchParams({ client_id: rp.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'https://app.example.test/cb', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' });
  for (const target of [`https://attacker.example/oidc/auth?${query}`, 'https://attacker.example/recover', 'http://attacker.example/']) {
    const answer = await rawTarget(target, PROXIED);
    expect(answer.status).toBeLessThan(500);
    expect(answer.location).not.toContain('attacker.example');
    expect(answer.body).not.toContain('attacker.example');
  }
});

it('answers a target that is no path and no URL with a not-found page', async () => {
  const answer = await rawTarget('*', PROXIED);
  expect(answer.status).toBe(404);
});

it('keeps discovery in memory for an ISSUER written with capitals and its default port', async () => {
  const other = await startTestServer({ ...PRODUCTION_ENV, ISSUER: 'https://ID.Example.test:443/oidc' });
  try {
    const get = () => fetch(`${other.origin}/oidc/.well-known/openid-configuration`, { headers: PROXIED });
    expect((await get()).status).toBe(200);
    const kept = await get();
    expect(kept.headers.get('etag')).toBeTruthy(); // answered from memory
    expect(kept.headers.get('cache-control')).toMatch(/^public/);
  } finally {
    await other.close();
  }
});
