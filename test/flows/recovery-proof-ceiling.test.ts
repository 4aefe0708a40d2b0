// The ceiling on wrong recovery proofs in a row (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive failed attempts
// with one authenticator, which is then disabled until it is rebound or the account recovered). The daily budget of
// proofs renews every day, so without a ceiling a patient guesser keeps trying an authenticator's codes for months.
// Through the recovery pages, with the daily budget raised so that 100 tries fit in one day (as the password
// ceiling's test waits out each lockout), and the server's clock moved where days must pass.
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { stepRecorder } from '../helpers/commands.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, settledCount, submit, textedCode, waitFor } from '../helpers/recovery.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { LIMITS } from '../../src/security/limits.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { generateSync } from 'otplib';
import { createProofCeiling, restartProofRuns } from '../../src/security/proof-ceiling.ts';

const CEILING = 100;

let server: TestServer;
let offset = 0;
// Every command of a step counts, the limits' too: the ones compared below take per-account budgets only, which are
// as fresh for the unknown identifier as for the account.
const { onCommand, commandsOf } = stepRecorder();

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + offset, onCommand });
  // Authenticator apps only, so that an unknown identifier's decoy offers exactly what the account does.
  await usePolicy(['totp']);
});
afterAll(() => server.close());
beforeEach(() => {
  offset = 0;
});

/** The methods enabled, the daily budget large enough for the ceiling to be reached in a day. */
function usePolicy(methodsEnabled: string[]) {
  return server.latchkey.policy.save({ methodsEnabled, limits: { proofAttemptsPerDay: 1000, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000 } });
}

const now = () => Math.floor((Date.now() + offset) / 1000);

/** A user with an authenticator: its code now, and the codes it would accept now (this step and the one before). */
async function userWithAuthenticator(): Promise<{ user: User; totp: () => string; valid: () => string[] }> {
  const user = await createUser(server);
  const { totp } = await registerMethods(server, user, { authenticator: true });
  return { user, totp: () => totp(now()), valid: () => [totp(now()), totp(now() - 30)] };
}

/** A browser at the authenticator's code field, in a new recovery flow for `identifier`. */
async function atCode(identifier: string): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  const page = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, identifier), 'reset'), 'totp');
  return { browser, page };
}

/** Six digits that are not a code the authenticator accepts now (the current step or the one before). */
function wrongCode(i: number, valid: string[]): string {
  for (let n = 100_000 + i; ; n += 7919) if (!valid.includes(String(n))) return String(n);
}

/** `count` wrong codes in one flow; every answer but possibly the last says the code did not work. Returns the last page. */
async function failInARow(at: { browser: Browser; page: Page }, count: number, valid: () => string[] = () => []): Promise<Page> {
  let page = at.page;
  for (let i = 1; i <= count; i += 1) {
    page = await enterCode(at.browser, page, wrongCode(i, valid()));
    if (i < count) expect(messageIds(page)).toContain('recover.totp_wrong');
  }
  return page;
}

const accepted = (page: Page) => messageIds(page).includes('recover.password_heading');
const refusedAsDisabled = (page: Page) => messageIds(page).includes('recover.method_disabled') && !accepted(page);
const auditCount = (filter: Record<string, unknown>) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments(filter);
/** The steps of another code's 30 seconds: each authenticator code is accepted once. */
const nextStep = () => {
  offset += 60_000;
};

it(`refuses even the right authenticator code after ${CEILING} wrong ones in a row, days later too; records it once and tells the owner`, async () => {
  const { user, totp, valid } = await userWithAuthenticator();
  const at = await atCode(user.username);
  const last = await failInARow(at, CEILING, valid);
  // The wrong code that reached the ceiling says so at once.
  expect(refusedAsDisabled(last)).toBe(true);
  expect(refusedAsDisabled(await enterCode(at.browser, last, totp()))).toBe(true);
  const notice = await waitFor(async () => (await outbox(server)).find((m) => m.to === user.email && m.subject === 'A way to verify your identity was turned off'), 'the owner’s notice');
  expect(notice.text).toContain(`Your authenticator app can no longer be used to recover your account ${user.username}`);
  // Anyone can cause it with wrong codes: no "This wasn't me" link, whose lockdown would shut the owner out too.
  expect(notice.text).not.toMatch(/\/recover\/lockdown\//);

  offset += 3 * 86_400_000; // the daily budget has renewed since; the ceiling has not
  const later = await atCode(user.username);
  expect(refusedAsDisabled(await enterCode(later.browser, later.page, totp()))).toBe(true);

  expect(await auditCount({ accountId: user._id, type: 'code.failed' })).toBe(CEILING);
  expect(await auditCount({ accountId: user._id, type: 'recovery.method_disabled', method: 'totp', reason: 'consecutive_limit' })).toBe(1);
  expect(await auditCount({ accountId: user._id, type: 'recovery.blocked', reason: 'method_disabled' })).toBe(2);
});

it('counts wrong codes in a row only: an accepted code starts the count afresh', async () => {
  const { user, totp, valid } = await userWithAuthenticator();
  const first = await atCode(user.username);
  expect(accepted(await enterCode(first.browser, await failInARow(first, CEILING - 1, valid), totp()))).toBe(true);

  nextStep();
  const second = await atCode(user.username);
  expect(accepted(await enterCode(second.browser, await failInARow(second, CEILING - 1, valid), totp()))).toBe(true);

  // From the last accepted code, the ceiling is whole again, and still there.
  nextStep();
  const third = await atCode(user.username);
  const last = await failInARow(third, CEILING, valid);
  expect(refusedAsDisabled(last)).toBe(true);
  expect(refusedAsDisabled(await enterCode(third.browser, last, totp()))).toBe(true);
});

it('keeps a wrong code in its run for a year, and leaves the try of an accepted one to be swept within a day', async () => {
  const { user, totp, valid } = await userWithAuthenticator();
  const limits = server.connection.db!.collection(LIMITS);
  const slots = async () => limits.find({ _id: { $regex: '^proof-run:' } as never }).toArray();
  const before = new Set((await slots()).map((slot) => String(slot._id)));
  const at = await atCode(user.username);
  expect(accepted(await enterCode(at.browser, await failInARow(at, 1, valid), totp()))).toBe(true);
  const added = (await slots()).filter((slot) => !before.has(String(slot._id)));
  const lifeDays = added.map((slot) => Math.round(((slot.expiresAt as Date).getTime() - Date.now() - offset) / 86_400_000)).sort((a, b) => a - b);
  expect(lifeDays).toEqual([1, 365]);
});

it('answers no more than the ceiling, however many wrong codes arrive at once', async () => {
  const { user, valid } = await userWithAuthenticator();
  const at = await atCode(user.username);
  const page = await failInARow(at, CEILING - 10, valid);
  const form = findForm(page, '/code');
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => at.browser.post(form.action, { ...form.fields, code: wrongCode(500 + i, valid()) })));
  // Each is answered by the flow's page (post, redirect, get). Ten are compared, and wrong (the last reaches the
  // ceiling); the other ten are refused uncompared, as the method is off.
  expect(answers.filter((answer) => answer.status === 303)).toHaveLength(20);
  expect(await auditCount({ accountId: user._id, type: 'code.failed' })).toBe(CEILING);
  expect(await auditCount({ accountId: user._id, type: 'recovery.blocked', reason: 'method_disabled' })).toBe(10);
  expect(await auditCount({ accountId: user._id, type: 'recovery.method_disabled' })).toBe(1);
  expect(refusedAsDisabled(await enterCode(at.browser, page, wrongCode(600, valid())))).toBe(true);
});

it('answers an unknown identifier the same way, with the same database work', async () => {
  const { user, valid } = await userWithAuthenticator();
  const walk = async (identifier: string, valid: () => string[]) => {
    // Each walk starts with this address's budgets as empty as the other's: finding a budget's next free slot takes
    // as many reads as its count needs (a binary search), and the first walk's tries would count in the second's.
    await server.connection.db!.collection(LIMITS).deleteMany({});
    const at = await atCode(identifier);
    const firstWrong = await commandsOf(() => enterCode(at.browser, at.page, wrongCode(0, valid())));
    const last = await failInARow({ browser: at.browser, page: firstWrong.page }, CEILING - 1, valid);
    const refused = await commandsOf(() => enterCode(at.browser, last, '123456'));
    return { firstWrong, last, refused };
  };
  const real = await walk(user.username, valid);
  const decoy = await walk(`nobody-${Date.now()}@example.org`, () => []);
  for (const walked of [real, decoy]) {
    expect(refusedAsDisabled(walked.last)).toBe(true);
    expect(refusedAsDisabled(walked.refused.page)).toBe(true);
  }
  expect(decoy.firstWrong.commands).toEqual(real.firstWrong.commands);
  expect(decoy.refused.commands).toEqual(real.refused.commands);
  expect(messageIds(decoy.refused.page)).toEqual(messageIds(real.refused.page));
});

it('works again after an administrator’s `users unlock`, or with an authenticator enrolled anew', async () => {
  const { user, totp, valid } = await userWithAuthenticator();
  const at = await atCode(user.username);
  expect(refusedAsDisabled(await failInARow(at, CEILING, valid))).toBe(true);

  const unlock = await runAdmin(server.dbUri, ['users', 'unlock', user.username]);
  expect(unlock.code).toBe(0);
  expect(unlock.stdout).toContain('a method turned off after 100 in a row works again');
  const after = await atCode(user.username);
  expect(accepted(await enterCode(after.browser, after.page, totp()))).toBe(true);

  // Disabled again; this time the administrator enrols a new authenticator: a new one has no failures.
  nextStep();
  const again = await atCode(user.username);
  expect(refusedAsDisabled(await failInARow(again, CEILING, valid))).toBe(true);
  const enrolled = await runAdmin(server.dbUri, ['users', 'enrol-authenticator', user.username, '--json']);
  expect(enrolled.code).toBe(0);
  const secret = new URL((JSON.parse(enrolled.stdout) as { otpauthUri: string }).otpauthUri).searchParams.get('secret')!;
  const fresh = await atCode(user.username);
  expect(accepted(await enterCode(fresh.browser, fresh.page, generateSync({ secret, epoch: now() })))).toBe(true);
});

it('works again once the account is recovered with its other methods', async () => {
  await usePolicy(['sms', 'totp']);
  try {
    const user = await createUser(server);
    const phone = '+14155550188';
    const { totp: totpAt } = await registerMethods(server, user, { mobilePhone: phone, authenticator: true });
    const totp = () => totpAt(now());
    const at = await atCode(user.username);
    expect(refusedAsDisabled(await failInARow(at, CEILING, () => [totp(), totpAt(now() - 30)]))).toBe(true);

    // A reset with the phone instead: the recovery is complete, so the authenticator counts afresh.
    const browser = new Browser();
    const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
    const codePage = await sendCode(browser, panel, { phone });
    const passwordPage = await enterCode(browser, codePage, await textedCode(server, phone));
    const password = 'correct horse battery staple 42';
    expect(messageIds(await submit(browser, passwordPage, '/password', { password, confirm: password }))).toContain('recover.done_reset');

    const after = await atCode(user.username);
    expect(accepted(await enterCode(after.browser, after.page, totp()))).toBe(true);
  } finally {
    await usePolicy(['totp']);
  }
});

it('counts no typed phone number against the ceiling, and sends no code for a method turned off', async () => {
  // Wrong codes are compared only while their code lives (10 tries each here): a new code after every ten, sent
  // within limits large enough for the ten sends.
  const sends = { perDestination10Min: 20, perDestinationHour: 20, perAccountHour: 20, perIpHour: 100 };
  await server.latchkey.policy.save({ methodsEnabled: ['sms'], codes: { maxTries: 10 }, limits: { proofAttemptsPerDay: 1000, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000, ...sends } });
  try {
    const user = await createUser(server);
    const phone = '+14155550177';
    await registerMethods(server, user, { mobilePhone: phone });
    const browser = new Browser();
    let page = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
    // A number is no secret: wrong ones typed by anyone (the daily budget bounds them) must not turn the owner's texts off.
    for (let i = 0; i < CEILING + 5; i += 1) {
      page = await sendCode(browser, page, { phone: `+1415555${2000 + i}` });
      expect(messageIds(page)).toContain('recover.phone_mismatch');
    }
    page = await sendCode(browser, page, { phone });
    // Codes only: the owner is also told by text that the method was turned off.
    const textsTo = async () => (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === phone && /#\d{6}$/.test(m.text)).length;
    await textedCode(server, phone);
    expect(await textsTo()).toBe(1);

    // Wrong codes do count: the hundredth turns texts off, and "Try again" (from the code page, as in another tab)
    // then sends nothing (a text costs money).
    // "Try again" is the code form's second button (formaction).
    const tryAgain = (codePage: Page) => {
      const codeForm = findForm(codePage, '/code');
      return browser.post(codeForm.action.replace(/\/code$/, '/resend'), codeForm.fields);
    };
    let codePage = page;
    for (let i = 1; i <= CEILING; i += 1) {
      [codePage, page] = [page, await enterCode(browser, page, String(100_000 + i))];
      if (i % 10 === 0 && i < CEILING) {
        expect(messageIds(page)).toContain('recover.code_used_up');
        page = await browser.follow(await tryAgain(page));
      }
    }
    expect(refusedAsDisabled(page)).toBe(true);
    const sent = await settledCount(textsTo, CEILING / 10);
    expect(sent).toBe(CEILING / 10);
    expect(refusedAsDisabled(await browser.follow(await tryAgain(codePage)))).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await textsTo()).toBe(sent);
  } finally {
    await usePolicy(['totp']);
  }
});

it('keeps in the run only the answers compared: parallel answers to one texted code beyond its tries are not wrong proofs', async () => {
  await usePolicy(['sms']);
  try {
    const user = await createUser(server);
    const phone = '+14155550166';
    await registerMethods(server, user, { mobilePhone: phone });
    const limits = server.connection.db!.collection(LIMITS);
    const keptForAYear = async () =>
      (await limits.find({ _id: { $regex: '^proof-run:' } as never }).toArray()).filter((slot) => (slot.expiresAt as Date).getTime() - Date.now() - offset > 30 * 86_400_000).length;
    const before = await keptForAYear();
    const browser = new Browser();
    const codePage = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms'), { phone });
    const code = await textedCode(server, phone);
    const form = findForm(codePage, '/code');
    // Eight wrong answers at once to a code that takes five (the policy's codes.maxTries).
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => browser.post(form.action, { ...form.fields, code: String(Number(code) === 200_000 + i ? 300_000 : 200_000 + i) })));
    expect(answers.filter((answer) => answer.status === 303)).toHaveLength(8); // each back to the flow's page
    // Some are compared (at most the code's five), the others are not: finding the code's tries taken, or the code
    // void. Only those compared are kept as wrong proofs.
    const compared = await auditCount({ accountId: user._id, type: 'code.failed', reason: 'wrong_code' });
    expect(compared).toBeGreaterThan(0);
    expect(compared).toBeLessThanOrEqual(5);
    expect((await keptForAYear()) - before).toBe(compared);
  } finally {
    await usePolicy(['totp']);
  }
});

it('reports a run that ended without its last try reporting it (a request that died): once, by the first try refused', async () => {
  const ceiling = createProofCeiling(server.connection, 'a test key');
  const key = `account:ended-unreported-${Date.now()}`;
  const runs = await ceiling.read(key);
  // A hundred tries whose requests never said how they went: none reports the end.
  for (let i = 0; i < CEILING; i += 1) expect((await ceiling.attempt(runs, 'totp', 'a seed')).allowed).toBe(true);
  expect(await ceiling.attempt(runs, 'totp', 'a seed')).toMatchObject({ allowed: false, reports: true });
  const later = await ceiling.read(key);
  expect(ceiling.disabled(later, 'totp', 'a seed')).toBe(true);
  expect(await ceiling.attempt(later, 'totp', 'a seed')).toMatchObject({ allowed: false, reports: false });
  // An administrator's unlock (or a completed recovery) starts a new run, read back until it holds.
  await restartProofRuns(server.connection, key);
  const restarted = await ceiling.read(key);
  expect(ceiling.disabled(restarted, 'totp', 'a seed')).toBe(false);
  expect((await ceiling.attempt(restarted, 'totp', 'a seed')).allowed).toBe(true);
});
