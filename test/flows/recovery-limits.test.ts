// Codes and limits of the recovery flow: expiry, single use, tries per code, the per-account budget of proofs
// across any number of flows, TOTP replays, send limits per destination and per IP (refused sends reach no
// provider), and the allowed phone countries.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, settledCount, textedCode, waitFor } from '../helpers/recovery.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';

let server: TestServer;
let offset = 0;
let phones = 0;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + offset });
});
afterAll(() => server.close());
/** Generous limits for the whole file (every request comes from 127.0.0.1), with one test's changes on top. */
const GENEROUS = { perDestination10Min: 50, perDestinationHour: 50, perIpHour: 500, perAccountHour: 50, proofAttemptsPerDay: 50, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000 };
async function policy({ limits = {}, ...rest }: { limits?: Record<string, number>; [key: string]: unknown } = {}) {
  await server.latchkey.policy.save({ ...rest, limits: { ...GENEROUS, ...limits } });
}

beforeEach(async () => {
  offset = 0;
  await policy();
});

async function userWithPhone(): Promise<{ user: User; phone: string; totp: (epoch?: number) => string }> {
  const user = await createUser(server);
  phones += 1;
  const phone = `+1415555${String(2000 + phones)}`;
  const { totp } = await registerMethods(server, user, { mobilePhone: phone, authenticator: true });
  return { user, phone, totp };
}

/** A browser at the code field of a text message sent to the user's phone. */
async function atSmsCode(user: User, phone: string, goal: 'reset' | 'unlock' = 'reset'): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), goal), 'sms');
  return { browser, page: await sendCode(browser, panel, { phone }) };
}

const auditCount = (filter: Record<string, unknown>) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments(filter);
const textsTo = async (phone: string) => (await outbox(server)).filter((m) => m.to === phone).length;

it("makes a code sent late in a flow work only until the flow ends, and says so in the text and after \"Try again\"", async () => {
  const { user, phone } = await userWithPhone();
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  offset = 12.5 * 60_000; // flows last 15 minutes: about two and a half are left, fewer than a code's 10
  const page = await sendCode(browser, panel, { phone });
  await textedCode(server, phone);
  const [text] = (await outbox(server)).filter((m) => m.to === phone);
  expect(text!.text).toContain('It expires in 2 minutes.');
  const stored = (await server.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION).findOne({ to: phone }))!;
  expect(stored.sendBefore.getTime() - stored.createdAt.getTime()).toBeLessThanOrEqual(150_000);
  const form = findForm(page, '/code');
  const again = await browser.follow(await browser.post(form.action.replace(/\/code$/, '/resend'), form.fields));
  expect(messageIds(again)).toContain('recover.code_resent');
  expect(again.body).toContain('It works for 2 minutes.');
});

it('refuses an expired code, and would not have sent it once expired', async () => {
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  const code = await textedCode(server, phone);
  // Had the provider been down for longer than the code lives, the message would not have gone out late.
  const stored = (await server.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION).findOne({ to: phone }))!;
  expect(stored.sendBefore.getTime() - stored.createdAt.getTime()).toBeLessThanOrEqual(10 * 60_000 + 1000);
  offset = 11 * 60_000; // codes live 10 minutes
  const late = await enterCode(browser, page, code);
  expect(messageIds(late)).toContain('recover.code_expired');
});

it('accepts a code once, even when it is posted twice at the same moment', async () => {
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  const code = await textedCode(server, phone);
  const form = findForm(page, '/code');
  const answers = await Promise.all([browser.post(form.action, { ...form.fields, code }), browser.post(form.action, { ...form.fields, code })]);
  // One accepted it; the other (a double click's, the answer the browser shows) waited and leads to the same page.
  expect(await auditCount({ accountId: user._id, type: 'code.verified' })).toBe(1);
  expect(answers.map((a) => [a.status, a.headers.get('location')])).toEqual([[303, answers[0]!.headers.get('location')], [303, answers[0]!.headers.get('location')]]);
  const replay = await browser.post(form.action, { ...form.fields, code });
  expect(replay.status).toBe(409);
});

it('accepts a code only in the flow that sent it, and not once "Try again" has sent a newer one', async () => {
  const { user, phone } = await userWithPhone();
  const first = await atSmsCode(user, phone);
  const firstCode = await textedCode(server, phone);
  const second = await atSmsCode(user, phone);
  const secondCode = await textedCode(server, phone, 1);
  // The first flow's code, typed in the second flow of the same account: wrong there.
  const crossed = await enterCode(second.browser, second.page, firstCode);
  expect(messageIds(crossed)).toContain('recover.code_wrong');
  // "Try again" in the first flow: its old code no longer counts, the new one does.
  const form = findForm(first.page, '/code');
  await first.browser.follow(await first.browser.post(form.action.replace(/\/code$/, '/resend'), form.fields));
  const fresh = await textedCode(server, phone, 2);
  const page = await first.browser.follow(await first.browser.get(form.action.replace(/\/code$/, '')));
  const old = await enterCode(first.browser, page, firstCode);
  expect(messageIds(old)).toEqual(expect.arrayContaining([expect.stringMatching(/^recover\.code_(wrong|expired)$/)]));
  expect(messageIds(await enterCode(first.browser, old, fresh))).toContain('recover.password_heading');
  // The second flow's own code still works there.
  expect(messageIds(await enterCode(second.browser, crossed, secondCode))).toContain('recover.password_heading');
});

it('voids a code after too many tries, saying so at the last one; "Try again" sends a new one and the tries already counted stay', async () => {
  // One for the phone number, three wrong codes, one for the new code: the tries at the void code spend nothing.
  await policy({ codes: { maxTries: 3 }, limits: { proofAttemptsPerDay: 5 } });
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  const code = await textedCode(server, phone);
  let current = page;
  // The help line gives the support code while the page shows it nowhere else; once an error shows it, once only.
  const supportCode = (shown: Page) => /Support code: ([A-Z0-9]{8})/.exec(shown.body)?.[1] ?? /support code ([A-Z0-9]{8})/.exec(shown.body)?.[1];
  expect(messageIds(page)).toContain('recover.support_code_is');
  expect(page.body.split(supportCode(page)!).length - 1).toBe(1);
  for (let i = 1; i <= 3; i += 1) {
    current = await enterCode(browser, current, '000000');
    expect(messageIds(current)).toContain('recover.support_code_above');
    expect(current.body.split(supportCode(current)!).length - 1).toBe(1);
    expect(messageIds(current)).toContain(i < 3 ? 'recover.code_wrong' : 'recover.code_used_up');
    // Each wrong code says how many more this code takes (3 - i). The one that voids the code has none left to tell.
    if (i < 3) expect(current.body).toMatch(new RegExp(`role="alert"[^>]*data-message-id="recover.code_wrong">[^<]*<span data-message-id="recover.tries_left">Tries left for this code: ${3 - i}\\.</span>`));
    else expect(messageIds(current)).not.toContain('recover.tries_left');
  }
  for (let i = 0; i < 2; i += 1) expect(messageIds(await enterCode(browser, current, code))).toContain('recover.code_expired');
  // A new code: the account's budget of 5 proofs has 1 left.
  const form = findForm(current, '/code');
  await browser.follow(await browser.post(form.action.replace(/\/code$/, '/resend'), form.fields));
  const fresh = await textedCode(server, phone, 1);
  const page2 = await browser.follow(await browser.get(form.action.replace(/\/code$/, '')));
  const accepted = await enterCode(browser, page2, fresh);
  expect(messageIds(accepted)).toContain('recover.password_heading');
});

it('texts no new code once the day\'s budget of proofs is spent: "Try again" says the recovery is blocked', async () => {
  await policy({ limits: { proofAttemptsPerDay: 2 } }); // one for the phone number, one for a wrong code
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  const code = await textedCode(server, phone);
  const form = findForm(page, '/code');
  await enterCode(browser, page, code === '000000' ? '111111' : '000000');
  const again = await browser.post(form.action.replace(/\/code$/, '/resend'), form.fields);
  expect(again.status).toBe(429);
  expect(messageIds(again)).toContain('recover.blocked');
  expect((await outbox(server)).filter((m) => m.channel === 'sms' && m.to === phone)).toHaveLength(1);
});

it('answers what cannot be a code (empty, letters, too few digits) without spending a try; spaces are fine', async () => {
  await policy({ limits: { proofAttemptsPerDay: 2 } }); // one for the phone number, one for the code
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  const code = await textedCode(server, phone);
  let current = page;
  for (const notACode of ['', 'abcdef', '12345', `${code}12345`]) {
    current = await enterCode(browser, current, notACode);
    expect(current.status).toBe(200);
    expect(messageIds(current)).toContain('recover.code_format');
  }
  const accepted = await enterCode(browser, current, `${code.slice(0, 3)} ${code.slice(3)}`);
  expect(messageIds(accepted)).toContain('recover.password_heading');
});

it('bounds 20 parallel guesses across many flows by the account budget', async () => {
  await policy({ limits: { proofAttemptsPerDay: 9 } }); // four phone numbers (one per flow), then five codes
  const { user, phone } = await userWithPhone();
  const flows = await Promise.all(Array.from({ length: 4 }, () => atSmsCode(user, phone)));
  const guesses = await Promise.all(
    Array.from({ length: 20 }, (_, i) => {
      const { browser, page } = flows[i % 4]!;
      const form = findForm(page, '/code');
      return browser.post(form.action, { ...form.fields, code: String(100000 + i) });
    }),
  );
  expect(guesses.filter((g) => g.status === 303)).toHaveLength(5); // compared, and wrong: the flow's page says so
  expect(guesses.filter((g) => g.status === 429).every((g) => messageIds(g).includes('recover.blocked'))).toBe(true);
  expect(guesses.filter((g) => g.status === 429)).toHaveLength(15);
  // The blocked page is an error, announced as one, and does not offer starting again first: that would be blocked too.
  const blocked = guesses.find((g) => g.status === 429)!;
  expect(blocked.body).toMatch(/class="alert" role="alert" data-message-id="recover.blocked"/);
  expect(blocked.body).toMatch(/class="button secondary"[^>]*data-message-id="recover.start_again"/);
  expect(await auditCount({ accountId: user._id, type: 'code.failed' })).toBe(5);
});

it("counts right proofs too, and an administrator's users unlock gives the day's budget back at once", async () => {
  // the phone number and the code: one whole recovery
  await policy({ limits: { proofAttemptsPerDay: 2 }, helpdesk: { url: 'https://help.example.test/latchkey' } });
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  expect(messageIds(await enterCode(browser, page, await textedCode(server, phone)))).toContain('recover.password_heading');
  const spent = await atSmsCode(user, phone);
  expect(spent.page.status).toBe(429);
  expect(messageIds(spent.page)).toContain('recover.blocked');
  // The page says to contact the administrator: the policy's helpdesk is there, with the support code.
  expect(messageIds(spent.page)).toContain('recover.contact_admin');
  expect(spent.page.body).toContain('href="https://help.example.test/latchkey"');
  expect(messageIds(spent.page)).toContain('recover.support_hint_before');
  // Who chose "I know my password" is not told about resetting it.
  const unlocking = await atSmsCode(user, phone, 'unlock');
  expect(unlocking.page.status).toBe(429);
  expect(messageIds(unlocking.page)).toContain('recover.support_hint_before_unlock');
  expect(messageIds(unlocking.page)).not.toContain('recover.support_hint_before');

  const unlock = await runAdmin(server.dbUri, ['users', 'unlock', user.username]);
  expect(unlock.code).toBe(0);
  expect(unlock.stdout).toContain('daily budget is whole again');
  const again = await atSmsCode(user, phone);
  expect(again.page.status).toBe(200);
  expect(findForm(again.page, '/code').fields).toHaveProperty('csrf');
});

it('accepts an authenticator code once, also when two flows post it in parallel', async () => {
  const { user, totp } = await userWithPhone();
  const atTotp = async () => {
    const browser = new Browser();
    const page = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'totp');
    return { browser, form: findForm(page, '/code') };
  };
  const [a, b] = await Promise.all([atTotp(), atTotp()]);
  const code = totp();
  const answers = await Promise.all([a, b].map(async ({ browser, form }) => messageIds(await browser.follow(await browser.post(form.action, { ...form.fields, code })))));
  expect(answers.filter((ids) => ids.includes('recover.password_heading'))).toHaveLength(1);
  expect(answers.filter((ids) => ids.includes('recover.totp_wrong'))).toHaveLength(1);
  const c = await atTotp();
  expect(messageIds(await c.browser.follow(await c.browser.post(c.form.action, { ...c.form.fields, code })))).toContain('recover.totp_wrong');
});

it('refuses sends over the destination limit without calling the provider; the code sent last still works', async () => {
  await policy({ limits: { perDestination10Min: 2 } });
  const { user, phone } = await userWithPhone();
  const { browser, page } = await atSmsCode(user, phone);
  await textedCode(server, phone);
  const resend = async (from: Page) => {
    const form = findForm(from, '/code');
    return browser.follow(await browser.post(form.action.replace(/\/code$/, '/resend'), form.fields));
  };
  const second = await resend(page);
  const secondCode = await textedCode(server, phone, 1);
  const third = await resend(second);
  // A "Try again" that sent a code says so, with how long it works (the first send's page has the code's own line).
  expect(messageIds(page)).not.toContain('recover.code_resent');
  expect(messageIds(second)).toContain('recover.code_resent');
  expect(second.body).toContain('It works for 10 minutes.');
  expect(second.body).toMatch(/href="\/recover\/[\w-]+\?lang=fr"/); // the language links do not say it again
  // A refused one says so (the person would otherwise wait for a code that never comes), and keeps the code page.
  expect(messageIds(second)).not.toContain('recover.send_limited');
  expect(third.status).toBe(429);
  // (The help line then points to the support code the refusal shows, rather than giving it again.)
  const sameAsSecond = messageIds(second).filter((id) => id !== 'recover.code_resent' && id !== 'recover.support_code_is');
  expect(messageIds(third)).toEqual(expect.arrayContaining([...sameAsSecond, 'recover.send_limited', 'recover.support_code_above']));
  expect(messageIds(third)).not.toContain('recover.code_resent');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await textsTo(phone)).toBe(2);
  expect(await auditCount({ accountId: user._id, type: 'code.refused', reason: 'limit_destination' })).toBe(1);
  // The refused "Try again" replaced nothing: the code that did go out (perhaps still on its way) is accepted.
  expect(messageIds(await enterCode(browser, third, secondCode))).toContain('recover.password_heading');
});

it('refuses sends over the per-IP limit, whatever X-Forwarded-For says, without calling the provider', async () => {
  offset = 7 * 3600_000; // a fresh hour for this address's budget, untouched by the other tests
  await policy({ limits: { perIpHour: 1 } });
  const first = await userWithPhone();
  const second = await userWithPhone();
  await atSmsCode(first.user, first.phone);
  await textedCode(server, first.phone);
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, second.user.username), 'reset'), 'sms');
  const form = findForm(panel, '/send');
  await browser.post(form.action, { ...form.fields, phone: second.phone }, { 'x-forwarded-for': '203.0.113.9' });
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await textsTo(second.phone)).toBe(0);
  expect(await auditCount({ accountId: second.user._id, type: 'code.refused', reason: 'limit_ip' })).toBe(1);
});

it("refuses codes past the installation's hourly budget without calling the provider, whoever asks", async () => {
  offset = 13 * 3600_000; // a fresh hour for the installation's budgets
  await policy({ limits: { globalPerHour: 2 } });
  const people = [await userWithPhone(), await userWithPhone(), await userWithPhone()];
  for (const { user, phone } of people.slice(0, 2)) {
    expect(messageIds((await atSmsCode(user, phone)).page)).toContain('recover.code_sent_sms');
    await textedCode(server, phone);
  }
  const [, , third] = people;
  // Refused with no code before it: the page says none was sent, not that one was.
  const { browser, page: refused } = await atSmsCode(third!.user, third!.phone);
  expect(refused.status).toBe(429);
  expect(messageIds(refused)).toEqual(expect.arrayContaining(['recover.send_limited_none', 'recover.code_unsent']));
  expect(messageIds(refused)).not.toContain('recover.code_sent_sms');
  expect(messageIds(refused)).not.toContain('recover.send_limited');
  // Opened again, it still says so.
  expect(messageIds(await browser.get(refused.url.replace(/\/send$/, '')))).toContain('recover.code_unsent');
  // Nothing to type: no code field, only Try again. A code posted all the same is compared with nothing and spends nothing.
  expect(messageIds(refused)).not.toContain('recover.code_label');
  const tryAgain = findForm(refused, '/resend');
  const posted = await browser.follow(await browser.post(tryAgain.action.replace(/\/resend$/, '/code'), { ...tryAgain.fields, code: '123456' }));
  expect(messageIds(posted)).toContain('recover.code_not_sent');
  expect(await auditCount({ accountId: third!.user._id, type: 'code.failed' })).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await textsTo(third!.phone)).toBe(0);
  expect(await auditCount({ accountId: third!.user._id, type: 'code.refused', reason: 'limit_global' })).toBe(1);
});

it('sends lockout notices by text only within their own installation-wide budget; the emails all go', async () => {
  offset = 9 * 3600_000; // a fresh hour for the installation's budgets
  await policy({ lockout: { threshold: 2 }, limits: { globalPerHour: 1 } });
  const locked = [await userWithPhone(), await userWithPhone(), await userWithPhone()];
  for (const { user } of locked) {
    for (const attempt of ['first wrong password', 'second wrong password']) expect((await server.latchkey.accounts.signIn(user.username, attempt)).ok).toBe(false);
  }
  const emails = await waitFor(async () => {
    const notices = (await outbox(server)).filter((m) => m.subject === 'Your account was locked' && locked.some(({ user }) => m.to === user.email));
    return notices.length === 3 ? notices : undefined;
  }, 'three lockout emails');
  expect(emails).toHaveLength(3);
  const texts = async () => (await outbox(server)).filter((m) => m.channel === 'sms' && locked.some(({ phone }) => m.to === phone)).length;
  expect(await settledCount(texts, 1)).toBe(1);
  // The budget for codes is another: a recovery still gets its text.
  const { user, phone } = locked[0]!;
  const { page } = await atSmsCode(user, phone);
  expect(messageIds(page)).toContain('recover.code_sent_sms');
  expect(await textedCode(server, phone)).toMatch(/^\d{6}$/);
});

it('does not offer text messages to a number registered in a country the policy does not allow', async () => {
  await policy({ allowedCountryCodes: ['33', '44'] });
  const { user } = await userWithPhone(); // a +1 number, and an authenticator
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  expect(messageIds(methods)).toContain('recover.method_totp');
  expect(messageIds(methods)).not.toContain('recover.method_sms');
  const refused = await chooseMethod(browser, methods, 'sms');
  expect(messageIds(refused)).toContain('recover.method_missing');
});

it('refuses a typed number in a country the policy does not allow before comparing it, sending nothing', async () => {
  await policy({ allowedCountryCodes: ['1'] });
  const { user, phone } = await userWithPhone();
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  const refused = await sendCode(browser, panel, { phone: '+33612345678' });
  expect(messageIds(refused)).toContain('recover.phone_country');
  expect(await textsTo(phone)).toBe(0);
});

it('counts each complete phone number typed against the daily budget of proofs, for an account and a decoy alike, telling no count', async () => {
  await policy({ limits: { proofAttemptsPerDay: 3 } });
  const { user, phone } = await userWithPhone();
  await policy({ methodsEnabled: ['sms'], limits: { proofAttemptsPerDay: 3 } }); // so that the decoy has a phone too
  for (const identifier of [user.username, `nobody-${phones}`]) {
    const browser = new Browser();
    let page = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, identifier), 'reset'), 'sms');
    for (const guess of ['+14155550001', '+14155550002', '+14155550003']) {
      page = await sendCode(browser, page, { phone: guess });
      expect(messageIds(page)).toContain('recover.phone_mismatch');
      // The budget is the account's, which others spend too: what is left of it is not told (see the next test).
      expect(messageIds(page).filter((id) => id.startsWith('recover.tries_'))).toEqual([]);
    }
    // The fourth number, the right one for the account, is not even compared.
    const form = findForm(page, '/send');
    const blocked = await browser.post(form.action, { ...form.fields, phone });
    expect(blocked.status).toBe(429);
    expect(messageIds(blocked)).toContain('recover.blocked');
  }
  expect(await textsTo(phone)).toBe(0);
  expect(await auditCount({ accountId: user._id, type: 'recovery.blocked', reason: 'limit_proofs' })).toBe(1);
});

it("says the same beside a wrong number for an account whose owner spent some of the day's budget as for an unknown login", async () => {
  await policy({ methodsEnabled: ['sms'], limits: { proofAttemptsPerDay: 4 } });
  const { user, phone, totp } = await userWithPhone();
  // Earlier today the owner typed an old number of theirs (or proved a method on their security info page).
  await sendCode(...(await atPhoneStep(user.username)), { phone: '+14155550009' });
  const alerts: string[] = [];
  for (const identifier of [user.username, `nobody-${phones}`]) {
    const page = await sendCode(...(await atPhoneStep(identifier)), { phone: '+14155550001' });
    expect(messageIds(page)).toContain('recover.phone_mismatch');
    alerts.push(/<div class="alert" role="alert" id="form-error"[^>]*>[\s\S]*?<\/div>/.exec(page.body)![0]);
  }
  // Were the budget's tries counted, the account would say one fewer than the decoy, whose budget only this person spends.
  expect(alerts[0]).toBe(alerts[1]);
  expect(alerts[0]).not.toContain('recover.tries_');
  expect(await textsTo(phone)).toBe(0);
  // Nor does a wrong authenticator code: its only count would be that budget's.
  await policy({ methodsEnabled: ['sms', 'totp'], limits: { proofAttemptsPerDay: 4 } });
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const wrong = await enterCode(browser, await chooseMethod(browser, methods, 'totp'), String((Number(totp()) + 1) % 1_000_000).padStart(6, '0'));
  expect(messageIds(wrong)).toContain('recover.totp_wrong');
  expect(messageIds(wrong).filter((id) => id.startsWith('recover.tries_'))).toEqual([]);
});

/** A fresh flow for `identifier` at the text method's number field. */
async function atPhoneStep(identifier: string): Promise<[Browser, Page]> {
  const browser = new Browser();
  return [browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, identifier), 'reset'), 'sms')];
}

it('answers what is no phone number, or one in a refused country, without spending a try', async () => {
  await policy({ allowedCountryCodes: ['1'], limits: { proofAttemptsPerDay: 2 } });
  const { user, phone } = await userWithPhone();
  const browser = new Browser();
  let page = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  for (const [typed, error] of [['', 'recover.phone_invalid'], ['12', 'recover.phone_invalid'], ['+33612345678', 'recover.phone_country']]) {
    page = await sendCode(browser, page, { phone: typed! });
    expect(messageIds(page)).toContain(error);
  }
  // The two tries of the day are still there, for the number itself and its code.
  expect(messageIds(await sendCode(browser, page, { phone }))).toContain('recover.code_sent_sms');
});

it('texts no code when the number itself took the day\'s last try: its code could not be compared', async () => {
  await policy({ limits: { proofAttemptsPerDay: 1 } });
  const { user, phone } = await userWithPhone();
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  const blocked = await sendCode(browser, panel, { phone });
  expect(blocked.status).toBe(429);
  expect(messageIds(blocked)).toContain('recover.blocked');
  expect(await textsTo(phone)).toBe(0);
});

it('refuses a phone number that is not the registered one, sending nothing', async () => {
  const { user, phone } = await userWithPhone();
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  const wrong = await sendCode(browser, panel, { phone: '+14155550000' });
  expect(messageIds(wrong)).toContain('recover.phone_mismatch');
  expect(await textsTo(phone)).toBe(0);
});

it('counts the codes entered from one address over every account it names, an unknown login\'s alike, before each account\'s budget', async () => {
  offset = 5 * 3600_000; // an hour of its own: the tests above spent some of this address's
  await policy({ methodsEnabled: ['totp'], limits: { proofAttemptsPerIpHour: 3 } });
  const [first, second] = [await userWithPhone(), await userWithPhone()];
  const atAuthenticator = async (identifier: string) => {
    const browser = new Browser();
    return { browser, page: await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, identifier), 'reset'), 'totp') };
  };
  // The address's three: two for one account, one for a login no account has (a code right by chance: one in 10^6).
  for (const identifier of [first.user.username, `nobody-${phones}`, first.user.username]) {
    const { browser, page } = await atAuthenticator(identifier);
    const answer = await enterCode(browser, page, '000000');
    expect(answer.status).toBe(200);
    expect(messageIds(answer)).toContain('recover.totp_wrong');
  }
  // Another account's right code from the same address is not compared: the address has had its tries this hour.
  const { browser, page } = await atAuthenticator(second.user.username);
  const form = findForm(page, '/code');
  const refused = await browser.post(form.action, { ...form.fields, code: second.totp(Math.floor((Date.now() + offset) / 1000)) });
  expect(refused.status).toBe(429);
  expect(messageIds(refused)).toContain('recover.too_many');
  expect(await auditCount({ accountId: second.user._id, type: 'recovery.blocked', reason: 'limit_proofs_ip' })).toBe(1);
  expect(await auditCount({ accountId: second.user._id, type: 'code.verified' })).toBe(0);
  // Nor is a complete phone number typed on the way to a text: it is a guess too.
  await policy({ methodsEnabled: ['sms', 'totp'], limits: { proofAttemptsPerIpHour: 3 } });
  const texting = new Browser();
  const panel = await chooseMethod(texting, await chooseGoal(texting, await identify(server, texting, second.user.username), 'reset'), 'sms');
  const numberForm = findForm(panel, '/send');
  const numberRefused = await texting.post(numberForm.action, { ...numberForm.fields, phone: second.phone });
  expect(numberRefused.status).toBe(429);
  expect(messageIds(numberRefused)).toContain('recover.too_many');
  expect(await textsTo(second.phone)).toBe(0);
  // An hour later the address has its tries back.
  offset += 3600_000;
  const later = await atAuthenticator(second.user.username);
  expect(messageIds(await enterCode(later.browser, later.page, second.totp(Math.floor((Date.now() + offset) / 1000))))).toContain('recover.password_heading');
});

it('lets a flow that holds a proof go on once someone else behind its address has spent the address\'s budget', async () => {
  offset = 8 * 3600_000; // another hour of its own
  await policy({ methodsRequired: 2, methodsEnabled: ['sms', 'totp'], limits: { proofAttemptsPerIpHour: 2 } });
  const now = () => Math.floor((Date.now() + offset) / 1000);
  const { user, phone, totp } = await userWithPhone();
  const browser = new Browser();
  const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
  const secondStep = await enterCode(browser, await chooseMethod(browser, methods, 'totp'), totp(now()));
  expect(messageIds(secondStep)).toContain('recover.choose_second');
  // Someone else behind the same address spends the rest of its budget, and is then refused.
  const spender = await userWithPhone();
  const other = new Browser();
  let page = await chooseMethod(other, await chooseGoal(other, await identify(server, other, spender.user.username), 'reset'), 'totp');
  page = await enterCode(other, page, '000000');
  expect(messageIds(page)).toContain('recover.totp_wrong');
  const form = findForm(page, '/code');
  expect((await other.post(form.action, { ...form.fields, code: '000000' })).status).toBe(429);
  // The flow half-way through is not held up: its complete number is compared, and its code sent.
  const sent = await sendCode(browser, await chooseMethod(browser, secondStep, 'sms'), { phone });
  expect(messageIds(sent)).toContain('recover.code_sent_sms');
  await textedCode(server, phone); // the text leaves through the outbox, after the answer
  expect(await textsTo(phone)).toBe(1);
});
