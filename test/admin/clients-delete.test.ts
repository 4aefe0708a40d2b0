// `clients delete` takes the client's grants with it: a client registered later under the same id starts with no
// user's consent and none of the old client's tokens.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { collectionName } from '../../src/oidc/adapter.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function adminJson<T>(args: string[], input = ''): Promise<T> {
  const run = await runAdmin(server.dbUri, [...args, '--json'], { input });
  if (run.code !== 0) throw new Error(`admin ${args.join(' ')} exited with ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** Starts a sign-in at `metadata` in a browser already signed in, without prompt=consent: true when consent is asked. */
async function asksConsent(browser: Browser, metadata: ClientMetadata): Promise<boolean> {
  const redirectUri = metadata.redirect_uris[0]!;
  const start = await authorizationUrl(await discover(server, metadata), redirectUri, { scope: 'openid profile email' });
  start.url.searchParams.delete('prompt'); // only a missing consent may ask for it
  const page = await browser.follow(await browser.get(start.url.href), redirectUri);
  if (page.url.startsWith(redirectUri)) return false;
  expect(page.body).toContain('/confirm');
  return true;
}

/** Registers client `id` named `name`. */
const createClient = (id: string, name: string) =>
  adminJson<ClientMetadata>(['clients', 'create', '--name', name, '--client-id', id, '--redirect-uri', `${server.origin}/cb`]);

/** Ada signs in to `metadata`'s app in a new browser and consents; the browser and the app's tokens. */
async function consentedSignIn(metadata: ClientMetadata) {
  const redirectUri = metadata.redirect_uris[0]!;
  const config = await discover(server, metadata);
  const start = await authorizationUrl(config, redirectUri);
  const browser = new Browser();
  const callback = await signInAndConsent(browser, start, 'ada', redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { browser, tokens };
}

it('a client re-created under a deleted one\'s id asks for consent again, and the old refresh token is void', async () => {
  await adminJson(['users', 'create', '--username', 'ada', '--email', 'ada@example.test', '--password-stdin', '--permanent'], PASSWORD);
  const create = (name: string) => createClient('reused', name);

  const good = await create('Good App');
  const { browser, tokens } = await consentedSignIn(good);
  expect(tokens.refresh_token).toBeTruthy();
  expect(await asksConsent(browser, good)).toBe(false); // consent given: remembered

  await adminJson(['clients', 'delete', 'reused']);
  const evil = await create('Evil App');
  expect(await asksConsent(browser, evil)).toBe(true);
  await expect(client.refreshTokenGrant(await discover(server, evil), tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

it('finishes a delete cut short after the client was removed (Ctrl-C during its wait) when run again', async () => {
  const { browser } = await consentedSignIn(await createClient('cut', 'First App'));

  // Where an interrupted delete leaves things: the client gone, its grants not yet.
  await server.connection.db!.collection<{ _id: string }>(collectionName('Client')).deleteOne({ _id: 'cut' });
  expect((await runAdmin(server.dbUri, ['clients', 'delete', 'cut'])).code).toBe(0);
  expect(await asksConsent(browser, await createClient('cut', 'Second App'))).toBe(true);
  // A client that never was, with nothing left of it, is still "no such client".
  expect((await runAdmin(server.dbUri, ['clients', 'delete', 'never-was'])).code).toBe(1);
});

it("takes the client's client-credentials tokens too: re-created under its id, the client finds them inactive", async () => {
  const create = () => adminJson<ClientMetadata>(['clients', 'create', '--name', 'Service', '--client-id', 'svc', '--grant-type', 'client_credentials']);
  const service = await create();
  const { access_token: token } = await client.clientCredentialsGrant(await discover(server, service));
  const stored = () => server.connection.db!.collection(collectionName('ClientCredentials')).countDocuments({ 'payload.clientId': 'svc' });
  expect(await stored()).toBe(1);
  await adminJson(['clients', 'delete', 'svc']);
  expect(await stored()).toBe(0);
  const again = await create();
  expect((await client.tokenIntrospection(await discover(server, again), token)).active).toBe(false);
});
