// A password form refused for its CAPTCHA says "enter it again with the characters in the new picture". When the
// address's challenge ends between that post and the page it leads back to, the page asks for no characters, and
// says so instead of naming a picture that is not there.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
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
