// The database goes away under a running server (killed, as a crash would): the supervisor says so and starts it
// again by itself; meanwhile pages answer within seconds with a 503 that says what happened (never a library's
// text) and JSON endpoints answer `temporarily_unavailable`, while discovery and the signing keys as last read still
// answer; once it is back the same server signs people in
// again without a restart.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { Browser, messageIds } from '../helpers/browser.ts';
import { waitFor } from '../helpers/recovery.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startLocalDb, type LocalDb } from '../../scripts/local-db.ts';

let dataDir: string;
let db: LocalDb;
let server: TestServer;
const said: string[] = [];
/** Long enough to observe the outage before the supervisor brings the database back. */
const RESTART_DELAY_MS = 8000;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-outage-'));
  db = await startLocalDb({ dataDir, restartDelayMs: RESTART_DELAY_MS, log: (line) => void said.push(line) });
  server = await startTestServer({}, { sharedDatabase: `${db.uri}/latchkey_outage` });
}, 120_000);
afterAll(async () => {
  await server.close();
  await db.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('answers 503 pages and temporarily_unavailable while the database is down, and works again once it is back', async () => {
  const rp = await createClient(server);
  const user = await createUser(server);
  const config = await discover(server, rp);
  const redirectUri = rp.redirect_uris[0]!;
  const browser = new Browser();
  const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri)).url);

  const jwksBefore = await fetch(`${server.issuer}/jwks`);
  expect(jwksBefore.status).toBe(200);
  const keys = await jwksBefore.json();

  db.kill!();
  await waitFor(() => said.find((line) => line.startsWith('local database stopped')), 'the supervisor to notice');

  const started = Date.now();
  const page = await submitLogin(browser, loginPage, user.username, PASSWORD);
  expect(Date.now() - started).toBeLessThan(8000); // the 2 s server selection, not the driver's 30 s, with room for a loaded machine
  expect(page.status).toBe(503);
  expect(messageIds(page)).toContain('error.database_unavailable');
  expect(messageIds(page)).toContain('error.support_code');
  expect(/<title>([^<]*)<\/title>/.exec(page.body)?.[1]).toBe('Temporarily unavailable · Latchkey'); // an outage, said in the tab
  expect(page.body).not.toMatch(/oops|server_error|Mongo|{app}/i);
  // Logged as one short warning with its support code, not a driver's stack trace.
  const logged = server.logs.filter((line) => line.includes(`"requestId":"${page.headers.get('x-request-id')}"`) && line.includes('request failed'));
  expect(logged).toHaveLength(1);
  expect(logged[0]).toContain('"level":40');
  expect(logged[0]).not.toContain('"stack"');

  const token = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rp.client_id}:${rp.client_secret}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: redirectUri }).toString(),
  });
  expect(token.status).toBe(503);
  expect(token.headers.get('retry-after')).toBeTruthy();
  expect(await token.json()).toMatchObject({ error: 'temporarily_unavailable', support_code: expect.any(String) });

  // Relying parties keep verifying tokens: the signing keys as last read, once that read is old enough to be tried
  // again (a second) and the new read fails; and discovery, which lives in memory.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  for (let i = 0; i < 2; i += 1) {
    const jwks = await fetch(`${server.issuer}/jwks`);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('etag')).toBe(jwksBefore.headers.get('etag'));
    // Cacheable only for what is left of the copy's minute, not a whole new one.
    expect(Number(/max-age=(\d+)/.exec(jwks.headers.get('cache-control')!)![1])).toBeLessThan(60);
    expect(await jwks.json()).toEqual(keys);
  }
  expect((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200);
  expect(said).not.toContain('local database is back');

  await waitFor(() => said.find((line) => line === 'local database is back'), 'the database to come back', 30_000);
  const again = new Browser();
  const start = await authorizationUrl(config, redirectUri);
  const callback = await signInAndConsent(again, start, user.username, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);

  // The background sender met the outage too: one warning and one line when it was over, not a stack every second.
  await waitFor(() => server.logs.find((line) => line.includes('delivery resumed')), 'the sender to resume');
  expect(server.logs.filter((line) => line.includes('delivery paused'))).toHaveLength(1);
  expect(server.logs.filter((line) => line.includes('delivery pass failed'))).toEqual([]);
}, 120_000);
