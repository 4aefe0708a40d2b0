// A sign-in page left open past its life (TTL_INTERACTION from the relying party's request) and used then: the
// relying party's same request is asked again in the browser that was shown the page, instead of the expired page
// that sends the person back to the application. What was done on the stale page carries over to the new one: a
// sign-in posted there is not checked, and its page says so with the login filled in; "Can't access your account?"
// leads on into a recovery of the new sign-in. Cancel, or a new password posted there, gets the expired page.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { allForms, Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage, pushedAuthorizationUrl, submitLogin, type AuthorizationStart } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let config: client.Configuration;
let redirectUri: string;
/** Added to the server's clock (the stored documents' expiry). */
let offsetMs = 0;
const MINUTE = 60_000;

beforeAll(async () => {
  server = await startTestServer({}, { clock: () => Date.now() + offsetMs });
  const rp = await createClient(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => server.close());

const uidOf = (url: string) => /\/interaction\/([^/?]+)/.exec(new URL(url).pathname)![1]!;
const locationOf = (page: Page) => new URL(page.headers.get('location')!, page.url);

/** A relying party's sign-in page, opened, then left until a minute after its sign-in expired. */
async function expiredSignIn(params: Record<string, string> = {}): Promise<{ user: User; browser: Browser; start: AuthorizationStart; page: Page }> {
  offsetMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri, params);
  const page = await openLoginPage(browser, start.url);
  await expire(browser, page);
  return { user, browser, start, page };
}

/**
 * Moves the server's clock past the life of `page`'s interaction, and drops its cookie from the browser, as a browser
 * does once its max-age is over (the browser's clock does not move).
 */
async function expire(browser: Browser, page: Page) {
  offsetMs = (server.config.ttl.interaction + 1) * 1000 + MINUTE;
  expect(await server.latchkey.provider.Interaction.find(uidOf(page.url))).toBeUndefined(); // expired indeed
  for (const cookie of await browser.jar.getCookies(page.url)) {
    if (cookie.key.startsWith('_interaction')) await browser.jar.setCookie(`${cookie.key}=; Path=${cookie.path}; Max-Age=0`, page.url);
  }
  expect((await browser.cookieNames(page.url)).filter((name) => name.startsWith('_interaction'))).toEqual([]);
}

/**
 * Follows a restart from the stale page's answer: its page, which asks the relying party's same request again (up to
 * a URL starting with `stopAt`, if given).
 */
async function restarted(browser: Browser, answer: Page, start: AuthorizationStart, stopAt?: string): Promise<Page> {
  const again = answer.status === 303 && /^\/interaction\/[^/]+$/.test(locationOf(answer).pathname) ? await browser.get(locationOf(answer).href) : answer;
  expect(again.status).toBe(303);
  const location = locationOf(again);
  expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
  for (const name of ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'code_challenge_method']) {
    expect(location.searchParams.get(name)).toBe(start.url.searchParams.get(name));
  }
  return browser.follow(again, stopAt);
}

const loginField = (page: Page) => /<input id="login"[^>]*value="([^"]*)"/.exec(page.body)?.[1];

it('a password posted on the expired page is not checked: the request is asked again, and its page says so with the login', async () => {
  const { user, browser, start, page } = await expiredSignIn();
  const form = findForm(page, '/login');
  const answer = await browser.post(form.action, { ...form.fields, login: user.username, password: 'not checked, whatever it is' });
  expect(answer.status).toBe(303);
  expect(locationOf(answer).href).toBe(page.url);
  const supportCode = answer.headers.get('x-request-id');

  const fresh = await restarted(browser, answer, start);
  expect(fresh.status).toBe(200);
  expect(uidOf(fresh.url)).not.toBe(uidOf(page.url));
  expect(messageIds(fresh)).toContain('login.restarted');
  expect(loginField(fresh)).toBe(user.username);
  expect(fresh.body).not.toContain('not checked, whatever it is');
  expect(supportCode && fresh.body.includes(supportCode)).toBe(true); // the stale post's code, whose log line says why
  expect(server.logs.some((line) => line.includes('"event":"interaction.restarted"') && line.includes('"reason":"expired"'))).toBe(true);
  expect(server.logs.some((line) => line.includes('"event":"signin.failed"') && line.includes(supportCode!))).toBe(false);

  // Said once: the page reloaded is a plain sign-in page, and the right password signs in to the relying party.
  const reloaded = await browser.get(fresh.url);
  expect(messageIds(reloaded)).not.toContain('login.restarted');
  const consent = findForm(await browser.follow(await submitLogin(browser, reloaded, user.username), redirectUri), '/confirm');
  const landed = await browser.follow(await browser.post(consent.action, consent.fields), redirectUri);
  const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);
});

it('the expired page opened again (a reload) asks the request again, once, and says nothing of a password', async () => {
  const { browser, start, page } = await expiredSignIn();
  const fresh = await restarted(browser, await browser.get(page.url), start);
  expect(fresh.status).toBe(200);
  expect(findForm(fresh, '/login').action).toContain(uidOf(fresh.url));
  expect(messageIds(fresh)).not.toContain('login.restarted');
  const old = await browser.get(page.url);
  expect(old.status).toBe(400);
  expect(messageIds(old)).toContain('error.interaction_expired');
});

it('"Can\'t access your account?" on the expired page leads into a recovery of the request asked again', async () => {
  const { browser, start, page } = await expiredSignIn({ login_hint: 'hinted@example.org' });
  const first = await restarted(browser, await browser.get(`${page.url}/recover`), start, `${server.origin}/interaction/`);
  const uid = uidOf(first.url);
  expect(uid).not.toBe(uidOf(page.url));
  // The new sign-in's "Can't access your account?", so that the recovery comes back to a live sign-in.
  const fresh = await browser.get(first.url);
  expect(fresh.status).toBe(303);
  expect(locationOf(fresh).pathname + locationOf(fresh).search).toBe(`/recover?from=${uid}`);
  // "Who are you?" starts with the relying party's hint, as from the sign-in page.
  const whoAreYou = await browser.follow(await browser.get(locationOf(fresh).href));
  expect(whoAreYou.status).toBe(200);
  expect(findForm(whoAreYou, '/recover').fields.identifier).toBe('hinted@example.org');
  // Once: that sign-in's page, opened again, is its page.
  expect(findForm(await browser.get(`${server.origin}/interaction/${uid}`), '/login').action).toContain(uid);
});

it('a post that is not the page\'s own form carries nothing over, and another browser gets the expired page', async () => {
  const { browser, start, page } = await expiredSignIn();
  const form = findForm(page, '/login');
  const forged = await browser.post(form.action, { ...form.fields, csrf: 'forged-token', login: 'someone-else', password: 'x' });
  expect(forged.status).toBe(303);
  const fresh = await restarted(browser, forged, start);
  expect(messageIds(fresh)).not.toContain('login.restarted');
  expect(fresh.body).not.toContain('someone-else');

  const other = await new Browser().get(page.url);
  expect(other.status).toBe(400);
  expect(messageIds(other)).toContain('error.interaction_expired');
});

it('a note left for one request is not shown by another relying party request\'s page', async () => {
  const { user, browser, page } = await expiredSignIn();
  const form = findForm(page, '/login');
  expect((await browser.post(form.action, { ...form.fields, login: user.username, password: 'not checked' })).status).toBe(303);
  // The restart not followed: the browser goes to another sign-in instead.
  const other = await openLoginPage(browser, (await authorizationUrl(config, redirectUri)).url);
  expect(messageIds(other)).not.toContain('login.restarted');
  expect(loginField(other)).toBe('');
});

it('"New picture" asked for on the expired page is simply the new page, which says nothing of a password', async () => {
  const { browser, start, page } = await expiredSignIn();
  const form = findForm(page, '/login');
  const fresh = await restarted(browser, await browser.post(form.action, { ...form.fields, action: 'new-captcha', login: 'ada' }), start);
  expect(fresh.status).toBe(200);
  expect(messageIds(fresh)).not.toContain('login.restarted');
});

it('Cancel on the expired page gets the expired page (a session made meanwhile could answer a request asked again)', async () => {
  const { browser, page } = await expiredSignIn();
  const cancel = findForm(page, '/abort');
  const answer = await browser.post(cancel.action, cancel.fields);
  expect(answer.status).toBe(400);
  expect(messageIds(answer)).toEqual(expect.arrayContaining(['error.interaction_expired', 'error.start_again']));
});

it('a new password posted on an expired page (after a temporary one) gets the expired page: it was not saved', async () => {
  offsetMs = 0;
  const user = await createUser(server);
  const TEMPORARY = 'a temporary passphrase from the administrator';
  await server.latchkey.accounts.resetPassword(user._id, TEMPORARY, { temporary: true });
  const browser = new Browser();
  const choose = await backToSignIn(browser, await submitLogin(browser, await openLoginPage(browser, (await authorizationUrl(config, redirectUri)).url), user.username, TEMPORARY));
  const form = findForm(choose, '/password');
  await expire(browser, choose);
  const answer = await browser.post(form.action, { ...form.fields, password: 'my very own passphrase now', confirm: 'my very own passphrase now' });
  expect(answer.status).toBe(400);
  expect(messageIds(answer)).toContain('error.interaction_expired');
  expect((await server.latchkey.accounts.signIn(user.username, TEMPORARY)).ok).toBe(true);
});

it('a sign-in that got its answer is not asked again, even if this browser missed the answer\'s cookie', async () => {
  offsetMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri);
  const page = await openLoginPage(browser, start.url);
  const kept = (await browser.jar.getCookies(page.url)).find((cookie) => cookie.key === 'lk_signin_restart')!;
  expect(kept).toBeDefined();
  await browser.follow(await submitLogin(browser, page, user.username), redirectUri); // on to consent: answered
  expect(await server.latchkey.provider.Interaction.find(uidOf(page.url))).toBeUndefined();
  await browser.jar.setCookie(`${kept.key}=${kept.value}; Path=${kept.path}; Max-Age=600`, page.url);
  const old = await browser.get(page.url);
  expect(old.status).toBe(400);
  expect(messageIds(old)).toContain('error.interaction_expired');
});

it('a consent page used too late asks the request again, which comes back to the consent of the session', async () => {
  offsetMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri);
  const consent = await browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), user.username), redirectUri);
  const allow = findForm(consent, '/confirm');
  await expire(browser, consent);
  const fresh = await restarted(browser, await browser.post(allow.action, allow.fields), start);
  expect(fresh.status).toBe(200);
  expect(uidOf(fresh.url)).not.toBe(uidOf(consent.url));
  expect(findForm(fresh, '/confirm').action).toContain(uidOf(fresh.url));
  const landed = await browser.follow(await browser.post(findForm(fresh, '/confirm').action, findForm(fresh, '/confirm').fields), redirectUri);
  const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);
});

it('a pushed request (PAR) is not asked again through the browser: its expired page stays', async () => {
  offsetMs = 0;
  const browser = new Browser();
  const page = await openLoginPage(browser, await pushedAuthorizationUrl(config, redirectUri));
  expect(await browser.cookieNames(page.url)).not.toContain('lk_signin_restart');
  await expire(browser, page);
  const answer = await browser.get(page.url);
  expect(answer.status).toBe(400);
  expect(messageIds(answer)).toContain('error.interaction_expired');
});

describe('a form of the security info page the sign-in stopped at, posted after the sign-in expired', () => {
  beforeAll(() => server.latchkey.policy.save({ registration: { atSignIn: true } }));
  afterAll(() => server.latchkey.policy.save({}));

  /** A sign-in stopped at the security info page (the account has no methods), left until it expired. */
  async function expiredAtSecurityInfo() {
    offsetMs = 0;
    const user = await createUser(server);
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri);
    const page = await browser.follow(await submitLogin(browser, await openLoginPage(browser, start.url), user.username), redirectUri);
    expect(messageIds(page)).toContain('security_info.heading');
    const add = allForms(page).find((form) => form.action.endsWith('/security-info/add') && form.fields.kind === 'alternateEmail')!;
    await expire(browser, page);
    return { user, browser, start, page, add };
  }

  it('asks the request again, whose page says what was last sent was not saved; signed in again, the page comes back', async () => {
    const { user, browser, start, page, add } = await expiredAtSecurityInfo();
    const answer = await browser.post(add.action, { ...add.fields, value: 'mine@home.example.test' });
    expect(answer.status).toBe(303);
    expect(locationOf(answer).href).toBe(page.url);
    const supportCode = answer.headers.get('x-request-id');
    const fresh = await restarted(browser, answer, start);
    expect(fresh.status).toBe(200);
    expect(messageIds(fresh)).toContain('login.restarted_security_info');
    expect(supportCode && fresh.body.includes(supportCode)).toBe(true);
    expect((await server.latchkey.accounts.findById(user._id))!.securityInfo.alternateEmail).toBeUndefined();
    // Said once; the right password leads to the security info page again.
    const reloaded = await browser.get(fresh.url);
    expect(messageIds(reloaded)).not.toContain('login.restarted_security_info');
    const again = await browser.follow(await submitLogin(browser, reloaded, user.username), redirectUri);
    expect(messageIds(again)).toContain('security_info.heading');
  });

  it('says nothing for a post that is not the page\'s own form', async () => {
    const { browser, start, add } = await expiredAtSecurityInfo();
    const fresh = await restarted(browser, await browser.post(add.action, { ...add.fields, csrf: 'forged-token' }), start);
    expect(fresh.status).toBe(200);
    expect(messageIds(fresh)).not.toContain('login.restarted_security_info');
  });
});
