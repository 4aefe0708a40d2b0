// An unknown identifier's decoy flow does the same database work as a real account's at each step, so that its
// pages take the same time ("same responses, same timing"): the commands of each step, by name and collection,
// recorded for both.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { isBackgroundWork } from '../helpers/commands.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, registerMethods, sendCode } from '../helpers/recovery.ts';

let server: TestServer;
let recorded: string[] | undefined;

beforeAll(async () => {
  server = await startTestServer(
    { CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER },
    {
      onCommand({ commandName, collection, command }) {
        if (recorded && !isBackgroundWork(commandName, collection, command)) recorded.push(`${commandName} ${collection}`);
      },
    },
  );
  await server.latchkey.policy.save({ methodsEnabled: ['email'] });
});
afterAll(() => server.close());

/** The step's commands, sorted (commands that run side by side may arrive in either order). */
async function commandsOf(step: () => Promise<Page>): Promise<string[]> {
  recorded = [];
  try {
    await step();
    return recorded.sort();
  } finally {
    recorded = undefined;
  }
}

it('costs the same database commands for an unknown identifier as for an account, step by step', async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net` });
  const walk = async (identifier: string) => {
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(server, browser, identifier), 'reset');
    let page = methods;
    const chooseStep = await commandsOf(async () => (page = await chooseMethod(browser, methods, 'email')));
    const sent = await sendCode(browser, page);
    const pageStep = await commandsOf(() => browser.get(sent.url));
    const wrongCode = await commandsOf(() => enterCode(browser, sent, '000000'));
    return { chooseStep, pageStep, wrongCode };
  };
  const real = await walk(user.username);
  const decoy = await walk(`nobody-${Date.now()}@example.org`);
  expect(real.chooseStep.length).toBeGreaterThan(0);
  expect(decoy).toEqual(real);
});
