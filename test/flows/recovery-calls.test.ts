// "Call my mobile phone" and "Call my office phone": the complete number first, then a call whose page shows a number
// that the callee presses on the keypad; the provider posts the keys back, and the page moves on. Walked through
// HTTP with the development voice provider (the outbox), then with the webhook and Twilio providers against local
// stand-ins, whose answers count only when signed.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { MANY_SIGN_IN_FAILURES, startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, identify, outbox, sendCode, submit, textedCode, enterCode, waitFor } from '../helpers/recovery.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { signWebhook } from '../../src/delivery/webhook-signature.ts';
import { signCallAnswer, twilioSignature } from '../../src/delivery/voice.ts';
import { loadConfig } from '../../config/index.ts';
import { policySchema } from '../../src/policy/policy.ts';
import type { User } from '../../src/accounts/user-model.ts';

const MOBILE = '+14155550161';
const OFFICE = '+33142685300';
const GENEROUS = { perDestination10Min: 50, perDestinationHour: 50, perIpHour: 500, perAccountHour: 50, proofAttemptsPerDay: 50, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000, ...MANY_SIGN_IN_FAILURES };
const ALL_METHODS = ['email', 'sms', 'call_mobile', 'call_office', 'totp'];

async function register(server: TestServer, user: User, securityInfo: Record<string, string>) {
  await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { securityInfo } });
}

const startReset = async (server: TestServer, browser: Browser, login: string) => chooseGoal(browser, await identify(server, browser, login), 'reset');

/** The number the call's page shows, to press on the phone. */
const shownNumber = (page: Page) => /data-number="(\d+)"/.exec(page.body)?.[1];

/** Chooses the call method, types the complete number and asks for the call: the page that waits for it. */
async function placeCall(server: TestServer, browser: Browser, login: string, method: string, phone: string): Promise<Page> {
  const chosen = await chooseMethod(browser, await startReset(server, browser, login), method);
  expect(messageIds(chosen)).toContain('recover.call_to');
  return sendCode(browser, chosen, { phone });
}

const callStatus = async (browser: Browser, page: Page) => JSON.parse((await browser.get(`${page.url.replace(/\?.*$/, '')}/call-status`)).body) as { answered: boolean };

describe('with the development voice provider', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
  });
  afterAll(() => server.close());
  beforeEach(() => server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: GENEROUS }));

  /** The call placed to `to` (after `after` calls to it), from the development outbox. */
  const callsTo = async (to: string) => (await outbox(server)).filter((m) => m.channel === 'voice' && m.to === to);
  /** The newest call to `to`, once there are more than `after` (newest first). */
  const callTo = (to: string, after = 0) =>
    waitFor(async () => {
      const calls = await callsTo(to);
      return calls.length > after ? { ...calls[0]!, answerUrl: calls[0]!.answerUrl!, answerDigits: calls[0]!.answerDigits! } : undefined;
    }, `a call to ${to}`);

  const answer = async (answerUrl: string, digits: string) => {
    const response = await fetch(answerUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Digits: digits }) });
    return { status: response.status, body: (await response.json()) as { result: string; say: string } };
  };

  it('answers keys pressed for a flow there is not as an ended call, and writes nothing to the audit log', async () => {
    // The development provider takes any post (no signature to check): a stranger's must not fill the audit log.
    const nobody = 'A'.repeat(22);
    expect(await answer(`${server.origin}/recover/calls/${nobody}/call_mobile/${'B'.repeat(22)}?lang=en`, '12')).toEqual({ status: 200, body: { result: 'ended', say: expect.any(String) } });
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ flowId: nobody })).toBe(0);
  });

  it('says no call was made when the limits refuse the first one, and shows no number to press', async () => {
    const user = await createUser(server);
    // A number of its own: the tests after it wait for the newest call to theirs.
    const phone = '+14155550197';
    await register(server, user, { mobilePhone: phone });
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: { ...GENEROUS, perAccountHour: 1 } });
    const before = (await callsTo(phone)).length;
    const first = new Browser();
    expect(messageIds(await placeCall(server, first, user.username, 'call_mobile', '(415) 555-0197'))).toContain('recover.call_placed');
    await callTo(phone, before);
    const browser = new Browser();
    const refused = await placeCall(server, browser, user.username, 'call_mobile', '(415) 555-0197');
    expect(refused.status).toBe(429);
    expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.call_limited_none', 'recover.call_unsent', 'recover.call_again']));
    expect(messageIds(refused)).not.toContain('recover.call_placed');
    expect(shownNumber(refused)).toBeUndefined();
    // No call to have answered: the page offers only to call again, and asks nothing in the background.
    expect(messageIds(refused)).not.toContain('recover.call_continue');
    expect(refused.body).not.toContain('/call-status');
    // "I answered" posted all the same (a page from before): the page as it is, nothing to have answered.
    const answered = await submit(browser, refused, '/answered');
    expect(messageIds(answered)).toContain('recover.call_unsent');
    expect(messageIds(answered)).not.toContain('recover.call_not_yet');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await callsTo(phone)).toHaveLength(before + 1);
  });

  it('calls no country the policy leaves out: a number typed there is refused as such, with no call, and a registered one is not offered', async () => {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE, officePhone: OFFICE }); // +1 and +33
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, allowedCountryCodes: ['1'], limits: GENEROUS });
    const before = (await outbox(server)).filter((m) => m.channel === 'voice').length;
    const browser = new Browser();
    const methods = await startReset(server, browser, user.username);
    expect(messageIds(methods)).toContain('recover.method_call_mobile');
    expect(messageIds(methods)).not.toContain('recover.method_call_office');
    expect(messageIds(await chooseMethod(browser, methods, 'call_office'))).toContain('recover.method_missing');
    const refused = await sendCode(browser, await chooseMethod(browser, methods, 'call_mobile'), { phone: '+33612345678' });
    expect(messageIds(refused)).toContain('recover.call_country');
    expect(messageIds(refused)).not.toContain('recover.phone_mismatch');
    expect(messageIds(refused)).not.toContain('recover.call_placed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await outbox(server)).filter((m) => m.channel === 'voice')).toHaveLength(before);
  });

  it('resets a password once the callee presses the number the page shows, and only then', async () => {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE });
    const browser = new Browser();
    const waiting = await placeCall(server, browser, user.username, 'call_mobile', '(415) 555-0161');
    expect(messageIds(waiting)).toContain('recover.call_placed');
    const number = shownNumber(waiting)!;
    expect(number).toMatch(/^\d{2}$/);
    const call = await callTo(MOBILE);
    expect(call.answerDigits).toBe(2);
    expect(call.text).toContain('Latchkey');
    expect(call.text).not.toContain(number); // the number is on the screen of whoever asked, never in the call
    expect(new URL(call.answerUrl).origin).toBe(server.origin);

    // Not answered yet: Continue says so, and nothing moves.
    expect(await callStatus(browser, waiting)).toEqual({ answered: false });
    const early = await submit(browser, waiting, '/answered');
    expect(messageIds(early)).toContain('recover.call_not_yet');
    expect(messageIds(early)).not.toContain('recover.password_heading');

    // A wrong number pressed is refused, and the call asks again; the right one confirms.
    const wrong = String((Number(number) + 1) % 100).padStart(2, '0');
    expect(await answer(call.answerUrl, wrong)).toEqual({ status: 200, body: { result: 'wrong', say: expect.any(String) } });
    expect(await answer(call.answerUrl, number)).toEqual({ status: 200, body: { result: 'accepted', say: expect.any(String) } });
    expect(await callStatus(browser, waiting)).toEqual({ answered: true });
    // The same keys again (a replayed answer) confirm nothing more.
    expect((await answer(call.answerUrl, number)).body.result).toBe('ended');

    const next = await submit(browser, early, '/answered');
    expect(messageIds(next)).toContain('recover.password_heading');
    const audit = await server.connection.db!.collection(AUDIT_COLLECTION).find({ accountId: user._id, type: 'code.verified' }).toArray();
    expect(audit.map((event) => event.method)).toEqual(['call_mobile']);
  });

  it('calls the office phone it has for the account, and offers no call to a phone it does not have', async () => {
    const user = await createUser(server);
    await register(server, user, { officePhone: OFFICE });
    const browser = new Browser();
    const goal = await startReset(server, browser, user.username);
    expect(messageIds(goal)).toContain('recover.method_call_office');
    expect(messageIds(goal)).not.toContain('recover.method_call_mobile');
    expect(messageIds(goal)).not.toContain('recover.method_sms');
    // A number typed as dialled in France, where the registered one is.
    const waiting = await sendCode(browser, await chooseMethod(browser, goal, 'call_office'), { phone: '01 42 68 53 00' });
    const call = await callTo(OFFICE);
    // Answered as a developer does, with the development outbox page's form: it leads back to that page.
    const devPage = await new Browser().get(`${server.origin}/dev/outbox`);
    const answerForm = findForm(devPage, new URL(call.answerUrl).pathname);
    const developer = new Browser();
    const wrongKeys = await developer.post(answerForm.action, { ...answerForm.fields, Digits: shownNumber(waiting) === '11' ? '12' : '11' });
    expect([wrongKeys.status, wrongKeys.headers.get('location')]).toEqual([303, '/dev/outbox?answered=wrong']);
    // Back on the outbox, the page says what the call said to those keys.
    const saidWrong = await developer.follow(wrongKeys);
    expect(messageIds(saidWrong)).toContain('dev_outbox.answered');
    expect(saidWrong.body).toContain('That is not the number on the screen.');
    const answered = await developer.post(answerForm.action, { ...answerForm.fields, Digits: shownNumber(waiting)! });
    expect([answered.status, answered.headers.get('location')]).toEqual([303, '/dev/outbox?answered=accepted']);
    expect((await developer.follow(answered)).body).toContain('Thank you. Go back to your screen to continue. Goodbye.');
    // The page alone, or with an answer it does not know, says nothing of a call.
    for (const query of ['', '?answered=constructor', '?answered=accepted&answered=wrong']) {
      expect(messageIds(await developer.get(`${server.origin}/dev/outbox${query}`))).not.toContain('dev_outbox.answered');
    }
    expect(messageIds(await submit(browser, waiting, '/answered'))).toContain('recover.password_heading');
  });

  it('places no call to a number that is not the registered one, and refuses a Continue that was not answered', async () => {
    const user = await createUser(server);
    const mobile = '+14155550163'; // called by no other test
    await register(server, user, { mobilePhone: mobile });
    const browser = new Browser();
    const refused = await placeCall(server, browser, user.username, 'call_mobile', '+14155550199');
    expect(messageIds(refused)).toContain('recover.phone_mismatch');
    expect((await outbox(server)).filter((m) => m.channel === 'voice' && m.to === mobile)).toHaveLength(0);
    // "Call again" replaces the call: the number of the first one no longer confirms.
    const first = await sendCode(browser, refused, { phone: mobile });
    const firstCall = await callTo(mobile);
    // "Call again": a button of the Continue form, posted to /resend.
    const form = findForm(first, '/answered');
    const again = await browser.follow(await browser.post(form.action.replace(/\/answered$/, '/resend'), form.fields));
    expect(messageIds(again)).toContain('recover.call_replaced');
    const secondCall = await callTo(mobile, 1);
    expect(secondCall.answerUrl).not.toBe(firstCall.answerUrl);
    expect((await answer(firstCall.answerUrl, shownNumber(first)!)).body.result).toBe('ended');
    expect(messageIds(await submit(browser, again, '/answered'))).toContain('recover.call_not_yet');
    await answer(secondCall.answerUrl, shownNumber(again)!);
    expect(messageIds(await submit(browser, again, '/answered'))).toContain('recover.password_heading');
  });

  it('counts a text and a call to one phone as one method when the policy asks for two', async () => {
    await server.latchkey.policy.save({ methodsRequired: 2, methodsEnabled: ALL_METHODS, limits: GENEROUS });
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE, alternateEmail: `alt-${user.username}@example.net` });
    const browser = new Browser();
    const sent = await sendCode(browser, await chooseMethod(browser, await startReset(server, browser, user.username), 'sms'), { phone: MOBILE });
    const second = await enterCode(browser, sent, await textedCode(server, MOBILE));
    expect(messageIds(second)).toContain('recover.choose_second');
    expect(messageIds(second)).toContain('recover.method_email');
    expect(messageIds(second)).not.toContain('recover.method_call_mobile');
  });

  it('answers a call for an account whose phone was replaced since with nothing but a refusal', async () => {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE });
    const browser = new Browser();
    const before = (await callsTo(MOBILE)).length; // an earlier test called this number too
    const waiting = await placeCall(server, browser, user.username, 'call_mobile', MOBILE);
    const call = await callTo(MOBILE, before);
    await answer(call.answerUrl, shownNumber(waiting)!);
    await register(server, user, { mobilePhone: '+14155550162' });
    const refused = await submit(browser, waiting, '/answered');
    expect(messageIds(refused)).not.toContain('recover.password_heading');
    // Asked for the complete number again, and the answer is spent: the waiting page's script finds nothing more.
    expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.out_of_date', 'recover.call_to']));
    expect(await callStatus(browser, waiting)).toEqual({ answered: false });
  });

  /** A new account with `mobile`, called from a recovery: its browser, the waiting page, the call, the number and a wrong one. */
  async function aCall(mobile: string) {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: mobile });
    const browser = new Browser();
    const waiting = await placeCall(server, browser, user.username, 'call_mobile', mobile);
    const call = await callTo(mobile);
    const number = shownNumber(waiting)!;
    return { user, browser, waiting, call, number, wrong: String((Number(number) + 1) % 100).padStart(2, '0') };
  }

  it('spends nothing on keys pressed for a call that "Call again" replaced: the new call is still answered', async () => {
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: { ...GENEROUS, proofAttemptsPerDay: 3 } });
    const { browser, waiting, call, number } = await aCall('+14155550170');
    const form = findForm(waiting, '/answered');
    const again = await browser.follow(await browser.post(form.action.replace(/\/answered$/, '/resend'), form.fields));
    expect(messageIds(again)).toContain('recover.call_replaced');
    const second = await callTo('+14155550170', 1);
    // The first call's number, pressed more times than the day's budget has tries: not compared, nothing spent.
    for (let press = 0; press < 3; press += 1) expect((await answer(call.answerUrl, number)).body.result).toBe('ended');
    expect((await answer(second.answerUrl, shownNumber(again)!)).body.result).toBe('accepted');
    expect(messageIds(await submit(browser, again, '/answered'))).toContain('recover.password_heading');
  });

  it('ends a call after two wrong numbers pressed, and says so on Continue', async () => {
    const { browser, waiting, call, number, wrong } = await aCall('+14155550164');
    expect((await answer(call.answerUrl, wrong)).body.result).toBe('wrong');
    expect((await answer(call.answerUrl, wrong)).body.result).toBe('ended');
    // The right number is too late now.
    expect((await answer(call.answerUrl, number)).body.result).toBe('ended');
    const refused = await submit(browser, waiting, '/answered');
    expect(messageIds(refused)).toContain('recover.call_refused');
    expect(messageIds(refused)).not.toContain('recover.password_heading');
    // Its number is dead: not shown, nothing waited for; Call again is what is left to press.
    expect(shownNumber(refused)).toBeUndefined();
    expect(messageIds(refused)).not.toContain('recover.call_continue');
    expect(refused.body).not.toContain('/call-status');
    expect(messageIds(refused)).toContain('recover.call_again');
    // And so it stays: the page loaded again shows no number either, and says why.
    const reloaded = await browser.get(waiting.url);
    expect(shownNumber(reloaded)).toBeUndefined();
    expect(messageIds(reloaded)).toEqual(expect.arrayContaining(['recover.call_refused', 'recover.call_again']));
    expect(messageIds(reloaded)).not.toContain('recover.call_continue');
    expect(reloaded.body).not.toContain('/call-status');
  });

  it("counts the keys pressed against the account's day's budget of proofs", async () => {
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: { ...GENEROUS, proofAttemptsPerDay: 3 } });
    // The number typed takes one try; one wrong number pressed another; the right one the last.
    const { user, browser, waiting, call, number, wrong } = await aCall('+14155550165');
    expect((await answer(call.answerUrl, wrong)).body.result).toBe('wrong');
    expect((await answer(call.answerUrl, number)).body.result).toBe('accepted');
    // The answer waits to be taken: the page loaded again still waits for it, with its number.
    const reloaded = await browser.get(waiting.url);
    expect(shownNumber(reloaded)).toBe(number);
    expect(messageIds(reloaded)).toContain('recover.call_continue');
    // Spent: the next press is not compared, and the page says the recovery is blocked (not "call again").
    const other = new Browser();
    const next = await placeCall(server, other, user.username, 'call_mobile', '+14155550165');
    expect(messageIds(next)).toContain('recover.blocked');
    expect(messageIds(await submit(browser, waiting, '/answered'))).toContain('recover.password_heading');
  });

  it("says the recovery is blocked when the keys pressed find the day's budget spent", async () => {
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: { ...GENEROUS, proofAttemptsPerDay: 2 } });
    const { browser, waiting, call, number, wrong } = await aCall('+14155550166');
    expect((await answer(call.answerUrl, wrong)).body.result).toBe('wrong');
    expect((await answer(call.answerUrl, number)).body.result).toBe('ended');
    expect(await callStatus(browser, waiting)).toEqual({ answered: true }); // the page's script goes on to say so
    const blocked = await submit(browser, waiting, '/answered');
    expect(blocked.status).toBe(429);
    expect(messageIds(blocked)).toContain('recover.blocked');
  });

  it('places no new call once the day\'s budget of proofs is spent: "Call again" says the recovery is blocked', async () => {
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: { ...GENEROUS, proofAttemptsPerDay: 2 } });
    // The number typed took one try, the wrong number pressed the other.
    const { browser, waiting, call, wrong } = await aCall('+14155550169');
    expect((await answer(call.answerUrl, wrong)).body.result).toBe('wrong');
    const form = findForm(waiting, '/answered');
    const again = await browser.post(form.action.replace(/\/answered$/, '/resend'), form.fields);
    expect(again.status).toBe(429);
    expect(messageIds(again)).toContain('recover.blocked');
    expect((await outbox(server)).filter((m) => m.channel === 'voice' && m.to === '+14155550169')).toHaveLength(1);
  });

  it('keeps an answer that arrived just before "Call again", and moves on with it', async () => {
    const { browser, waiting, call, number } = await aCall('+14155550167');
    expect((await answer(call.answerUrl, number)).body.result).toBe('accepted');
    const form = findForm(waiting, '/answered');
    const again = await browser.follow(await browser.post(form.action.replace(/\/answered$/, '/resend'), form.fields));
    expect(messageIds(again)).toContain('recover.call_placed');
    expect(shownNumber(again)).toBe(number);
    expect((await outbox(server)).filter((m) => m.channel === 'voice' && m.to === '+14155550167')).toHaveLength(1);
    expect(messageIds(await submit(browser, again, '/answered'))).toContain('recover.password_heading');
  });

  it("answers a Continue pressed by the page's script and by the person at once without a false refusal", async () => {
    const { browser, waiting, call, number } = await aCall('+14155550168');
    await answer(call.answerUrl, number);
    const form = findForm(waiting, '/answered');
    const both = await Promise.all([browser.post(form.action, form.fields), browser.post(form.action, form.fields)]);
    for (const page of both) expect(messageIds(page)).not.toContain('recover.call_refused');
    expect(messageIds(await browser.get(waiting.url))).toContain('recover.password_heading');
  });

  it('does not offer a call to the office phone when it is the mobile one', async () => {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE, officePhone: MOBILE });
    const goal = await startReset(server, new Browser(), user.username);
    expect(messageIds(goal)).toContain('recover.method_call_mobile');
    expect(messageIds(goal)).not.toContain('recover.method_call_office');
  });
});

/** A stand-in for a provider's API or gateway: records each request's headers and body, answers 201. */
async function startStandIn(): Promise<{ url: string; requests: Array<{ url: string; headers: IncomingMessage['headers']; body: string }>; close(): Promise<void> }> {
  const requests: Array<{ url: string; headers: IncomingMessage['headers']; body: string }> = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      requests.push({ url: request.url ?? '', headers: request.headers, body });
      response.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe.each(['webhook', 'twilio'] as const)('with the %s voice provider', (provider) => {
  const SECRET = 'voice-webhook-secret-for-tests-0123456789';
  const TOKEN = 'twilio-auth-token-for-tests';
  let server: TestServer;
  let standIn: Awaited<ReturnType<typeof startStandIn>>;
  beforeAll(async () => {
    standIn = await startStandIn();
    const env: Record<string, string> =
      provider === 'webhook'
        ? { VOICE_PROVIDER: 'webhook', VOICE_WEBHOOK_URL: `${standIn.url}/call`, VOICE_WEBHOOK_SECRET: SECRET }
        : { VOICE_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: 'AC123', TWILIO_AUTH_TOKEN: TOKEN, TWILIO_VOICE_FROM: '+14155550100', TWILIO_API_BASE: standIn.url };
    server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, ...env });
    await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: GENEROUS });
  });
  afterAll(async () => {
    await server.close();
    await standIn.close();
  });

  /** The call request the provider got: where to answer. */
  function answerUrlOf(request: { body: string }): string {
    if (provider === 'webhook') return (JSON.parse(request.body) as { answerUrl: string }).answerUrl;
    const twiml = new URLSearchParams(request.body).get('Twiml')!;
    return /action="([^"]+)"/.exec(twiml)![1]!.replace(/&amp;/g, '&');
  }

  function signedAnswer(answerUrl: string, digits: string, { sign = true } = {}): RequestInit {
    const form = { Digits: digits, CallSid: 'CA0001' };
    const body = new URLSearchParams(form).toString();
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (sign && provider === 'webhook') Object.assign(headers, signCallAnswer(SECRET, answerUrl, body));
    if (sign && provider === 'twilio') headers['x-twilio-signature'] = twilioSignature(TOKEN, answerUrl, form);
    return { method: 'POST', headers, body };
  }

  it('places the call through the provider and takes only a signed answer', async () => {
    const user = await createUser(server);
    await register(server, user, { mobilePhone: MOBILE });
    const browser = new Browser();
    const waiting = await placeCall(server, browser, user.username, 'call_mobile', MOBILE);
    const request = await waitFor(() => standIn.requests.at(-1), 'the call request');
    if (provider === 'webhook') {
      const timestamp = String(request.headers['x-latchkey-timestamp']);
      expect(request.headers['x-latchkey-signature']).toBe(signWebhook(SECRET, timestamp, request.body));
      expect(JSON.parse(request.body)).toMatchObject({ to: MOBILE, digits: 2, language: 'en' });
    } else {
      expect(request.url).toBe('/2010-04-01/Accounts/AC123/Calls.json');
      const form = new URLSearchParams(request.body);
      expect([form.get('To'), form.get('From')]).toEqual([MOBILE, '+14155550100']);
      expect(form.get('Twiml')).toContain('<Gather input="dtmf" numDigits="2"');
    }
    const answerUrl = answerUrlOf(request);
    const number = shownNumber(waiting)!;

    // Unsigned, or signed for other keys: refused, and the call stays unanswered.
    const unsigned = await fetch(answerUrl, signedAnswer(answerUrl, number, { sign: false }));
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toEqual({ error: 'forbidden', support_code: unsigned.headers.get('x-request-id') });
    const forged = signedAnswer(answerUrl, number);
    (forged.headers as Record<string, string>)[provider === 'webhook' ? 'x-latchkey-signature' : 'x-twilio-signature'] = 'v1=00';
    expect((await fetch(answerUrl, forged)).status).toBe(403);
    // A signed answer of this call, posted to another call's answer URL.
    const elsewhere = answerUrl.replace(/\/[\w-]{22}\?/, `/${'A'.repeat(22)}?`);
    expect(elsewhere).not.toBe(answerUrl);
    expect((await fetch(elsewhere, signedAnswer(answerUrl, number))).status).toBe(403);
    expect(await callStatus(browser, waiting)).toEqual({ answered: false });

    const accepted = await fetch(answerUrl, signedAnswer(answerUrl, number));
    expect(accepted.status).toBe(200);
    if (provider === 'twilio') {
      expect(accepted.headers.get('content-type')).toContain('text/xml');
      expect(await accepted.text()).toMatch(/^<\?xml[^>]*><Response><Say language="en-US">[^<]+<\/Say><\/Response>$/);
    } else {
      expect(((await accepted.json()) as { result: string }).result).toBe('accepted');
    }
    expect(messageIds(await submit(browser, waiting, '/answered'))).toContain('recover.password_heading');
  });
});

describe('configuration', () => {
  const production = {
    NODE_ENV: 'production',
    ISSUER: 'https://id.example.com/oidc',
    MONGODB_URI: 'mongodb://127.0.0.1:27017/latchkey',
    TRUST_PROXY: 'true',
    DATA_ENCRYPTION_KEY: 'a1'.repeat(32),
    SMTP_URL: 'smtp://127.0.0.1:25',
    MAIL_FROM: 'Latchkey <no-reply@example.com>',
    SMS_PROVIDER: 'webhook',
    SMS_WEBHOOK_URL: 'https://sms.example.com/send',
    SMS_WEBHOOK_SECRET: 's'.repeat(40),
  };

  it('places no calls in production unless a voice provider is named, and never through the development outbox', () => {
    expect(loadConfig(production).delivery.voice).toEqual({ provider: 'none' });
    expect(() => loadConfig({ ...production, VOICE_PROVIDER: 'outbox' })).toThrow(/VOICE_PROVIDER must be none, webhook or twilio/);
    expect(() => loadConfig({ ...production, VOICE_PROVIDER: 'webhook', VOICE_WEBHOOK_URL: 'https://voice.example.com/call' })).toThrow(/VOICE_WEBHOOK_SECRET/);
    expect(loadConfig({ NODE_ENV: 'development' }).delivery.voice).toEqual({ provider: 'outbox' });
  });

  it('refuses a policy that requires two methods of which a text and a call to one phone are the only ones', () => {
    expect(policySchema.safeParse({ methodsEnabled: ['sms', 'call_mobile'], methodsRequired: 2 }).success).toBe(false);
    expect(policySchema.safeParse({ methodsEnabled: ['sms', 'call_office'], methodsRequired: 2 }).success).toBe(true);
  });

  it('offers no call method where nothing can place calls, even when the policy enables them', async () => {
    const server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, VOICE_PROVIDER: 'none' });
    try {
      await server.latchkey.policy.save({ methodsRequired: 1, methodsEnabled: ALL_METHODS, limits: GENEROUS });
      const user = await createUser(server);
      await register(server, user, { mobilePhone: MOBILE, officePhone: OFFICE });
      const goal = await startReset(server, new Browser(), user.username);
      expect(messageIds(goal)).toContain('recover.method_sms');
      expect(messageIds(goal).filter((id) => id.startsWith('recover.method_call'))).toEqual([]);
      expect(findForm(goal, '/method')).toBeDefined();
    } finally {
      await server.close();
    }
  });
});
