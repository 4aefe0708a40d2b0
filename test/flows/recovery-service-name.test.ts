// NIST SP 800-63B-4 §3.1.1.2 (checklist NIST4-BLOCK): a new password built from context-specific words is refused,
// the service's name among them. The service is called what the operator named it (BRAND_NAME), which is what its
// users see on every page and email, so that name is refused, not only "Latchkey"; and the reason says so.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, submit, waitFor } from '../helpers/recovery.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, BRAND_NAME: 'Acme Portal' });
});
afterAll(() => server.close());

it("refuses a new password built from the service's name, with the reason, and accepts one that is not", async () => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const browser = new Browser();
  const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'email'));
  const code = await waitFor(async () => {
    const mail = (await outbox(server)).find((m) => m.to === alternateEmail);
    return mail && /\b(\d{6})\b/.exec(mail.text)?.[1];
  }, `a code to ${alternateEmail}`);
  const passwordPage = await enterCode(browser, sent, code);

  for (const password of ['AcmePortal2024!!', 'Acme Portal Acme Portal', 'latchkey latchkey!']) {
    const refused = await submit(browser, passwordPage, '/password', { password, confirm: password });
    expect(messageIds(refused)).toContain('password.service');
    expect((await server.latchkey.accounts.signIn(user.username, password)).ok).toBe(false);
  }
  const done = await submit(browser, passwordPage, '/password', { password: 'portable acme of rivers', confirm: 'portable acme of rivers' });
  expect(messageIds(done)).toContain('recover.done_reset');
});
