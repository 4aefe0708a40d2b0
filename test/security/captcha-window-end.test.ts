// A password form refused for its CAPTCHA says "enter it again with the characters in the new picture". When the
// address's challenge ends between that post and the page it leads back to, the page asks for no characters, and
// says so instead of naming a picture that is not there.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER } from '../helpers/recovery.ts';

let server: TestServer;
/** Added to the server's clock. */
let aheadMs = 0;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + aheadMs });
  // One failed sign-in from an address, and its next ones answer a CAPTCHA (for the hour).
  await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 1 } });
});
afterAll(() => server.close());

it.each(['/account/sessions', '/account/password'])('says on %s that no characters are needed once the challenge has ended', async (door) => {
  aheadMs = 0;
  const user = await createUser(server);
  const browser = new Browser();
  const post = async (fields: Record<string, string>) => {
    const page = await browser.get(`${server.origin}${door}`);
    return { page, answer: await browser.post(findForm(page, door).action, { ...findForm(page, door).fields, login: user.username, current: 'not the password', ...fields }) };
  };
  await post({});
  const { page: asking, answer } = await post({ captcha: 'WRONG1' });
  expect(messageIds(asking)).toContain('captcha.answer');
  expect(answer.status).toBe(303);

  // Shown at once, the page names the new picture it shows.
  const right = await browser.get(new URL(answer.headers.get('location')!, server.origin).href);
  expect(messageIds(right)).toEqual(expect.arrayContaining(['login.captcha_wrong', 'captcha.answer']));

  // The same refusal shown after the address's hour has passed: no picture, and no word of one.
  const again = await post({ captcha: 'WRONG2' });
  aheadMs = 61 * 60_000;
  const later = await browser.get(new URL(again.answer.headers.get('location')!, server.origin).href);
  expect(messageIds(later)).toContain('login.captcha_not_asked');
  expect(messageIds(later)).not.toContain('login.captcha_wrong');
  expect(messageIds(later)).not.toContain('captcha.answer');
});

it("says on a relying party's sign-in page that no characters are needed once the challenge has ended", async () => {
  aheadMs = 0;
  const user = await createUser(server);
  const rp = await createClient(server);
  const config = await discover(server, rp);
  const browser = new Browser();
  const open = async () => openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!)).url);
  const post = (page: Page, fields: Record<string, string> = {}) =>
    browser.post(findForm(page, '/login').action, { ...findForm(page, '/login').fields, login: user.username, password: 'not the password', ...fields });
  await backToSignIn(browser, await post(await open()));
  const asking = await open();
  expect(messageIds(asking)).toContain('captcha.answer');
  const refused = await post(asking, { captcha: 'WRONG1' });
  // The challenge ends before the page is shown (here by the administrator's higher threshold, as the hour's end
  // would: the sign-in page lives 30 minutes, and the address's count is kept in staggered windows).
  await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 20 } });
  const later = await backToSignIn(browser, refused);
  expect(messageIds(later)).toContain('login.captcha_not_asked');
  expect(messageIds(later)).not.toContain('login.captcha_wrong');
  expect(messageIds(later)).not.toContain('captcha.answer');
  await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 1 } });
});

it('says nothing of a wait once the challenge has ended: with no CAPTCHA there is no wait', async () => {
  const user = await createUser(server);
  const browser = new Browser();
  const door = '/account/sessions';
  const post = async (fields: Record<string, string>) => {
    const page = await browser.get(`${server.origin}${door}`);
    return browser.post(findForm(page, door).action, { ...findForm(page, door).fields, login: user.username, current: 'not the password', ...fields });
  };
  await post({});
  // The CAPTCHA left empty before its wait is over.
  const early = await post({ captcha: '' });
  const shownAtOnce = await browser.get(new URL(early.headers.get('location')!, server.origin).href);
  expect(messageIds(shownAtOnce)).toContain('login.captcha_wait_early');
  const again = await post({ captcha: '' });
  await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 20 } });
  try {
    const later = await browser.get(new URL(again.headers.get('location')!, server.origin).href);
    expect(messageIds(later).filter((id) => id.startsWith('login.captcha') || id === 'captcha.answer' || id === 'error.support_code')).toEqual([]);
  } finally {
    await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 1 } });
  }
});
