// Behind the TLS proxy production requires (TRUST_PROXY=true): the client's address is the one the proxy appended
// to X-Forwarded-For, so entries a client writes into the header itself buy it no fresh per-IP budget; and an
// address that has used its send budget spends nobody else's.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { REFUSALS_AUDITED_PER_HOUR } from '../../src/flows/recovery/flow-kit.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, identify, outbox, registerMethods, sendCode, settledCount, submit } from '../helpers/recovery.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, TRUST_PROXY: 'true' });
});
afterAll(() => server.close());

/** A browser whose requests arrive through the proxy with this X-Forwarded-For (the client's part, then the proxy's). */
const through = (forwardedFor: string) => new Browser({ publicOrigin: server.origin, serverOrigin: server.origin, headers: { 'x-forwarded-for': forwardedFor } });

it('counts recovery starts per address the proxy saw, whatever the client wrote before it', async () => {
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1 } });
  const first = await identify(server, through('198.51.100.1, 192.0.2.10'), 'someone@example.org');
  expect(first.status).toBe(200);
  expect(messageIds(first)).not.toContain('recover.too_many');
  // Same client (the proxy saw 192.0.2.10 again), a different address forged in front: refused.
  const forged = await identify(server, through('198.51.100.2, 192.0.2.10'), 'someone@example.org');
  expect(forged.status).toBe(429);
  expect(messageIds(forged)).toContain('recover.too_many');
  // Another client, as the proxy saw it, has its own budget.
  const other = await identify(server, through('198.51.100.1, 192.0.2.11'), 'someone@example.org');
  expect(other.status).toBe(200);
});

it('counts only the starts a CAPTCHA let through: wrong characters and a wait left too early spend none of the budget', async () => {
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1 } });
  const browser = through('198.51.100.3, 192.0.2.12');
  for (const [captcha, error] of [['WRONG1', 'recover.captcha_wrong'], ['WRONG2', 'recover.captcha_wrong'], ['', 'recover.captcha_wait_early']] as const) {
    const refused = await submit(browser, await browser.get(`${server.origin}/recover`), '/recover', { identifier: 'someone@example.org', captcha, action: 'next' });
    expect(messageIds(refused)).toContain(error);
  }
  const started = await identify(server, browser, 'someone@example.org');
  expect(started.status).toBe(200);
  expect(messageIds(started)).toContain('recover.goal_heading');
  expect((await identify(server, browser, 'someone@example.org')).status).toBe(429);
});

it('audits at most a hundred refusals of one kind an hour from one address, answering each: no one can flood the audit log', async () => {
  const audited = (ip: string) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'recovery.failed', ip });
  const refuse = async (browser: Browser) => {
    const form = findForm(await browser.get(`${server.origin}/recover`), '/recover');
    // A wait left at once: no answer, nothing spent, free to repeat.
    const refused = await browser.follow(await browser.post(form.action, { ...form.fields, identifier: 'someone@example.org', captchaId: '', captcha: '', action: 'next' }));
    expect(messageIds(refused)).toContain('recover.captcha_wait_early');
  };
  const flooding = through('198.51.100.4, 192.0.2.40');
  for (let i = 0; i < REFUSALS_AUDITED_PER_HOUR + 3; i += 1) await refuse(flooding);
  expect(await audited('192.0.2.40')).toBe(REFUSALS_AUDITED_PER_HOUR);
  // Another address's are audited still.
  await refuse(through('198.51.100.4, 192.0.2.41'));
  expect(await audited('192.0.2.41')).toBe(1);
});

it('counts recovery starts per /64 for IPv6: another address of the same network is the same client', async () => {
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1 } });
  expect((await identify(server, through('2001:db8:1:2::1'), 'someone@example.org')).status).toBe(200);
  const sameNetwork = await identify(server, through('2001:db8:1:2:abcd::99'), 'someone@example.org');
  expect(sameNetwork.status).toBe(429);
  expect(messageIds(sameNetwork)).toContain('recover.too_many');
  expect((await identify(server, through('2001:db8:1:3::1'), 'someone@example.org')).status).toBe(200);
});

it("refuses sends over a mailbox's limit without spending the account's: the owner's text still goes out", async () => {
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 50, perIpHour: 50, perDestination10Min: 3, perAccountHour: 10 } });
  const user = await createUser(server);
  const mailbox = `alt-${user.username}@example.net`;
  const phone = '+14155550177';
  await registerMethods(server, user, { alternateEmail: mailbox, mobilePhone: phone });
  // Someone presses "Try again" on the mailbox's code ten times: the mailbox's limit refuses all but the first three.
  const someone = through('198.51.100.9, 192.0.2.30');
  let page = await sendCode(someone, await chooseMethod(someone, await chooseGoal(someone, await identify(server, someone, user.username), 'reset'), 'email'));
  for (let i = 0; i < 10; i += 1) page = await someone.follow(await someone.post(findForm(page, '/code').action.replace(/\/code$/, '/resend'), findForm(page, '/code').fields));
  // The owner, elsewhere, asks for a text: the account's own budget is untouched by those refusals.
  const owner = through('203.0.113.9, 192.0.2.31');
  await sendCode(owner, await chooseMethod(owner, await chooseGoal(owner, await identify(server, owner, user.username), 'reset'), 'sms'), { phone });
  const sentTo = (to: string) => async () => (await outbox(server)).filter((m) => m.to === to).length;
  expect(await settledCount(sentTo(mailbox), 3)).toBe(3);
  expect(await settledCount(sentTo(phone), 1)).toBe(1);
});

it("refuses an address over its send budget without spending the account's or the mailbox's", async () => {
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 50, perIpHour: 1, perDestination10Min: 2, perDestinationHour: 5, perAccountHour: 10 } });
  const user = await createUser(server);
  const mailbox = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail: mailbox });
  const mailsTo = async () => (await outbox(server)).filter((m) => m.to === mailbox).length;
  const codeSent = async (browser: Browser) => sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'email'));

  // Someone at one address sends a code, then presses "Try again" over and over: refused after the first.
  const someone = through('198.51.100.7, 192.0.2.20');
  let page = await codeSent(someone);
  for (let i = 0; i < 3; i += 1) page = await someone.follow(await someone.post(findForm(page, '/code').action.replace(/\/code$/, '/resend'), findForm(page, '/code').fields));
  expect(await settledCount(mailsTo, 1)).toBe(1);
  // The owner, elsewhere, still gets the mailbox's second code of these ten minutes.
  await codeSent(through('203.0.113.8, 192.0.2.21'));
  expect(await settledCount(mailsTo, 2)).toBe(2);
});
