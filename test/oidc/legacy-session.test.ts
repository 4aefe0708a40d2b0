// Sessions signed in before session aliases moved in with the sessions (`uid:<uid>` in oidc_session, written with
// the session in one command) kept their alias in oidc_session_uid. Such a session keeps working: silent
// authentication finds it, and revoking the account's access still ends it.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { collectionName, sessionAliasId } from '../../src/oidc/adapter.ts';

let server: TestServer;
let config: client.Configuration;
let redirectUri: string;

beforeAll(async () => {
  server = await startTestServer();
  const rp = await createClient(server);
  redirectUri = rp.redirect_uris[0]!;
  config = await discover(server, rp);
});
afterAll(() => server.close());

async function silent(browser: Browser): Promise<URLSearchParams> {
  const start = await authorizationUrl(config, redirectUri, { prompt: 'none', scope: 'openid' });
  return new URL((await browser.follow(await browser.get(start.url.href), redirectUri)).url).searchParams;
}

it('a session whose alias is stored the old way still signs in silently, and account revocation still ends it', async () => {
  const user = await createUser(server);
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);

  // Rewrite the stored session as the previous release stored it: the alias in its own collection, by bare uid.
  const db = server.connection.db!;
  const sessions = db.collection<{ _id: string; target?: string; expiresAt?: Date; payload?: { accountId?: string; uid?: string } }>(collectionName('Session'));
  const session = await sessions.findOne({ 'payload.accountId': user._id });
  const uid = session!.payload!.uid!;
  const alias = await sessions.findOne({ _id: sessionAliasId(uid) });
  expect(alias?.target).toBe(session!._id);
  await sessions.deleteOne({ _id: sessionAliasId(uid) });
  await db.collection('oidc_session_uid').insertOne({ _id: uid, target: session!._id, expiresAt: alias!.expiresAt } as never);

  expect((await silent(browser)).get('code')).toBeTruthy();
  await server.latchkey.accounts.revokeAccess(user._id);
  expect((await silent(browser)).get('error')).toBe('login_required');
});
