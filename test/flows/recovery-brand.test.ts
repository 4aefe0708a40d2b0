// Recovery under the operator's brand.
// NIST SP 800-63B-4 §3.1.1.2 (checklist NIST4-BLOCK): a new password built from context-specific words is refused,
// the service's name among them. The service is called what the operator named it (BRAND_NAME), which is what its
// users see on every page and email, so that name is refused, not only "Latchkey"; and the reason says so.
// SPEC step 3 offers "Contact your administrator": without a helpdesk in the policy it leads to BRAND_HELP_URL, as the
// security notices do.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, submit, waitFor } from '../helpers/recovery.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, BRAND_NAME: 'Acme Portal', BRAND_HELP_URL: 'https://help.acme.example/id' });
});
afterAll(() => server.close());

it('offers "Contact your administrator" with the brand\'s help page when the policy names no helpdesk, and the policy\'s helpdesk when it does', async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net` });
  const codePage = async () => {
    const browser = new Browser();
    return sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'email'));
  };
  const branded = await codePage();
  expect(messageIds(branded)).toContain('recover.contact_admin');
  expect(branded.body).toMatch(/<a href="https:\/\/help\.acme\.example\/id" data-message-id="recover\.contact_admin">/);
  expect(messageIds(branded)).not.toContain('recover.support_none');

  await server.latchkey.policy.save({ helpdesk: { email: 'helpdesk@acme.example' } });
  try {
    const helpdesk = await codePage();
    expect(helpdesk.body).toMatch(/<a href="mailto:helpdesk@acme\.example\?subject=[^"]+" data-message-id="recover\.contact_admin">/);
  } finally {
    await server.latchkey.policy.save({});
  }
});

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
  // The notice of the reset names whom to contact (NIST SP 800-63B-4: contact details with a recovery's notice).
  const notice = await waitFor(async () => (await outbox(server)).find((m) => m.to === user.email && m.text.includes('was reset')), 'the reset notice');
  expect(notice.text).toContain('Contact your administrator: https://help.acme.example/id');
});
