// "Forgot your password?" on an account page's door ("Your security info", "Your sessions and apps") begins a
// recovery that remembers that door: its Cancel, its done page and its ended pages lead back there, where the
// person signs in with what they just set. Only those doors: any other `from` is no way back.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, linkTo, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, registerMethods, submit } from '../helpers/recovery.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
});
afterAll(async () => {
  await server.close();
});

/** The recovery's first page, reached by the door's "Forgot your password?" link (`query`: the door's). */
async function forgotFrom(browser: Browser, door: string, query = ''): Promise<Page> {
  const link = linkTo(await browser.get(`${server.origin}${door}${query}`), 'change_password.forgot');
  expect(link).toBe(`/recover?from=${encodeURIComponent(door)}`);
  return browser.get(`${server.origin}${link}`);
}

it.each(['/account/security-info', '/account/sessions'])('leads a reset begun at the door of %s back to that door', async (door) => {
  const user = await createUser(server);
  const { totp } = await registerMethods(server, user, { authenticator: true });
  const browser = new Browser();
  // The door shows the application's login hint; the recovery starts with it, as from a sign-in page.
  const first = await forgotFrom(browser, door, `?login_hint=${encodeURIComponent(user.email)}`);
  expect(linkTo(first, 'recover.cancel')).toBe(door);
  expect(findForm(first, '/recover').fields.identifier).toBe(user.email);

  const goal = await submit(browser, first, '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  const passwordPage = await enterCode(browser, await chooseMethod(browser, await chooseGoal(browser, goal, 'reset'), 'totp'), totp());
  const password = 'a new passphrase for my own pages';
  const done = await submit(browser, passwordPage, '/password', { password, confirm: password });
  expect(messageIds(done)).toEqual(expect.arrayContaining(['recover.done_reset', 'recover.sign_in']));
  expect(messageIds(done)).not.toContain('recover.done_no_app');
  expect(linkTo(done, 'recover.sign_in')).toBe(door);

  // The door starts with the login typed on "Who are you?", and signs the person in with the new password.
  const doorPage = await browser.get(`${server.origin}${door}`);
  expect(findForm(doorPage, door).fields.login).toBe(user.username);
  const opened = await submit(browser, doorPage, door, { login: user.username, current: password });
  expect(opened.url).toContain(`${door}/`);
});

it('leads a cancelled recovery, and its pages once ended, back to the door', async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { authenticator: true });
  const browser = new Browser();
  const goal = await submit(browser, await forgotFrom(browser, '/account/sessions'), '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  const form = findForm(goal, '/goal');
  const cancelled = await browser.post(form.action.replace(/\/goal$/, '/cancel'), { csrf: form.fields.csrf! });
  expect(messageIds(cancelled)).toContain('recover.cancelled');
  expect(linkTo(cancelled, 'recover.back')).toBe('/account/sessions');
  expect(linkTo(cancelled, 'recover.start_again')).toBe('/recover?from=%2Faccount%2Fsessions');
  // The ended flow's page, opened again (the Back button): the way back is still known, from the flow cookie.
  const ended = await browser.get(form.action.replace(/\/goal$/, ''));
  expect(ended.status).toBe(410);
  expect(linkTo(ended, 'recover.back')).toBe('/account/sessions');
});

it('takes no other page as the way back', async () => {
  for (const from of ['/account/password', '/admin', 'https://evil.example/', '//evil.example']) {
    const first = await new Browser().get(`${server.origin}/recover?from=${encodeURIComponent(from)}`);
    expect(first.status).toBe(200);
    expect(linkTo(first, 'recover.cancel')).toBe('/');
    expect(first.body).not.toContain('name="from"');
  }
  // Posted in the form, it is a malformed form: refused, and no flow begins.
  const browser = new Browser();
  const first = await browser.get(`${server.origin}/recover`);
  const refused = await browser.post(`${server.origin}/recover`, { ...findForm(first, '/recover').fields, identifier: 'someone', captcha: CAPTCHA_ANSWER, from: 'https://evil.example/' });
  expect(refused.status).toBe(400);
  expect(refused.headers.get('location')).toBeNull();
});
