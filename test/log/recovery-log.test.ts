// Everything the server logs while an account recovers (codes emailed and texted, the phone number typed to get one,
// the new password) and while its owner then adds a mobile number at "Your security info" (the current password,
// the code that proves a registered method, the number typed and the code texted to it), captured at debug level,
// holds none of them (security checklist ASVS-16.2.5; test/log/flow-log.test.ts does the same for a sign-in).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { formNamed, openSecurityInfo, postForm } from '../helpers/account-pages.ts';
import { chooseGoal, chooseMethod, emailedCode, enterCode, identify, outbox, registerMethods, sendCode, startRecoveryServer, submit, textedCode, waitFor } from '../helpers/recovery.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer());
  await server.latchkey.policy.save({ methodsRequired: 2 });
});
afterAll(() => close());

it('logs no code, password or phone number of a recovery, nor of a number added afterwards', async () => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  const mobilePhone = '+14155550183';
  await registerMethods(server, user, { alternateEmail, mobilePhone });
  const logged = server.logs.length;

  // The recovery: a code by email, a code by text to the number typed in full, a new password.
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const emailPanel = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  const emailed = await emailedCode(sink, alternateEmail);
  const step2 = await enterCode(browser, emailPanel, emailed);
  const sent = await sendCode(browser, await chooseMethod(browser, step2, 'sms'), { phone: '+1 (415) 555-0183' });
  const smsCode = await textedCode(server, mobilePhone);
  const password = 'a new passphrase the logs never hold 71';
  const done = await submit(browser, await enterCode(browser, sent, smsCode), '/password', { password, confirm: password });
  expect(messageIds(done)).toContain('recover.done_reset');

  // Then the owner's own page: the password, a registered method proved, a new number typed and proved.
  const { answer } = await openSecurityInfo(server, user, password, browser);
  const page = await browser.follow(answer);
  const asked = await postForm(browser, formNamed(page, 'prove'), { kind: 'mobilePhone' });
  // The code texted since the recovery's (the reset's notice, which holds none, may come in between).
  const textedCodes = async () => (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === mobilePhone).map((m) => /#(\d{6})$/.exec(m.text)?.[1]);
  const proofCode = await waitFor(async () => (await textedCodes()).find((code) => code !== undefined && code !== smsCode), 'the proof code');
  const proved = await postForm(browser, formNamed(asked, 'verify'), { code: proofCode });
  const typing = await postForm(browser, formNamed(proved, 'add', 'mobilePhone'));
  const added = '+14155550184';
  const addedSent = await postForm(browser, formNamed(typing, 'add', 'mobilePhone'), { value: added });
  const addedCode = await textedCode(server, added);
  expect(messageIds(await postForm(browser, formNamed(addedSent, 'verify'), { code: addedCode }))).toContain('security_info.said_saved');

  const lines = server.logs.slice(logged);
  expect(lines.length).toBeGreaterThan(20);
  const secrets = { emailed, smsCode, proofCode, addedCode, password, mobilePhone, added, nationalNumber: '4155550183', typedNumber: '555-0183', addedNational: '4155550184' };
  for (const [name, secret] of Object.entries(secrets)) {
    // A code as a whole number (a timestamp may hold its digits); anything else anywhere.
    const pattern = /^\d+$/.test(secret) ? new RegExp(`(?<!\\d)${secret}(?!\\d)`) : new RegExp(secret.replace(/[+]/g, '\\+'));
    expect({ name, lines: lines.filter((line) => pattern.test(line)) }).toEqual({ name, lines: [] });
  }
});
