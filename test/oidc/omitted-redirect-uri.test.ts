// An authorization request must name its redirect URI, even when the client registered only one: the provider
// then shows our error page and sends nothing to the RP (allowOmittingSingleRegisteredRedirectUri stays off).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createClient } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

let server: TestServer;
let rp: ClientMetadata;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server, { redirect_uris: [`${server.origin}/the-only-cb`] });
});
afterAll(() => server.close());

function authorizeUrl(withRedirectUri: boolean): string {
  const url = new URL(`${server.issuer}/auth`);
  const params: Record<string, string> = {
    client_id: rp.client_id,
    response_type: 'code',
    scope: 'openid',
    state: 'st1',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...(withRedirectUri && { redirect_uri: rp.redirect_uris[0]! }),
  };
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  return url.href;
}

describe('a client with exactly one registered redirect URI', () => {
  it('has it registered alone, and a request naming it goes on to sign-in', async () => {
    expect(rp.redirect_uris).toEqual([`${server.origin}/the-only-cb`]);
    const page = await new Browser().get(authorizeUrl(true));
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toMatch(/\/interaction\/[\w-]+$/);
  });

  it('gets our error page, not a redirect, when the request omits redirect_uri', async () => {
    const page = await new Browser().get(authorizeUrl(false));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expect(messageIds(page)).toContain('error.oidc');
    expect(page.body).toContain('invalid_request');
    expect(page.body).toContain('redirect_uri');
    expect(page.body).not.toContain('the-only-cb');
  });
});
