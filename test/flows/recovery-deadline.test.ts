// A flow's pages know what is left of its 15 minutes (views/partials/recovery-deadline.ejs says it before the end,
// and at it; test/browser/recovery.test.ts shows that in a browser): the seconds the page is served with are the
// flow's, counted from its start, not 15 minutes from each page.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, identify, registerMethods } from '../helpers/recovery.ts';

let server: TestServer;
/** Added to the server's clock. */
let aheadMs = 0;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + aheadMs });
});
afterAll(() => server.close());

/** The seconds of its flow's life a page was served with, or undefined when it watches none. */
const secondsLeft = (page: Page) => {
  const match = /id="flow-ending"[^>]*data-seconds="(\d+)"/.exec(page.body);
  return match ? Number(match[1]) : undefined;
};

it("serves each of a flow's pages with what is left of the flow's 15 minutes", async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { authenticator: true });
  const browser = new Browser();
  const goal = await identify(server, browser, user.username);
  expect(secondsLeft(goal)).toBeGreaterThanOrEqual(895);
  expect(secondsLeft(goal)).toBeLessThanOrEqual(900);

  aheadMs = 6 * 60_000;
  const verify = await chooseGoal(browser, goal, 'reset');
  expect(secondsLeft(verify)).toBeGreaterThanOrEqual(535);
  expect(secondsLeft(verify)).toBeLessThanOrEqual(540);
  // The "Start again" it offers at the end is the first page's; the notice comes two minutes before the end.
  expect(verify.body).toMatch(/id="flow-ended"[^>]*hidden><span><\/span>\s*<a href="\/recover">/);
  expect(verify.body).toMatch(/id="flow-ending" data-text="This recovery ends in less than 2 minutes\.[^"]*" data-seconds="\d+" data-notice-seconds="120"/);
  aheadMs = 0;
});
