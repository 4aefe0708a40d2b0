// The relying party side of end-to-end tests: openid-client does discovery, PKCE, the token calls and ID token
// validation, exactly as a real RP would; Browser plays the user's browser through our pages.
import * as client from 'openid-client';
import { allForms, Browser, findForm, type Page } from './browser.ts';
import type { TestServer } from './server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { PASSWORD } from './factories.ts';

export async function discover(server: TestServer, metadata: ClientMetadata): Promise<client.Configuration> {
  return client.discovery(new URL(server.issuer), metadata.client_id, metadata.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
}

export interface AuthorizationStart {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationUrl(config: client.Configuration, redirectUri: string, params: Record<string, string> = {}): Promise<AuthorizationStart> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    prompt: 'consent',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { url, verifier, state, nonce };
}

/** PUSHED_LOGIN_HINT: the login_hint of a request `pushedAuthorizationUrl` pushed, to look for where it must not be. */
export const PUSHED_LOGIN_HINT = 'pushed-hint@example.org';

/** An authorization request pushed (PAR, RFC 9126), and the URL the browser is sent to with its request_uri. */
export async function pushedAuthorizationUrl(config: client.Configuration, redirectUri: string, params: Record<string, string> = {}): Promise<URL> {
  return client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri,
    scope: 'openid',
    state: 'pushed-state',
    nonce: 'pushed-nonce',
    login_hint: PUSHED_LOGIN_HINT,
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
    ...params,
  });
}

/** Drives the browser from the authorization URL to the login page. */
export async function openLoginPage(browser: Browser, url: URL): Promise<Page> {
  const page = await browser.follow(await browser.get(url.href));
  if (page.status !== 200) throw new Error(`expected the login page, got ${page.status}: ${page.body.slice(0, 500)}`);
  return page;
}

/**
 * A refused sign-in answers 303 back to its own page (so a reload cannot re-post the password); this follows that
 * one redirect, as a browser does. Any other answer (a successful sign-in's redirect onwards) is returned as is.
 */
export async function backToSignIn(browser: Browser, answer: Page): Promise<Page> {
  const location = answer.headers.get('location');
  if (answer.status !== 303 || !location) return answer;
  const target = new URL(location, answer.url);
  return /^\/interaction\/[^/]+$/.test(target.pathname) ? browser.get(target.href) : answer;
}

/** Posts the sign-in form: the next page when refused, the redirect onwards when signed in. */
export async function submitLogin(browser: Browser, loginPage: Page, login: string, password = PASSWORD): Promise<Page> {
  const form = findForm(loginPage, '/login');
  return backToSignIn(browser, await browser.post(form.action, { ...form.fields, login, password }));
}

/**
 * Signs in (unless the browser is signed in already and is asked for consent only) and allows consent; returns the
 * callback URL the RP receives.
 */
export async function signInAndConsent(browser: Browser, start: AuthorizationStart, login: string, redirectUri: string): Promise<URL> {
  const loginPage = await openLoginPage(browser, start.url);
  const signedIn = allForms(loginPage).some((form) => form.action.endsWith('/confirm'));
  const afterLogin = signedIn ? loginPage : await browser.follow(await submitLogin(browser, loginPage, login), redirectUri);
  if (afterLogin.url.startsWith(redirectUri)) return new URL(afterLogin.url);
  const consent = findForm(afterLogin, '/confirm');
  const done = await browser.follow(await browser.post(consent.action, consent.fields), redirectUri);
  if (!done.url.startsWith(redirectUri)) throw new Error(`did not reach the RP: ${done.status} ${done.body.slice(0, 500)}`);
  return new URL(done.url);
}

/** `browser` signed in to `login` for the RP `config` (consent given), and the tokens the RP got for its code. */
export async function signedInWithTokens(config: client.Configuration, redirectUri: string, login: string, browser = new Browser()) {
  const start = await authorizationUrl(config, redirectUri);
  const callback = await signInAndConsent(browser, start, login, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { browser, tokens };
}

/** What a silent authorization request (prompt=none) in `browser` brings back to the RP: a code or an error. */
export async function silentAuthorization(config: client.Configuration, redirectUri: string, browser: Browser): Promise<URLSearchParams> {
  const start = await authorizationUrl(config, redirectUri, { prompt: 'none', scope: 'openid' });
  return new URL((await browser.follow(await browser.get(start.url.href), redirectUri)).url).searchParams;
}

/** A complete sign-in of `login` at `server` in a fresh browser, to the tokens the RP `metadata` gets for its code. */
export async function tokensFor(server: TestServer, metadata: ClientMetadata, login: string): Promise<client.TokenEndpointResponse> {
  const config = await discover(server, metadata);
  const redirectUri = metadata.redirect_uris[0]!;
  const start = await authorizationUrl(config, redirectUri);
  const callback = await signInAndConsent(new Browser(), start, login, redirectUri);
  return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
}
