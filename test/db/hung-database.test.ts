// A database that stops answering without closing its connections (a frozen host, a network that drops packets):
// a person at the sign-in is told it is unavailable within seconds, with a support code, rather than waiting on a
// blank page for the driver's default 40 s; once the database answers again, sign-in pages work without a restart.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createClient } from '../helpers/factories.ts';
import { waitFor } from '../helpers/recovery.ts';
import { authorizationUrl, discover } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startLocalDb, type LocalDb } from '../../scripts/local-db.ts';
import type * as client from 'openid-client';

let dataDir: string;
let local: LocalDb;
let server: TestServer;
let config: client.Configuration;
let redirectUri: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-hung-'));
  local = await startLocalDb({ dataDir, restartDelayMs: 60_000 });
  server = await startTestServer({}, { sharedDatabase: `${local.uri}/latchkey_hung` });
  const rp = await createClient(server);
  redirectUri = rp.redirect_uris[0]!;
  config = await discover(server, rp);
}, 60_000);

afterAll(async () => {
  await server.close();
  await local.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** An authorization request followed to where it lands: the sign-in page, or the page that says why not. */
async function signInPage(signal?: AbortSignal): Promise<ReturnType<Browser['get']>> {
  const browser = new Browser();
  return browser.follow(await browser.request((await authorizationUrl(config, redirectUri)).url.href, signal ? { signal } : {}));
}

/** Far above the heartbeat's ~6 s, far below the driver defaults' ~40 s. */
const ANSWER_WITHIN_MS = 20_000;

// Without a heartbeat that gives up on a silent database, the frozen request is still waiting when the browser
// gives up on it (the driver's defaults give up after about 40 s; the heartbeat here, after about 6 s).
it('answers a sign-in with the 503 page and a support code while the database is frozen, and signs in again once it answers', async () => {
  expect((await signInPage()).status).toBe(200);

  const resume = local.pause!();
  let page: Awaited<ReturnType<typeof signInPage>>;
  try {
    page = await signInPage(AbortSignal.timeout(ANSWER_WITHIN_MS));
  } finally {
    resume();
  }
  expect(page.status).toBe(503);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['error.database_unavailable', 'error.support_code']));

  await waitFor(async () => ((await signInPage()).status === 200 ? true : undefined), 'sign-in pages to work again', 20_000);
}, 60_000);
