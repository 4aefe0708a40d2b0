// The recovery flow cannot be skipped or replayed: posting a later step early, replaying a step, a foreign CSRF
// token and a flow cookie from another browser are all refused, with a page that says so, and change nothing.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, submit, textedCode, waitFor } from '../helpers/recovery.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { FLOWS, type FlowDoc } from '../../src/flows/recovery/store.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let user: User;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
  user = await createUser(server);
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net`, mobilePhone: '+14155550199' });
});
afterAll(() => server.close());

const flowOf = async (url: string) => server.connection.db!.collection<FlowDoc>(FLOWS).findOne({ _id: /\/recover\/([\w-]+)/.exec(url)![1]! });
const flowUrlOf = (body: string) => /action="(\/recover\/[\w-]{16,})\//.exec(body)![1]!;

it('refuses a later step posted early, with the current step shown and nothing changed', async () => {
  const browser = new Browser();
  const goal = await identify(server, browser, user.username);
  const flowUrl = flowUrlOf(goal.body);
  const csrf = findForm(goal, '/goal').fields.csrf!;
  for (const step of ['password', 'unlock', 'code', 'send', 'method']) {
    const early = await browser.post(`${server.origin}${flowUrl}/${step}`, { csrf, password: 'x'.repeat(20), confirm: 'x'.repeat(20), code: '123456', method: 'email' });
    expect(early.status).toBe(409);
    expect(messageIds(early)).toEqual(expect.arrayContaining(['recover.out_of_date', 'recover.goal_heading']));
  }
  expect(await flowOf(flowUrl)).toMatchObject({ state: 'goal', seq: 0 });
});

it('refuses a replayed step and a second tab posting the same step', async () => {
  const browser = new Browser();
  const goal = await identify(server, browser, user.username);
  const form = findForm(goal, '/goal');
  const [first, second] = await Promise.all([
    browser.post(form.action, { ...form.fields, goal: 'reset' }),
    browser.post(form.action, { ...form.fields, goal: 'unlock' }),
  ]);
  expect([first.status, second.status].sort()).toEqual([303, 409]);
  const flow = await flowOf(form.action);
  expect(flow).toMatchObject({ state: 'verify', seq: 1 });
  const replay = await browser.post(form.action, { ...form.fields, goal: flow!.goal === 'reset' ? 'unlock' : 'reset' });
  expect(replay.status).toBe(409);
  expect(await flowOf(form.action)).toMatchObject({ state: 'verify', seq: 1, goal: flow!.goal });
});

it('refuses a foreign CSRF token with 403 and changes nothing', async () => {
  const mine = new Browser();
  const theirs = new Browser();
  const goal = await identify(server, mine, user.username);
  const other = await identify(server, theirs, user.username);
  const form = findForm(goal, '/goal');
  const forged = await mine.post(form.action, { ...form.fields, csrf: findForm(other, '/goal').fields.csrf!, goal: 'reset' });
  expect(forged.status).toBe(403);
  expect(messageIds(forged)).toContain('error.csrf');
  expect(await flowOf(form.action)).toMatchObject({ state: 'goal', seq: 0 });
  const missing = await mine.post(form.action, { goal: 'reset' });
  expect(missing.status).toBe(403);
});

it('refuses a flow from another browser, and an old tab once a new flow started', async () => {
  const owner = new Browser();
  const goal = await identify(server, owner, user.username);
  const flowUrl = flowUrlOf(goal.body);
  const stranger = new Browser();
  await stranger.get(`${server.origin}/recover`); // has its own CSRF cookie, but not the flow's
  const seen = await stranger.get(`${server.origin}${flowUrl}`);
  expect(seen.status).toBe(410);
  expect(messageIds(seen)).toContain('recover.expired');
  // The owner starts again in a second tab: the first flow no longer answers this browser.
  await identify(server, owner, user.username);
  const oldTab = await owner.post(`${server.origin}${flowUrl}/goal`, { ...findForm(goal, '/goal').fields, goal: 'reset' });
  expect(oldTab.status).toBe(410);
  expect(await flowOf(flowUrl)).toMatchObject({ state: 'goal', seq: 0 });
});

it("refuses a flow to a browser whose cookie names it with another flow's secret, even one signed with the cookie keys", async () => {
  const owner = new Browser();
  const flowUrl = flowUrlOf((await identify(server, owner, user.username)).body);
  const stranger = new Browser();
  await identify(server, stranger, user.username); // a flow of its own: a cookie holding its id and its secret
  const own = (await stranger.jar.getCookies(server.origin)).find((cookie) => cookie.key === 'latchkey.recovery')!;
  // The cookie keys alone (say, read from a backup) do not open someone else's flow: its secret is not in the URL.
  const forge = async (browser: Browser, secretFrom: string) => {
    const value = [flowUrl.split('/')[2]!, ...secretFrom.split('.').slice(1)].join('.');
    const signature = createHmac('sha1', (server.latchkey.app.keys as string[])[0]!).update(`latchkey.recovery=${value}`).digest('base64url');
    await browser.jar.setCookie(`latchkey.recovery=${value}; Path=/`, server.origin);
    await browser.jar.setCookie(`latchkey.recovery.sig=${signature}; Path=/`, server.origin);
    return browser.get(`${server.origin}${flowUrl}`);
  };
  const seen = await forge(stranger, own.value);
  expect(seen.status).toBe(410);
  expect(messageIds(seen)).toContain('recover.expired');
  // Forged alike with the flow's own secret, the cookie opens it: the signature is the server's own.
  const owners = (await owner.jar.getCookies(server.origin)).find((cookie) => cookie.key === 'latchkey.recovery')!;
  expect((await forge(new Browser(), owners.value)).status).toBe(200);
});

it('keeps the identifier and gives a fresh CAPTCHA after a wrong answer; a CAPTCHA answers once', async () => {
  const browser = new Browser();
  const start = await browser.get(`${server.origin}/recover`);
  const form = findForm(start, '/recover');
  const wrong = await browser.post(form.action, { ...form.fields, identifier: user.username, captcha: 'nope', action: 'next' });
  expect(wrong.status).toBe(200);
  expect(messageIds(wrong)).toContain('recover.captcha_wrong');
  expect(findForm(wrong, '/recover').fields.identifier).toBe(user.username);
  expect(findForm(wrong, '/recover').fields.captchaId).not.toBe(form.fields.captchaId);
  // The first CAPTCHA was used by the wrong answer: its right answer no longer works, and the page says it was used.
  const reused = await browser.post(form.action, { ...form.fields, identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  expect(messageIds(reused)).toContain('recover.captcha_stale');
  expect(messageIds(reused)).not.toContain('recover.goal_heading');
});

it('cancels: the flow ends and its steps are refused', async () => {
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const panel = await chooseMethod(browser, methods, 'email');
  const sent = await sendCode(browser, panel);
  const flowUrl = flowUrlOf(sent.body);
  // "Cancel" is a second button of the step's form (formaction): post what it posts.
  const cancelled = await browser.post(`${server.origin}${flowUrl}/cancel`, { csrf: findForm(sent, '/code').fields.csrf! });
  expect(messageIds(cancelled)).toContain('recover.cancelled');
  expect(await flowOf(flowUrl)).toBeNull();
  expect((await browser.get(`${server.origin}${flowUrl}`)).status).toBe(410);
});

it("refuses a Cancel left on a page from before the flow finished: the done page, out of date, and nothing recorded", async () => {
  const browser = new Browser();
  const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'unlock'), 'sms'), { phone: '+14155550199' });
  const unlockPage = await enterCode(browser, sent, await textedCode(server, '+14155550199'));
  const flowUrl = flowUrlOf(unlockPage.body);
  expect(messageIds(await submit(browser, unlockPage, '/unlock'))).toContain('recover.done_unlock');
  // The unlock page's Cancel, pressed after Back.
  const late = await browser.post(`${server.origin}${flowUrl}/cancel`, { csrf: findForm(unlockPage, '/unlock').fields.csrf! });
  expect(late.status).toBe(409);
  expect(messageIds(late)).toEqual(expect.arrayContaining(['recover.out_of_date', 'recover.done_unlock']));
  expect(messageIds(late)).not.toContain('recover.cancelled');
  expect(await flowOf(flowUrl)).toMatchObject({ state: 'done' });
  const flowId = /\/recover\/([\w-]+)/.exec(flowUrl)![1]!;
  expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ flowId, type: 'recovery.cancelled' })).toBe(0);
});

it('shows one support code on every page of a flow that has one, the one its audit events and request lines carry', async () => {
  const shownCode = (page: Page) => /[Ss]upport code:? ([A-Z0-9]{8})\b/.exec(page.body)?.[1];
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  const wrong = await enterCode(browser, sent, '000000');
  expect(messageIds(wrong)).toContain('recover.code_wrong');
  const code = shownCode(wrong);
  expect(code).toBeDefined();
  // An error page in the flow (a form without its CSRF token) shows the flow's code too, not its request's.
  const refused = await browser.post(findForm(wrong, '/code').action, { code: '123456' });
  expect(refused.status).toBe(403);
  expect(shownCode(refused)).toBe(code);
  const cancelled = await browser.post(`${server.origin}${flowUrlOf(wrong.body)}/cancel`, { csrf: findForm(wrong, '/code').fields.csrf! });
  expect(messageIds(cancelled)).toContain('recover.cancelled');
  expect([shownCode(sent), shownCode(cancelled)]).toEqual([code, code]);
  // What the helpdesk looks up with `audit list --support-code`: the whole flow, from its start to its cancel.
  const events = await server.connection.db!.collection(AUDIT_COLLECTION).find({ supportCode: code }).toArray();
  expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['recovery.started', 'code.sent', 'code.failed', 'recovery.cancelled']));
  expect(new Set(events.map((e) => e.flowId)).size).toBe(1);
  // Every request of the flow logs it, the steps that answer with a redirect included.
  const lines = server.logs.filter((line) => line.includes(`"supportCode":"${code}"`)).map((line) => JSON.parse(line) as { method: string; status: number });
  expect(lines.filter((line) => line.method === 'POST' && line.status === 303).length).toBeGreaterThanOrEqual(3);
  // Another flow has another code.
  const other = new Browser();
  const otherSent = await sendCode(other, await chooseMethod(other, await chooseGoal(other, await identify(server, other, user.username), 'reset'), 'email'));
  expect(shownCode(otherSent)).toMatch(/^[A-Z0-9]{8}$/);
  expect(shownCode(otherSent)).not.toBe(code);
});

it('an expired flow still offers the way back to the sign-in it came from', async () => {
  const browser = new Browser();
  const uid = 'an-interaction-uid';
  const goal = await identify(server, browser, user.username, `?from=${uid}`);
  const flowUrl = flowUrlOf(goal.body);
  // Gone, as the expiry sweep removes a flow after its 15 minutes.
  await server.connection.db!.collection<FlowDoc>(FLOWS).deleteOne({ _id: /\/recover\/([\w-]+)/.exec(flowUrl)![1]! });
  const page = await browser.get(`${server.origin}${flowUrl}`);
  expect(page.status).toBe(410);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['recover.expired', 'recover.back', 'recover.start_again']));
  expect(page.body).toContain(`href="/interaction/${uid}"`);
  expect(page.body).toContain(`href="/recover?from=${uid}"`);
});

it('the first page shown again after a wrong CAPTCHA keeps the sign-in it came from in its language links', async () => {
  const browser = new Browser();
  const uid = 'an-interaction-uid';
  const start = await browser.get(`${server.origin}/recover?from=${uid}`);
  const wrong = await submit(browser, start, '/recover', { identifier: user.username, captcha: 'not the answer', action: 'next' });
  expect(messageIds(wrong)).toContain('recover.captcha_wrong');
  expect(wrong.body).toContain(`href="/recover?from=${uid}&amp;lang=fr"`);
  const french = await browser.get(`${server.origin}/recover?from=${uid}&lang=fr`);
  expect(french.body).toContain('<html lang="fr">');
  expect(french.body).toContain(`href="/interaction/${uid}"`); // Cancel still leads back to that sign-in
});

/** A new account with an alternate email, this mobile phone and perhaps an authenticator; a browser at its methods. */
async function atMethods(mobilePhone: string, authenticator = false) {
  const someone = await createUser(server);
  const email = `alt-${someone.username}@example.net`;
  await registerMethods(server, someone, { alternateEmail: email, mobilePhone, authenticator });
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, someone.username), 'reset');
  return { someone, email, browser, methods };
}

/** "Try again" on a code page (a button of the code form, posted to /resend). */
function tryAgain(browser: Browser, page: Page) {
  const form = findForm(page, '/code');
  return browser.post(form.action.replace(/\/code$/, '/resend'), form.fields);
}

it('answers a method removed from the account since it was chosen with the methods left, and changes nothing', async () => {
  const { someone, browser, methods } = await atMethods('+14155550198', true);
  const atTotp = await chooseMethod(browser, methods, 'totp');
  const atEmail = await sendCode(browser, await chooseMethod(browser, atTotp, 'email'));
  // The account's owner (or an admin) removes the alternate email meanwhile.
  await registerMethods(server, someone, { mobilePhone: '+14155550198', authenticator: true });
  for (const answer of [await enterCode(browser, atEmail, '123456'), await tryAgain(browser, atEmail)]) {
    expect(answer.status).toBe(409);
    expect(messageIds(answer)).toContain('recover.out_of_date');
    expect(messageIds(answer)).not.toContain('recover.method_email');
    expect(messageIds(answer)).toEqual(expect.arrayContaining(['recover.method_sms', 'recover.method_totp']));
  }
  expect(await flowOf(atEmail.url)).toMatchObject({ state: 'verify', verified: [] });
});

it('answers an authenticator code after the authenticator was removed with the methods left', async () => {
  const { someone, browser, methods } = await atMethods('+14155550197', true);
  const atTotp = await chooseMethod(browser, methods, 'totp');
  await registerMethods(server, someone, { alternateEmail: `alt-${someone.username}@example.net`, mobilePhone: '+14155550197' });
  const answer = await enterCode(browser, atTotp, '123456');
  expect(answer.status).toBe(409);
  expect(messageIds(answer)).toContain('recover.out_of_date');
  expect(messageIds(answer)).not.toContain('recover.method_totp');
});

describe('two parts of the verification page', () => {
  const emailedCode = async (to: string) =>
    waitFor(async () => /\b(\d{6})\b/.exec((await outbox(server)).find((m) => m.to === to)?.text ?? '')?.[1], `a code emailed to ${to}`);

  it("keeps the code sent when the chosen method's Next is pressed again on the code's page", async () => {
    const { email, browser, methods } = await atMethods('+14155550196');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
    const again = await chooseMethod(browser, sent, 'email');
    expect(messageIds(again)).toContain('recover.code_sent_email');
    const accepted = await enterCode(browser, again, await emailedCode(email));
    expect(messageIds(accepted)).not.toContain('recover.code_wrong');
    expect(messageIds(accepted)).toContain('recover.choose_second'); // a phone is registered: a second proof
  });

  it('answers "Try again" on a page left open for another method as out of date, sending nothing', async () => {
    const { email, browser, methods } = await atMethods('+14155550194');
    const emailPage = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
    await emailedCode(email);
    await sendCode(browser, await chooseMethod(browser, emailPage, 'sms'), { phone: '+14155550194' }); // another tab
    const answer = await tryAgain(browser, emailPage);
    expect(answer.status).toBe(409);
    expect(messageIds(answer)).toContain('recover.out_of_date');
    expect((await outbox(server)).filter((m) => m.to === email)).toHaveLength(1);
  });

  it('sends one code for a double-clicked Send and for a double-clicked "Try again", the one the flow accepts', async () => {
    const { email, browser, methods } = await atMethods('+14155550193');
    const emailPage = await chooseMethod(browser, methods, 'email');
    const form = findForm(emailPage, '/send');
    // Both clicks at the same moment: both answers lead to the page as it now is (the browser shows the second). A
    // click the server reads only after the first moved the flow on is out of date (409; the next test).
    const twice = async (send: () => Promise<Page>) => {
      const answers = await Promise.all([send(), send()]);
      expect(answers.map((answer) => answer.status)).toContain(303);
      expect(answers.every((answer) => [303, 409].includes(answer.status))).toBe(true);
      const shown = await browser.follow(answers[1]!);
      expect(messageIds(shown)).toContain('recover.code_sent_email');
      return shown;
    };
    const codePage = await twice(() => browser.post(form.action, form.fields));
    const again = await twice(() => tryAgain(browser, codePage));
    await waitFor(async () => ((await outbox(server)).filter((m) => m.to === email).length >= 2 ? true : undefined), 'the codes');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a third message to show up, if there were one
    const sent = (await outbox(server)).filter((m) => m.to === email);
    expect(sent).toHaveLength(2); // one per step, not one per click
    // The code that went out last is the one the flow waits for: typing it costs no try and proves the mailbox.
    const latest = [...sent].sort((a, b) => a.createdAt.localeCompare(b.createdAt)).at(-1)!;
    const accepted = await enterCode(browser, again, /\b(\d{6})\b/.exec(latest.text)![1]!);
    expect(messageIds(accepted)).not.toContain('recover.code_wrong');
    expect(messageIds(accepted)).toContain('recover.choose_second');
  });

  it('sends nothing for a second click that arrives after the first has sent the code', async () => {
    const { email, browser, methods } = await atMethods('+14155550192');
    const form = findForm(await chooseMethod(browser, methods, 'email'), '/send');
    expect((await browser.post(form.action, form.fields)).status).toBe(303);
    const late = await browser.post(form.action, form.fields); // the same page's form, posted again
    expect(late.status).toBe(409);
    expect(messageIds(late)).toEqual(expect.arrayContaining(['recover.out_of_date', 'recover.code_sent_email']));
    await waitFor(async () => ((await outbox(server)).some((m) => m.to === email) ? true : undefined), 'the code');
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a second message to show up, if there were one
    expect((await outbox(server)).filter((m) => m.to === email)).toHaveLength(1);
  });

  it('refuses a code typed on a page left open for another method, spending no try', async () => {
    const { someone, browser, methods } = await atMethods('+14155550195', true);
    const totpPage = await chooseMethod(browser, methods, 'totp');
    await sendCode(browser, await chooseMethod(browser, totpPage, 'email')); // then, in another tab, the email
    const stale = await enterCode(browser, totpPage, '123456');
    expect(stale.status).toBe(409);
    expect(messageIds(stale)).toContain('recover.out_of_date');
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId: someone._id, type: 'code.failed' })).toBe(0);
  });
});

it('answers a step sent again with the Back button as out of date, with the support code, and changes nothing', async () => {
  const shownCode = (page: Page) => /[Ss]upport code:? ([A-Z0-9]{8})\b/.exec(page.body)?.[1];
  const someone = await createUser(server);
  const email = `alt-${someone.username}@example.net`;
  await registerMethods(server, someone, { alternateEmail: email }); // one proof finishes
  const browser = new Browser();
  const goal = await identify(server, browser, someone.username);
  const methods = await chooseGoal(browser, goal, 'reset');

  // The goal page's form, sent again once the flow is at the verification step.
  const goalForm = findForm(goal, '/goal');
  const atVerify = await flowOf(goalForm.action);
  const replayedGoal = await browser.post(goalForm.action, { ...goalForm.fields, goal: 'unlock' });
  expect(replayedGoal.status).toBe(409);
  expect(messageIds(replayedGoal)).toEqual(expect.arrayContaining(['recover.out_of_date', 'error.support_code']));
  expect(await flowOf(goalForm.action)).toEqual(atVerify);

  // The new-password form, sent again once the password is reset.
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  const code = shownCode(sent); // the flow's, as on its other pages
  expect(code).toMatch(/^[A-Z0-9]{8}$/);
  expect(shownCode(replayedGoal)).toBe(code);
  const emailed = await waitFor(async () => /\b(\d{6})\b/.exec((await outbox(server)).find((m) => m.to === email)?.text ?? '')?.[1], `a code emailed to ${email}`);
  const passwordPage = await enterCode(browser, sent, emailed);
  const chosen = 'the first new passphrase chosen here';
  const done = await submit(browser, passwordPage, '/password', { password: chosen, confirm: chosen });
  expect(messageIds(done)).toContain('recover.done_reset');
  const finished = await flowOf(goalForm.action);
  // Another password: it says that one was not saved (nobody then signs in with it).
  const replayedPassword = await submit(browser, passwordPage, '/password', { password: 'another passphrase sent again later', confirm: 'another passphrase sent again later' });
  expect(replayedPassword.status).toBe(409);
  expect(messageIds(replayedPassword)).toEqual(expect.arrayContaining(['recover.password_not_saved', 'recover.done_reset', 'error.support_code']));
  expect(messageIds(replayedPassword)).not.toContain('recover.out_of_date');
  expect(shownCode(replayedPassword)).toBe(code);
  // The password saved, sent again (a click that came late): simply done.
  const late = await submit(browser, passwordPage, '/password', { password: chosen, confirm: chosen });
  expect(late.status).toBe(200);
  expect(messageIds(late)).toContain('recover.done_reset');
  expect(messageIds(late)).not.toContain('recover.password_not_saved');
  expect(await flowOf(goalForm.action)).toEqual(finished);
  expect((await server.latchkey.accounts.signIn(someone.username, chosen)).ok).toBe(true);
  expect((await server.latchkey.accounts.signIn(someone.username, 'another passphrase sent again later')).ok).toBe(false);
  // The password changed since (an administrator's, here; the owner's own reset alike): a late Finish is never
  // compared with it, so a done flow is no way to test guesses at it.
  const since = 'violet harbour lantern sixteen';
  await server.latchkey.accounts.resetPassword(someone._id, since);
  const guess = await submit(browser, passwordPage, '/password', { password: since, confirm: since });
  expect(guess.status).toBe(409);
  expect(messageIds(guess)).toContain('recover.password_not_saved');
});

it('compares a few late Finish posts of a done flow with the saved password, then no more (each is an argon2 run)', async () => {
  const someone = await createUser(server);
  const email = `alt-${someone.username}@example.net`;
  await registerMethods(server, someone, { alternateEmail: email });
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, someone.username), 'reset');
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  const emailed = await waitFor(async () => /\b(\d{6})\b/.exec((await outbox(server)).find((m) => m.to === email)?.text ?? '')?.[1], `a code emailed to ${email}`);
  const passwordPage = await enterCode(browser, sent, emailed);
  const chosen = 'a passphrase finished once and posted again';
  expect(messageIds(await submit(browser, passwordPage, '/password', { password: chosen, confirm: chosen }))).toContain('recover.done_reset');

  // Posted again and again at once, the saved password itself: only the flow's budget of comparisons says "done".
  const late = await Promise.all(Array.from({ length: 12 }, () => submit(browser, passwordPage, '/password', { password: chosen, confirm: chosen })));
  const compared = late.filter((page) => page.status === 200);
  expect(compared.length).toBeGreaterThanOrEqual(1);
  expect(compared.length).toBeLessThanOrEqual(5);
  for (const page of late.filter((answer) => answer.status !== 200)) {
    expect(page.status).toBe(409);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['recover.password_not_checked', 'recover.done_reset', 'error.support_code']));
    expect(messageIds(page)).not.toContain('recover.password_not_saved');
  }
  // Past the budget the saved password is not compared either: the page says nothing typed there is checked.
  const after = await submit(browser, passwordPage, '/password', { password: chosen, confirm: chosen });
  expect(after.status).toBe(409);
  expect(messageIds(after)).toContain('recover.password_not_checked');
  expect((await server.latchkey.accounts.signIn(someone.username, chosen)).ok).toBe(true);
});

describe('a double click (two posts of one form at once: the browser shows the answer to the second)', () => {
  /** Both answers: each sends the browser to the flow's page, the step the first one took leads to. */
  async function bothLeadOn(browser: Browser, answers: Page[], flowUrl: string) {
    for (const answer of answers) {
      expect(answer.status).toBe(303);
      expect(answer.headers.get('location')).toBe(flowUrl);
    }
    return browser.follow(answers[1]!);
  }
  const codeFailures = async (accountId: string) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId, type: 'code.failed' });

  it('on Next with an emailed code takes the code once, and both answers lead to the next step', async () => {
    const someone = await createUser(server);
    const email = `twice-${someone.username}@example.net`;
    await registerMethods(server, someone, { alternateEmail: email });
    const browser = new Browser();
    const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, someone.username), 'reset'), 'email'));
    const emailed = await waitFor(async () => /\b(\d{6})\b/.exec((await outbox(server)).find((m) => m.to === email)?.text ?? '')?.[1], `a code emailed to ${email}`);
    const form = findForm(sent, '/code');
    const answers = await Promise.all([browser.post(form.action, { ...form.fields, code: emailed }), browser.post(form.action, { ...form.fields, code: emailed })]);
    const next = await bothLeadOn(browser, answers, flowUrlOf(sent.body));
    expect(messageIds(next)).toContain('recover.password_heading');
    expect(await codeFailures(someone._id)).toBe(0);
  });

  /** Someone whose authenticator alone finishes a recovery, at its code's field. */
  async function atAuthenticatorCode() {
    const someone = await createUser(server);
    const { totp } = await registerMethods(server, someone, { authenticator: true });
    const browser = new Browser();
    const atTotp = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, someone.username), 'reset'), 'totp');
    return { someone, totp, browser, atTotp };
  }

  it('on Next with an authenticator code takes it once, and both answers lead to the next step', async () => {
    const { someone, totp, browser, atTotp } = await atAuthenticatorCode();
    const form = findForm(atTotp, '/code');
    const code = totp();
    const answers = await Promise.all([browser.post(form.action, { ...form.fields, code }), browser.post(form.action, { ...form.fields, code })]);
    const next = await bothLeadOn(browser, answers, flowUrlOf(atTotp.body));
    expect(messageIds(next)).toContain('recover.password_heading');
    expect(await codeFailures(someone._id)).toBe(0);
  });

  it('on Finish resets the password once, and both answers lead to the done page', async () => {
    const { someone, totp, browser, atTotp } = await atAuthenticatorCode();
    const passwordPage = await enterCode(browser, atTotp, totp());
    const form = findForm(passwordPage, '/password');
    const chosen = 'a passphrase sent twice at once';
    const answers = await Promise.all([0, 1].map(() => browser.post(form.action, { ...form.fields, password: chosen, confirm: chosen })));
    const done = await bothLeadOn(browser, answers, flowUrlOf(passwordPage.body));
    expect(messageIds(done)).toContain('recover.done_reset');
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId: someone._id, type: 'password.reset' })).toBe(1);
    expect((await server.latchkey.accounts.signIn(someone.username, chosen)).ok).toBe(true);
  });

  it('on Finish with two different passwords at once (two tabs): one is saved, and the other post is not told it was', async () => {
    const { someone, totp, browser, atTotp } = await atAuthenticatorCode();
    const passwordPage = await enterCode(browser, atTotp, totp());
    const form = findForm(passwordPage, '/password');
    const choices = ['the first tab passphrase here', 'the second tab passphrase there'];
    const answers = await Promise.all(choices.map((chosen) => browser.post(form.action, { ...form.fields, password: chosen, confirm: chosen })));
    const saved = answers.map((answer) => answer.status === 303);
    expect(saved.filter(Boolean)).toHaveLength(1);
    const kept = choices[saved.indexOf(true)]!;
    const other = answers[saved.indexOf(false)]!;
    // The done page, with the note that this page's password was not saved: the other one is the account's. (Whether
    // the other post lost the last step, or found its proofs void once the first one's password was written.)
    expect(other.status).toBe(409);
    expect(messageIds(other)).toEqual(expect.arrayContaining(['recover.other_password_saved', 'recover.done_reset']));
    expect(await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId: someone._id, type: 'password.reset' })).toBe(1);
    expect((await server.latchkey.accounts.signIn(someone.username, kept)).ok).toBe(true);
    expect((await server.latchkey.accounts.signIn(someone.username, choices.find((each) => each !== kept)!)).ok).toBe(false);
  });
});
