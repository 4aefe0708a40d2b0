// One complete sign-in as a relying party and a first-time visitor see it: authorization request with PKCE,
// the sign-in page with the real password, the consent page, the redirect back with the code, and the code
// exchanged at the token endpoint. Throws, with the step that went wrong, unless an ID token for this very
// request came back.
import { createHash, randomBytes } from 'node:crypto';
import { Browser, primaryForm, type Page, type RequestObserver } from './browser.ts';
import { AUTHORIZATION_PARAMS, REDIRECT_URI, type Target } from './target.ts';

/** A flow has 8 requests; anything past this is a loop (e.g. a form that keeps coming back). */
const MAX_REQUESTS = 16;

export interface Endpoints {
  authorization: string;
  token: string;
}

/** Reads the provider's discovery document once, before any flow. */
export async function discover(target: Target, signal: AbortSignal): Promise<Endpoints> {
  const response = await fetch(`${target.issuer}/.well-known/openid-configuration`, { signal });
  if (!response.ok) throw new Error(`${target.name}: discovery answered ${response.status}`);
  const metadata = (await response.json()) as { issuer?: string; authorization_endpoint?: string; token_endpoint?: string };
  if (metadata.issuer !== target.issuer || !metadata.authorization_endpoint || !metadata.token_endpoint) {
    throw new Error(`${target.name}: unexpected discovery document ${JSON.stringify(metadata).slice(0, 300)}`);
  }
  for (const url of [metadata.authorization_endpoint, metadata.token_endpoint]) {
    if (new URL(url).hostname !== '127.0.0.1') throw new Error(`${target.name}: endpoint ${url} is not on 127.0.0.1`);
  }
  return { authorization: metadata.authorization_endpoint, token: metadata.token_endpoint };
}

const random = () => randomBytes(32).toString('base64url');

export interface AuthorizationRequest {
  url: string;
  verifier: string;
  state: string;
  nonce: string;
}

/** A new authorization request with PKCE, as a relying party would send its user's browser to. */
export function authorizationRequest(target: Target, endpoints: Endpoints): AuthorizationRequest {
  const verifier = random();
  const state = random();
  const nonce = random();
  const authorize = new URL(endpoints.authorization);
  authorize.search = new URLSearchParams({
    client_id: target.clientId,
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    ...AUTHORIZATION_PARAMS,
    state,
    nonce,
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return { url: authorize.href, verifier, state, nonce };
}

export async function runFlow(target: Target, endpoints: Endpoints, signal: AbortSignal, observe: RequestObserver): Promise<void> {
  const browser = new Browser(signal, observe);
  const { url, verifier, state, nonce } = authorizationRequest(target, endpoints);

  const callback = await signInAndConsent(browser, target, url);
  if (callback.searchParams.get('error')) throw new Error(`authorization error: ${callback.searchParams.get('error')}`);
  if (callback.searchParams.get('state') !== state) throw new Error('callback state does not match');
  const code = callback.searchParams.get('code');
  if (!code) throw new Error('callback without a code');

  const started = performance.now();
  const response = await fetch(endpoints.token, {
    method: 'POST',
    signal,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      authorization: basicAuth(target.clientId, target.clientSecret),
    },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString(),
  });
  const tokens = (await response.json()) as { id_token?: unknown; access_token?: unknown; error?: unknown };
  browser.record('POST', endpoints.token, performance.now() - started);
  if (!response.ok) throw new Error(`token endpoint answered ${response.status} ${String(tokens.error)}`);
  checkIdToken(tokens.id_token, target, nonce);
  if (typeof tokens.access_token !== 'string') throw new Error('no access token');
}

/** Plays the user: follows redirects, signs in on the page with a password field, submits the other pages' form. */
async function signInAndConsent(browser: Browser, target: Target, authorizationUrl: string): Promise<URL> {
  let page: Page = await browser.request(authorizationUrl);
  let signedIn = false;
  for (let requests = 1; requests < MAX_REQUESTS; requests += 1) {
    if (page.location?.startsWith(REDIRECT_URI)) return new URL(page.location);
    if (page.status >= 300 && page.status < 400 && page.location) {
      page = await browser.request(page.location);
      continue;
    }
    if (page.status !== 200 || !page.contentType.includes('html')) {
      throw new Error(`unexpected ${page.status} at ${new URL(page.url).pathname}`);
    }
    const form = primaryForm(page);
    if (form.passwordFields.length > 0) {
      // The sign-in page again after submitting it means the password was refused.
      if (signedIn) throw new Error('sign-in refused');
      signedIn = true;
      page = await browser.submit(form, { login: target.login, [form.passwordFields[0]!]: target.password });
    } else {
      page = await browser.submit(form);
    }
  }
  throw new Error(`no redirect to the client after ${MAX_REQUESTS} requests`);
}

/** client_secret_basic: both parts form-encoded before base64 (RFC 6749 §2.3.1). */
function basicAuth(id: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

/**
 * The ID token must be for this client and this request (nonce) from this issuer. The signature is not checked:
 * the relying party's crypto is not what is measured, and the token came straight from the endpoint over loopback.
 */
function checkIdToken(idToken: unknown, target: Target, nonce: string): void {
  if (typeof idToken !== 'string') throw new Error('no id_token in the token response');
  const [, payload] = idToken.split('.');
  let claims: { iss?: unknown; aud?: unknown; nonce?: unknown; sub?: unknown };
  try {
    claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as typeof claims;
  } catch {
    throw new Error('id_token is not a JWT');
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.iss !== target.issuer || !audiences.includes(target.clientId) || claims.nonce !== nonce || typeof claims.sub !== 'string') {
    throw new Error('id_token claims do not match the request');
  }
}
