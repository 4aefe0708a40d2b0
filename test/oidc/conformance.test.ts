// What the OpenID Foundation's Basic OP and Config OP plans check that the other tests do not show: request objects
// refused as unsupported (as discovery says) back at the relying party, a fresh auth_time after prompt=login, and
// RP-Initiated Logout named by client_id alone.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signedInWithTokens, silentAuthorization, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let redirectUri: string;

beforeAll(async () => {
  server = await startTestServer();
  rp = await createClient(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

it.each([
  ['request', { request: 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.' }, 'request_not_supported', 'request_parameter_supported'],
  ['request_uri', { request_uri: 'https://rp.example/request.jwt' }, 'request_uri_not_supported', 'request_uri_parameter_supported'],
])('refuses a %s parameter, as discovery says, with its error sent back to the application', async (_name, params, error, advertised) => {
  const document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  expect(document[advertised] ?? false).toBe(false); // absent means false (Discovery §3)
  const start = await authorizationUrl(config, redirectUri, params);
  const answer = await new Browser().get(start.url.href);
  expect(answer.status).toBe(303);
  const back = new URL(answer.headers.get('location')!);
  expect(`${back.origin}${back.pathname}`).toBe(redirectUri);
  expect(Object.fromEntries(back.searchParams)).toEqual({ error, state: start.state, iss: server.issuer });
});

it('gives a new auth_time after prompt=login, though the browser was signed in already', async () => {
  const user = await createUser(server);
  const { browser, tokens } = await signedInWithTokens(config, redirectUri, user.username);
  const first = tokens.claims()!.auth_time!;
  await new Promise((resolve) => setTimeout(resolve, 1100)); // auth_time has whole seconds
  const start = await authorizationUrl(config, redirectUri, { prompt: 'login', scope: 'openid' });
  const landed = await browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), user.username), redirectUri);
  const again = await client.authorizationCodeGrant(config, new URL(landed.url), { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(again.claims()!.sub).toBe(user._id);
  expect(again.claims()!.auth_time).toBeGreaterThan(first);
});

describe('RP-Initiated Logout with client_id and no id_token_hint', () => {
  const endSessionUrl = (params: Record<string, string>) => {
    const url = new URL(`${server.issuer}/session/end`);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.href;
  };

  it('asks on our page, ends the session and returns to the registered post-logout URI with state', async () => {
    const user = await createUser(server);
    const { browser } = await signedInWithTokens(config, redirectUri, user.username);
    const confirm = await browser.get(endSessionUrl({ client_id: rp.client_id, post_logout_redirect_uri: rp.post_logout_redirect_uris[0]!, state: 'bye' }));
    expect(confirm.status).toBe(200);
    expect(messageIds(confirm)).toContain('logout.question_client'); // the application named
    const form = findForm(confirm, '/session/end/confirm');
    const done = await browser.post(form.action, { ...form.fields, logout: 'yes' });
    expect(done.status).toBe(303);
    const back = new URL(done.headers.get('location')!);
    expect(`${back.origin}${back.pathname}`).toBe(rp.post_logout_redirect_uris[0]);
    expect(back.searchParams.get('state')).toBe('bye');
    // Signed out: the next authorization asks for the password again.
    const start = await authorizationUrl(config, redirectUri);
    expect(findForm(await browser.follow(await browser.get(start.url.href)), '/login').fields).toHaveProperty('csrf');
  });

  it('ends the session on the server: a copy of the cookies taken before the logout does not sign anyone in after it (ASVS 7.4.1)', async () => {
    const user = await createUser(server);
    const { browser } = await signedInWithTokens(config, redirectUri, user.username);
    const copy = new Browser();
    for (const cookie of await browser.jar.getCookies(server.issuer, { allPaths: true })) await copy.jar.setCookie(cookie, server.issuer);
    const silently = async (who: Browser) => {
      const start = await authorizationUrl(config, redirectUri, { prompt: 'none', scope: 'openid' });
      return new URL((await who.follow(await who.get(start.url.href), redirectUri)).url).searchParams;
    };
    expect((await silently(copy)).get('code')).toBeTruthy(); // the copy works while the session lasts
    const form = findForm(await browser.get(endSessionUrl({ client_id: rp.client_id })), '/session/end/confirm');
    expect((await browser.post(form.action, { ...form.fields, logout: 'yes' })).status).toBe(303);
    expect((await silently(copy)).get('error')).toBe('login_required');
  });

  it('with a post-logout URI but no client named, signs out on our page and stays there: nothing confirms that target (§3)', async () => {
    const user = await createUser(server);
    const { browser } = await signedInWithTokens(config, redirectUri, user.username);
    const confirm = await browser.get(endSessionUrl({ post_logout_redirect_uri: rp.post_logout_redirect_uris[0]!, state: 'bye' }));
    expect(confirm.status).toBe(200);
    expect(messageIds(confirm)).toContain('logout.question');
    const form = findForm(confirm, '/session/end/confirm');
    const done = await browser.follow(await browser.post(form.action, { ...form.fields, logout: 'yes' }));
    expect(done.url.startsWith(rp.post_logout_redirect_uris[0]!)).toBe(false);
    expect(done.status).toBe(200);
    expect(messageIds(done)).toContain('logout.done_title');
  });

  it('answers a sign-out confirmed from a page out of date (another tab signed out first) with a page that says so', async () => {
    const user = await createUser(server);
    const { browser } = await signedInWithTokens(config, redirectUri, user.username);
    const tabs = [];
    for (let tab = 0; tab < 2; tab++) tabs.push(findForm(await browser.get(endSessionUrl({ client_id: rp.client_id })), '/session/end/confirm'));
    const [older, newer] = tabs as [ReturnType<typeof findForm>, ReturnType<typeof findForm>];
    const saysOutOfDate = (page: Page) => {
      expect(page.status).toBe(400);
      expect(messageIds(page)).toEqual(expect.arrayContaining(['error.logout_out_of_date', 'error.support_code']));
      expect(messageIds(page)).not.toContain('error.oidc');
    };
    // The newer tab's page replaced the older one's token: the older one's Sign out is out of date, and ends nothing.
    saysOutOfDate(await browser.post(older.action, { ...older.fields, logout: 'yes' }));
    expect((await silentAuthorization(config, redirectUri, browser)).get('code')).toBeTruthy();
    expect((await browser.post(newer.action, { ...newer.fields, logout: 'yes' })).status).toBe(303);
    // Posted again once signed out: nothing is left to end.
    saysOutOfDate(await browser.post(newer.action, { ...newer.fields, logout: 'yes' }));
  });

  it('refuses a post-logout URI the named client did not register, on our error page, never redirecting', async () => {
    const page = await new Browser().get(endSessionUrl({ client_id: rp.client_id, post_logout_redirect_uri: 'https://attacker.example/signed-out' }));
    expect(page.status).toBe(400);
    expect(page.headers.get('location')).toBeNull();
    expect(messageIds(page)).toContain('error.oidc');
    expect(page.body).toMatch(/Support code: [A-Z0-9]{8}/);
  });
});
