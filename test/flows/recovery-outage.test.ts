// The database dies in the middle of a recovery request, between two of its writes (killed as a crash would, the
// moment the request sends a chosen command), and comes back. The 503 page says "Nothing was changed: try again in a
// moment", so coming back, to this instance or another one of the deployment, must carry on where the person was:
// never a step lost for good (every later post refused as out of date), never a "done" for work that was not done.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startCrashingDeployment, type CrashingDeployment } from '../helpers/crashing-db.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, submit, waitFor } from '../helpers/recovery.ts';
import type { TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';

let deployment: CrashingDeployment;
const NEW_PASSWORD = 'a brand new passphrase for recovery';

beforeAll(async () => {
  deployment = await startCrashingDeployment({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
}, 120_000);
afterAll(() => deployment.stop());

async function emailedCode(server: TestServer, to: string): Promise<string> {
  return waitFor(async () => {
    const mail = (await outbox(server)).find((m) => m.channel === 'email' && m.to === to);
    return mail && /\b(\d{6})\b/.exec(mail.text)?.[1];
  }, `an email to ${to}`);
}

/** A user with an alternate mailbox, and a browser on the page where the code emailed to it was sent. */
async function codeSent(): Promise<{ user: User; browser: Browser; page: Awaited<ReturnType<typeof sendCode>>; code: string }> {
  const { a } = deployment;
  const user = await createUser(a);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(a, user, { alternateEmail });
  const browser = new Browser();
  const page = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(a, browser, user.username), 'reset'), 'email'));
  return { user, browser, page, code: await emailedCode(a, alternateEmail) };
}

const flowPath = (url: string) => /\/recover\/[\w-]{16,}/.exec(url)![0];

it('a step whose new state was lost with the database is completed when the flow is next read, on any instance', async () => {
  const { a, b, crashDuring } = deployment;
  const { browser, page, code } = await codeSent();

  // The code is right and used up; the database dies as the flow's next state is written.
  const failed = await crashDuring({ commandName: 'update', collection: 'recovery_flows' }, () => enterCode(browser, page, code));
  expect(failed.status).toBe(503);
  expect(messageIds(failed)).toContain('error.database_unavailable');
  expect(failed.url.startsWith(a.origin)).toBe(true);

  // Reloading the flow's page on the other instance shows the step the code led to, not a code that no longer works.
  const again = await browser.get(`${b.origin}${flowPath(page.url)}`);
  expect(again.status).toBe(200);
  expect(messageIds(again)).toContain('recover.password_heading');
  const done = await submit(browser, again, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(messageIds(done)).toContain('recover.done_reset');
}, 120_000);

it('never says "done" for a new password the database failed to store; the flow ends once that request is surely gone', async () => {
  const { b, crashDuring, setOffset } = deployment;
  const { user, browser, page, code } = await codeSent();
  const passwordPage = await enterCode(browser, page, code);
  expect(messageIds(passwordPage)).toContain('recover.password_heading');

  // The database dies as the new password is written to the account.
  const failed = await crashDuring({ commandName: 'update', collection: 'users' }, () => submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }));
  expect(failed.status).toBe(503);

  const reloaded = await browser.get(`${b.origin}${flowPath(passwordPage.url)}`);
  expect(messageIds(reloaded)).not.toContain('recover.done_reset');
  // Once the failed request cannot still be running, the flow says it ended and offers a fresh start, which works.
  setOffset(60_000);
  try {
    const later = await browser.get(`${b.origin}${flowPath(passwordPage.url)}`);
    expect(later.status).toBe(410);
    expect(messageIds(later)).toContain('recover.expired');
  } finally {
    setOffset(0);
  }
  const alternateEmail = `alt-${user.username}@example.net`;
  const before = (await outbox(b)).filter((m) => m.to === alternateEmail).length;
  const fresh = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(b, browser, user.username), 'reset'), 'email'));
  const second = await waitFor(async () => {
    const mails = (await outbox(b)).filter((m) => m.to === alternateEmail);
    return mails.length > before ? /\b(\d{6})\b/.exec(mails[0]!.text)?.[1] : undefined;
  }, 'a second code');
  const done = await submit(browser, await enterCode(browser, fresh, second), '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(messageIds(done)).toContain('recover.done_reset');
}, 120_000);
