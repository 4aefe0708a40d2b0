// `npm start` seeds the demo user with an alternate email, a mobile number and an authenticator whose seed is
// public, so that a newcomer can walk every recovery path: each one is walked here, on the seeded account itself.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateSync } from 'otplib';
import { Browser, messageIds } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, sendCode, submit, textedCode, waitFor } from '../helpers/recovery.ts';
import { DEMO, seedDemo } from '../../scripts/start.ts';

const RP_ORIGIN = 'http://localhost:3001';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
  await seedDemo(server, RP_ORIGIN, server.config);
});
afterAll(() => server.close());

const startAs = async (goal: 'reset' | 'unlock') => {
  const browser = new Browser();
  return { browser, methods: await chooseGoal(browser, await identify(server, browser, DEMO.username), goal) };
};

describe('the demo user seeded by npm start', () => {
  it('offers all three methods', async () => {
    const { methods } = await startAs('reset');
    expect(messageIds(methods)).toEqual(expect.arrayContaining(['recover.method_email', 'recover.method_sms', 'recover.method_totp']));
  });

  it('unlocks with a code from the public authenticator seed', async () => {
    const { browser, methods } = await startAs('unlock');
    const totpPanel = await chooseMethod(browser, methods, 'totp');
    const unlockPage = await enterCode(browser, totpPanel, generateSync({ secret: DEMO.totpSecret }));
    expect(messageIds(unlockPage)).toContain('recover.unlock_intro');
    expect(messageIds(await submit(browser, unlockPage, '/unlock'))).toContain('recover.done_unlock');
  });

  it('emails the alternate address a code in the development outbox, then asks for the phone or the authenticator', async () => {
    const { browser, methods } = await startAs('reset');
    const emailPanel = await chooseMethod(browser, methods, 'email');
    expect(emailPanel.body).toContain('d*****@e*****.com');
    const sent = await sendCode(browser, emailPanel);
    expect(messageIds(sent)).toContain('recover.code_sent_email');
    // The code's email, not the unlock notice the test before sent to the same address (which may be all there is yet).
    const email = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'email' && m.to === DEMO.alternateEmail && m.subject === 'Your verification code'), 'the demo code email');
    const step2 = await enterCode(browser, sent, /\b(\d{6})\b/.exec(email.text)![1]!);
    expect(messageIds(step2)).toContain('recover.choose_second');
  });

  it('texts the mobile number, and the new password then signs in', async () => {
    const { browser, methods } = await startAs('reset');
    const smsPanel = await chooseMethod(browser, methods, 'sms');
    expect(smsPanel.body).toContain(`*****${DEMO.mobilePhone.slice(-2)}`);
    const sent = await sendCode(browser, smsPanel, { phone: DEMO.mobilePhone });
    const passwordPage = await enterCode(browser, sent, await textedCode(server, DEMO.mobilePhone));
    const newPassword = 'a brand new demo passphrase';
    expect(messageIds(await submit(browser, passwordPage, '/password', { password: newPassword, confirm: newPassword }))).toContain('recover.done_reset');
    expect((await server.latchkey.accounts.signIn(DEMO.username, newPassword)).ok).toBe(true);
  });

  it('seeding again (the next npm start) keeps the account, its new password and its methods', async () => {
    const seed = await seedDemo(server, RP_ORIGIN, server.config);
    expect(seed.clientId).toBe(DEMO.clientId);
    const demo = await server.latchkey.accounts.findByLogin(DEMO.username);
    expect(demo?.securityInfo).toMatchObject({ alternateEmail: DEMO.alternateEmail, mobilePhone: DEMO.mobilePhone, authenticator: expect.anything() });
    expect((await server.latchkey.accounts.signIn(DEMO.username, DEMO.password)).ok).toBe(false);
  });
});
