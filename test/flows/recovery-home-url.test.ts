// A recovery that no application started (someone opened /recover from a bookmark or a help page) has no sign-in to
// go back to: with BRAND_HOME_URL set, its Cancel, its done page and a cancelled recovery lead to the organisation's
// start page rather than this server's technical home page; without it, Cancel still leads to this server's home.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, linkTo, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, registerMethods, submit } from '../helpers/recovery.ts';

const HOME = 'https://portal.acme.example/';
let server: TestServer;
let plain: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, BRAND_HOME_URL: HOME });
  plain = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
});
afterAll(async () => {
  await server.close();
  await plain.close();
});

it("sends Cancel on the first page to the organisation's start page, or to this server's home without one", async () => {
  expect(linkTo(await new Browser().get(`${server.origin}/recover`), 'recover.cancel')).toBe(HOME);
  expect(linkTo(await new Browser().get(`${plain.origin}/recover`), 'recover.cancel')).toBe('/');
  // A recovery an application started goes back to its sign-in instead.
  expect(linkTo(await new Browser().get(`${server.origin}/recover?from=an-interaction-uid`), 'recover.cancel')).toBe('/interaction/an-interaction-uid');
});

/** A new account with an authenticator on `on`, recovered with it to the done page in a browser no app sent. */
async function resetToDone(on: TestServer) {
  const user = await createUser(on);
  const { totp } = await registerMethods(on, user, { authenticator: true });
  const browser = new Browser();
  const passwordPage = await enterCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(on, browser, user.username), 'reset'), 'totp'), totp());
  const password = 'a fresh passphrase for the portal';
  return { user, done: await submit(browser, passwordPage, '/password', { password, confirm: password }) };
}

it('offers the start page once the password is reset, and first after a cancel', async () => {
  const { user, done } = await resetToDone(server);
  expect(messageIds(done)).toEqual(expect.arrayContaining(['recover.done_reset', 'recover.done_no_app', 'recover.home']));
  expect(linkTo(done, 'recover.home')).toBe(HOME);

  const other = new Browser();
  const goal = await identify(server, other, user.username);
  const cancelled = await other.post(findForm(goal, '/goal').action.replace(/\/goal$/, '/cancel'), { csrf: findForm(goal, '/goal').fields.csrf! });
  expect(messageIds(cancelled)).toContain('recover.cancelled');
  expect(cancelled.body).toMatch(/class="button primary" href="https:\/\/portal\.acme\.example\/" data-message-id="recover\.home"/);
  expect(cancelled.body).toMatch(/class="button secondary"[^>]*data-message-id="recover\.start_again"/);
});

it('shows no start-page link where none is configured', async () => {
  const { done } = await resetToDone(plain);
  expect(messageIds(done)).toEqual(expect.arrayContaining(['recover.done_reset', 'recover.done_no_app']));
  expect(messageIds(done)).not.toContain('recover.home');
});
