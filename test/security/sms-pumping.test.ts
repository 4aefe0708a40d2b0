// SMS pumping (security checklist PUMP-LIMITS, PUMP-GEO, PUMP-ANOMALY): fraud that types runs of premium numbers for
// codes it never proves. Numbers are typed in only at "Your security info" (recovery texts registered numbers, once
// typed in full and matched). There, numbers that are no one's mobile (premium-rate, toll-free, personal) are refused,
// and two more layers refuse codes before any provider sees them: the typed numbers of one block of 100 share an
// hourly budget (codes to +…3001, +…3002, … are refused from the eleventh number on), and the breaker stops codes to
// numbers typed in for a country once too few of that country's numbers were proved, judged only over codes that
// expired at least ten minutes before (windows of ten minutes, the newest judged three back).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Browser, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { formNamed, openSecurityInfoPage, postForm } from '../helpers/account-pages.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, identify, outbox, registerMethods, sendCode, textedCode } from '../helpers/recovery.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { OUTBOX_COLLECTION } from '../../src/delivery/outbox.ts';
import { LIMITS } from '../../src/security/limits.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
let server: TestServer;
let offset = 0;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + offset });
});
afterAll(() => server.close());
beforeEach(() => {
  // Each test in hours of its own (the counts are hourly), beginning a minute past the hour: the breaker's windows
  // are ten minutes long, so +30 minutes is three windows on, in the same hour.
  offset = Math.ceil((Date.now() + offset + 10 * HOUR) / HOUR) * HOUR + MINUTE - Date.now();
});

/** The policy for one test: the budgets of one sender opened wide (every request comes from 127.0.0.1). */
const policy = (overrides: Record<string, unknown> = {}) =>
  server.latchkey.policy.save({ ...overrides, limits: { perIpHour: 1000, perAccountHour: 1000, flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, proofAttemptsPerDay: 1000 } });

/** A fresh account (none registered) types `number` as its mobile phone: the page the code's send leads to. */
async function typeNumber(number: string): Promise<{ browser: Browser; page: Page; userId: string }> {
  const user = await createUser(server);
  const { browser, page } = await openSecurityInfoPage(server, user);
  const typing = await postForm(browser, formNamed(page, 'add', 'mobilePhone'));
  return { browser, page: await postForm(browser, formNamed(typing, 'add', 'mobilePhone'), { value: number }), userId: user._id };
}

/** Types `number` and proves it with the code texted to it. */
async function typeAndProve(number: string): Promise<void> {
  const before = (await outbox(server)).filter((m) => m.to === number).length;
  const { browser, page } = await typeNumber(number);
  const saved = await postForm(browser, formNamed(page, 'verify'), { code: await textedCode(server, number, before) });
  expect(messageIds(saved)).toContain('security_info.said_saved');
}

const expectSent = (page: Page) => expect(messageIds(page)).toContain('security_info.code_sent_mobilePhone');
/** Refused as every send limit is (429, the same words), with nothing stored to send. */
async function expectRefused(page: Page, number: string) {
  expect(page.status).toBe(429);
  expect(messageIds(page)).toContain('security_info.send_refused');
  expect(await server.connection.db!.collection(OUTBOX_COLLECTION).countDocuments({ to: number })).toBe(0);
  expect((await outbox(server)).filter((m) => m.to === number)).toHaveLength(0);
}
const audited = (filter: Record<string, unknown>) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments(filter);
const breakerLogs = (country: string) =>
  server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === 'pumping.breaker_opened' && line.country === country);
/** The send budgets' slots (every budget of allowSend, by its name). */
const sendSlots = () => server.connection.db!.collection(LIMITS).countDocuments({ _id: { $regex: '^send-' } as never });

describe('numbers that cannot be a mobile phone', () => {
  it('refuses premium-rate, toll-free and personal numbers before any budget is spent, sending nothing; a mobile number goes', async () => {
    await policy();
    const slots = await sendSlots();
    for (const number of ['+449098790000', '+19005550123', '+18005550199', '+447012345678']) {
      const { page } = await typeNumber(number);
      expect(messageIds(page)).toContain('security_info.phone_not_mobile');
      expect(await server.connection.db!.collection(OUTBOX_COLLECTION).countDocuments({ to: number })).toBe(0);
    }
    expect(await sendSlots()).toBe(slots);
    expectSent((await typeNumber('+447911123456')).page);
  });
});

describe('codes to neighbouring numbers', () => {
  it('texts ten typed numbers of one block of 100 in an hour, refuses the rest of +…3001 to +…3020 before any provider, and still texts the next block', async () => {
    await policy();
    const numbers = Array.from({ length: 20 }, (_, i) => `+1415555${3001 + i}`);
    for (const [i, number] of numbers.entries()) {
      const { page, userId } = await typeNumber(number);
      if (i < 10) expectSent(page);
      else {
        await expectRefused(page, number);
        expect(await audited({ accountId: userId, type: 'code.refused', reason: 'limit_number_block' })).toBe(1);
      }
    }
    expectSent((await typeNumber('+14155553101')).page);
    // An hour later the block has its budget again.
    offset += HOUR;
    expectSent((await typeNumber(numbers[19]!)).page);
  });

  it('puts no block budget on registered numbers: recovery texts twelve colleagues of one block within the hour', async () => {
    await policy();
    for (let i = 1; i <= 12; i += 1) {
      const user = await createUser(server);
      const phone = `+1415555${3600 + i}`;
      await registerMethods(server, user, { mobilePhone: phone });
      const browser = new Browser();
      const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
      expect(messageIds(await sendCode(browser, panel, { phone }))).toContain('recover.code_sent_sms');
      await textedCode(server, phone);
    }
  });
});

describe('the SMS pumping breaker', () => {
  // Numbers of different blocks, so that only the breaker can refuse them.
  const british = (i: number) => `+4474001${String(i).padStart(2, '0')}001`;
  const french = (i: number) => `+336123${String(i).padStart(2, '0')}601`;

  it("opens for a country once too few of its expired codes' numbers were proved, before any send budget is spent, told once an hour; closes 80-90 minutes after those codes; never for another country", async () => {
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 50 } });
    for (const i of [1, 2, 3, 4]) expectSent((await typeNumber(british(i))).page);
    // Not judged while their codes may still be typed in, nor a window after.
    offset += 20 * MINUTE;
    expectSent((await typeNumber(british(5))).page);
    offset += 10 * MINUTE;
    const opening = await typeNumber(british(6));
    await expectRefused(opening.page, british(6));
    expect(await audited({ type: 'delivery.breaker_opened', reason: 'pumping_suspected', target: 'GB' })).toBe(1);
    expect(await audited({ accountId: opening.userId, type: 'code.refused', reason: 'pumping_suspected' })).toBe(1);
    expect(breakerLogs('GB')).toEqual([expect.objectContaining({ level: 50, sent: 4, proved: 0 })]);
    expect(JSON.stringify(breakerLogs('GB'))).not.toMatch(/7400/);

    // Open: refused without a send budget taken, and not told again this hour; another country's codes go.
    const slots = await sendSlots();
    await expectRefused((await typeNumber(british(7))).page, british(7));
    expect(await sendSlots()).toBe(slots);
    expect(await audited({ type: 'delivery.breaker_opened', target: 'GB' })).toBe(1);
    expectSent((await typeNumber('+14155554001')).page);
    // Still open while the first four are in the hour judged (told again in a new hour); closed after.
    offset += 50 * MINUTE;
    await expectRefused((await typeNumber(british(8))).page, british(8));
    expect(await audited({ type: 'delivery.breaker_opened', target: 'GB' })).toBe(2);
    offset += 10 * MINUTE;
    expectSent((await typeNumber(british(9))).page);
  });

  it('counts numbers, not codes: half of them proved keeps it closed, and proving one number twice counts once', async () => {
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 50 } });
    await typeAndProve(french(1));
    await typeAndProve(french(2));
    await typeAndProve(french(1)); // another account adding the same number
    expectSent((await typeNumber(french(3))).page);
    expectSent((await typeNumber(french(4))).page);
    offset += 30 * MINUTE;
    expectSent((await typeNumber(french(5))).page); // 2 of 4 numbers proved
    offset += 30 * MINUTE;
    await expectRefused((await typeNumber(french(6))).page, french(6)); // 2 of 5
    expect(await audited({ type: 'delivery.breaker_opened', target: 'FR' })).toBe(1);
  });

  it('counts nothing while turned off', async () => {
    const opened = await audited({ type: 'delivery.breaker_opened' });
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 0 } });
    for (const i of [11, 12, 13, 14, 15, 16]) expectSent((await typeNumber(french(i))).page);
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 50 } });
    offset += 30 * MINUTE;
    expectSent((await typeNumber(french(17))).page);
    expect(await audited({ type: 'delivery.breaker_opened' })).toBe(opened);
  });
});
