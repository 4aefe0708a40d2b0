// How the user signed in, told to the relying party: `amr` and `acr` in the ID token, an essential acr that a
// password sign-in cannot meet refused (OpenID Connect Core §5.5.1.1), and max_age still forcing a fresh sign-in.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { ACR } from '../../src/oidc/account.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let config: client.Configuration;
let user: User;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  server = await startTestServer();
  config = await discover(server, await createClient(server, { first_party: true }));
  user = await createUser(server);
});
afterAll(() => server.close());

const essentialAcr = (values: string[]) => JSON.stringify({ id_token: { acr: { essential: true, values } } });

it('puts amr ["pwd"] and the password acr in the ID token, and advertises the acr', async () => {
  expect(config.serverMetadata().acr_values_supported).toEqual([ACR.password]);
  const start = await authorizationUrl(config, redirectUri());
  const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri());
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()).toMatchObject({ amr: ['pwd'], acr: ACR.password, auth_time: expect.any(Number) });
});

it('refuses an essential acr it cannot meet with access_denied, before asking for a password', async () => {
  const start = await authorizationUrl(config, redirectUri(), { claims: essentialAcr(['urn:example:acr:hardware-key']) });
  const browser = new Browser();
  const back = await browser.follow(await browser.get(start.url.href), redirectUri());
  const params = new URL(back.url).searchParams;
  expect(params.get('error')).toBe('access_denied');
  expect(params.get('state')).toBe(start.state);
});

it('signs in when the essential acr is one it can meet', async () => {
  const start = await authorizationUrl(config, redirectUri(), { claims: essentialAcr(['urn:example:other', ACR.password]) });
  const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri());
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.acr).toBe(ACR.password);
});

it('keeps max_age working: a signed-in browser is asked for its password again when the sign-in is too old', async () => {
  const browser = new Browser();
  const first = await authorizationUrl(config, redirectUri());
  await signInAndConsent(browser, first, user.username, redirectUri());
  const silent = await authorizationUrl(config, redirectUri(), { prompt: 'none', max_age: '3600' });
  expect(new URL((await browser.follow(await browser.get(silent.url.href), redirectUri())).url).searchParams.get('code')).toBeTruthy();
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const tooOld = await authorizationUrl(config, redirectUri(), { max_age: '0' });
  const page = await openLoginPage(browser, tooOld.url);
  expect(page.body).toContain('name="password"');
});
