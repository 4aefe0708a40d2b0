// A server error inside the protocol library (here: a stored session it cannot read) gets our error page with a
// support code, never the library's own text ("server_error", "oops! something went wrong").
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { collectionName } from '../../src/oidc/adapter.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

it('shows our page with a support code, without the library text', async () => {
  const rp = await createClient(server);
  const user = await createUser(server);
  const config = await discover(server, rp);
  const redirectUri = rp.redirect_uris[0]!;
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);
  await server.connection.db!.collection(collectionName('Session')).updateMany({ 'payload.accountId': user._id }, { $set: { 'payload.authorizations': 'not an object' } });

  const page = await browser.get((await authorizationUrl(config, redirectUri)).url.href);
  expect(page.status).toBe(500);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['error.server', 'error.support_code']));
  expect(page.body).not.toMatch(/oops|server_error/i);
});
