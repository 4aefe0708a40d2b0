// An unknown identifier's decoy flow does the same database work as a real account's at each step, so that its
// pages take the same time ("same responses, same timing"): the commands of each step, by name and collection,
// recorded for both, from "Who are you?" to a wrong code, the send included (a decoy's message is stored too,
// as a decoy the sender never sends).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { isBackgroundWork, isTimedRefresh, stepRecorder } from '../helpers/commands.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, outbox, registerMethods, sendCode, settledCount, submit } from '../helpers/recovery.ts';
import { OUTBOX_COLLECTION } from '../../src/delivery/outbox.ts';
import { LIMITS } from '../../src/security/limits.ts';

let server: TestServer;
// The sender's passes over the outbox are background work; a message stored by the request is not. The limits'
// commands are left out: how many each takes depends on how full the budgets shared by every identifier already are
// (this address's, the installation's), the same for any identifier at one moment. So are the policy's: it is read
// again when its few seconds in memory lapse (POLICY_CACHE_SECONDS), whichever identifier's step that falls in.
const { onCommand, commandsOf } = stepRecorder(({ commandName, collection, command }) => {
  const stored = commandName === 'insert' && collection === OUTBOX_COLLECTION;
  return collection !== LIMITS && !isTimedRefresh(collection) && (stored || !isBackgroundWork(commandName, collection, command));
});

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { onCommand });
  await server.latchkey.policy.save({ methodsEnabled: ['email'] });
});
afterAll(() => server.close());

it('costs the same database commands for an unknown identifier as for an account, step by step', async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net` });
  const walk = async (identifier: string) => {
    const browser = new Browser();
    const start = await browser.get(`${server.origin}/recover`);
    const identify = await commandsOf(() => submit(browser, start, '/recover', { identifier, captcha: CAPTCHA_ANSWER, action: 'next' }));
    const goal = await commandsOf(() => chooseGoal(browser, identify.page, 'reset'));
    const method = await commandsOf(() => chooseMethod(browser, goal.page, 'email'));
    const send = await commandsOf(() => sendCode(browser, method.page));
    const wrongCode = await commandsOf(() => enterCode(browser, send.page, '000000'));
    return { identify: identify.commands, goal: goal.commands, method: method.commands, send: send.commands, wrongCode: wrongCode.commands };
  };
  const real = await walk(user.username);
  const decoy = await walk(`nobody-${Date.now()}@example.org`);
  expect(real.send).toContain(`insert ${OUTBOX_COLLECTION}`);
  expect(decoy).toEqual(real);
  // The decoy's message was stored, never sent.
  expect(await settledCount(async () => (await outbox(server)).length, 1)).toBe(1);
  expect((await outbox(server)).map((m) => m.to)).toEqual([`alt-${user.username}@example.net`]);
  expect(await server.connection.db!.collection(OUTBOX_COLLECTION).countDocuments({ status: 'decoy' })).toBe(1);
});
