// A recovery started from a relying party's sign-in can outlast that sign-in (30 minutes from the RP's request; a
// recovery has 15 from its start). Its "Sign in" then asks the RP's same request again, in the browser that started
// the recovery, rather than ending on "This sign-in page has expired".
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, PUSHED_LOGIN_HINT, pushedAuthorizationUrl, signInAndConsent, submitLogin, type AuthorizationStart } from '../helpers/rp.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';
import { chooseGoal, chooseMethod, emailedCode, enterCode, identify, registerMethods, sendCode, startRecoveryServer, submit } from '../helpers/recovery.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;
let config: client.Configuration;
let redirectUri: string;
/** Added to the server's clock (the stored documents' expiry). */
let offsetMs = 0;
const NEW_PASSWORD = 'a passphrase chosen while the sign-in expired';
const MINUTE = 60_000;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer({ clock: () => Date.now() + offsetMs }));
  const rp = await createClient(server);
  config = await discover(server, rp);
  redirectUri = rp.redirect_uris[0]!;
});
afterAll(() => close());

const uidOf = (url: string) => /\/interaction\/([^/?]+)/.exec(new URL(url).pathname)![1]!;
const interactionTtlMs = () => server.config.ttl.interaction * 1000;

/**
 * The RP's sign-in page opened, and left until a minute before it expires; then "Can't access your account?" and a
 * reset by an emailed code, up to its "done" page, which a few minutes later outlives the sign-in.
 */
async function resetOutlivingTheSignIn(): Promise<{ user: User; browser: Browser; start: AuthorizationStart; signIn: Page; done: Page }> {
  offsetMs = 0;
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const browser = new Browser();
  const start = await authorizationUrl(config, redirectUri);
  const signIn = await openLoginPage(browser, start.url);
  offsetMs = interactionTtlMs() - MINUTE;
  const toRecovery = await browser.get(`${signIn.url}/recover`);
  expect(toRecovery.status).toBe(303);
  const methods = await chooseGoal(browser, await identify(server, browser, user.username, `?from=${uidOf(signIn.url)}`), 'reset');
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  const passwordPage = await enterCode(browser, sent, await emailedCode(sink, alternateEmail));
  const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(messageIds(done)).toContain('recover.done_reset');
  offsetMs = interactionTtlMs() + 4 * MINUTE; // the sign-in is gone; the recovery, five minutes old, is not
  return { user, browser, start, signIn, done };
}

const signInLink = (done: Page) => new URL(/href="([^"]+)" data-message-id="recover.sign_in"/.exec(done.body)![1]!, done.url).href;

it('its "Sign in" asks the relying party\'s same request again, and the new password signs in to the RP', async () => {
  const { user, browser, start, signIn, done } = await resetOutlivingTheSignIn();
  expect(await server.latchkey.provider.Interaction.find(uidOf(signIn.url))).toBeUndefined(); // expired indeed
  const answer = await browser.get(signInLink(done));
  expect(answer.status).toBe(303);
  const location = new URL(answer.headers.get('location')!, answer.url);
  expect(location.origin + location.pathname).toBe(`${server.issuer}/auth`);
  for (const name of ['client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge', 'code_challenge_method']) {
    expect(location.searchParams.get(name)).toBe(start.url.searchParams.get(name));
  }
  expect(server.logs.some((line) => line.includes('"event":"interaction.restarted"') && line.includes('"reason":"expired"'))).toBe(true);

  const fresh = await browser.follow(answer);
  expect(fresh.status).toBe(200);
  expect(uidOf(fresh.url)).not.toBe(uidOf(signIn.url));
  let landed = await browser.follow(await submitLogin(browser, fresh, user.username, NEW_PASSWORD), redirectUri);
  if (!landed.url.startsWith(redirectUri)) landed = await browser.follow(await browser.post(findForm(landed, '/confirm').action, findForm(landed, '/confirm').fields), redirectUri);
  const tokens = await client.authorizationCodeGrant(config, new URL(landed.url), { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()?.sub).toBe(user._id);

  // The request was asked again once: its old page, opened again, is the expired one, not another request for a code.
  const old = await browser.get(signIn.url);
  expect(old.status).toBe(400);
  expect(messageIds(old)).toContain('error.interaction_expired');
});

it('a password posted on the expired page is not checked: its page restarts the request', async () => {
  const { user, browser, signIn } = await resetOutlivingTheSignIn();
  const form = findForm(signIn, '/login');
  const answer = await browser.post(form.action, { ...form.fields, login: user.username, password: NEW_PASSWORD });
  expect(answer.status).toBe(303);
  expect(new URL(answer.headers.get('location')!, answer.url).href).toBe(signIn.url);
  expect((await browser.get(signIn.url)).status).toBe(303);
});

// (A sign-in page left open past its life, with no recovery, restarts too: test/interactions/expired-sign-in.test.ts.)
it('is the expired page for a browser that did not start the recovery there', async () => {
  const { signIn } = await resetOutlivingTheSignIn();
  const other = await new Browser().get(signIn.url);
  expect(other.status).toBe(400);
  expect(messageIds(other)).toContain('error.interaction_expired');
});

it('is the expired page once the sign-in got its answer, though a recovery was started from it', async () => {
  offsetMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  const signIn = await openLoginPage(browser, (await authorizationUrl(config, redirectUri)).url);
  expect((await browser.get(`${signIn.url}/recover`)).status).toBe(303); // started, then given up: the password came back to mind
  const answer = await submitLogin(browser, await browser.get(signIn.url), user.username);
  expect(answer.status).toBe(303);
  offsetMs = interactionTtlMs() + MINUTE;
  const old = await browser.get(signIn.url);
  expect(old.status).toBe(400);
  expect(messageIds(old)).toContain('error.interaction_expired');
});

it('asks a request again only once, also when the first time was for a session the reset revoked', async () => {
  offsetMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri), user.username, redirectUri);
  const signIn = await openLoginPage(browser, (await authorizationUrl(config, redirectUri, { prompt: 'login' })).url);
  expect((await browser.get(`${signIn.url}/recover`)).status).toBe(303);
  await server.latchkey.accounts.resetPassword(user._id, NEW_PASSWORD); // as the recovery's reset: the session is gone
  const restarted = await browser.get(signIn.url);
  expect(restarted.status).toBe(303);
  expect(new URL(restarted.headers.get('location')!, restarted.url).pathname).toBe(new URL(`${server.issuer}/auth`).pathname);
  offsetMs = interactionTtlMs() + MINUTE;
  const again = await browser.get(signIn.url);
  expect(again.status).toBe(400);
  expect(messageIds(again)).toContain('error.interaction_expired');
});

it('keeps nothing of a pushed request (PAR): its parameters never go through the browser', async () => {
  offsetMs = 0;
  const browser = new Browser();
  const signIn = await openLoginPage(browser, await pushedAuthorizationUrl(config, redirectUri));
  const toRecovery = await browser.get(`${signIn.url}/recover`);
  expect(toRecovery.status).toBe(303);
  expect(toRecovery.headers.getSetCookie().some((cookie) => cookie.startsWith('lk_signin_restart='))).toBe(false);
  offsetMs = interactionTtlMs() + MINUTE;
  const expired = await browser.get(signIn.url);
  expect(expired.status).toBe(400);
  expect(messageIds(expired)).toContain('error.interaction_expired');
  expect(expired.body).not.toContain(PUSHED_LOGIN_HINT);
});
