// SMS pumping (security checklist PUMP-LIMITS, PUMP-ANOMALY): fraud that types runs of premium numbers for codes it
// never proves. Past the per-number, per-account, per-address and installation budgets, two more layers refuse codes
// before any provider sees them: the numbers of one block of 100 share an hourly budget (codes to +…3001, +…3002, …
// are refused from the eleventh number on), and the breaker stops codes to numbers typed in for a country once too
// few of that country's codes this hour were proved. Both are walked at "Your security info", where numbers are typed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { messageIds, type Browser, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { formNamed, openSecurityInfoPage, postForm } from '../helpers/account-pages.ts';
import { outbox, textedCode } from '../helpers/recovery.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { OUTBOX_COLLECTION } from '../../src/delivery/outbox.ts';

const HOUR = 3600_000;
let server: TestServer;
let offset = 0;

beforeAll(async () => {
  server = await startTestServer({}, { clock: () => Date.now() + offset });
});
afterAll(() => server.close());
beforeEach(() => {
  // Each test in hours of its own: the counts are hourly.
  offset += 10 * HOUR;
});

/** The policy for one test: the budgets of one sender and one account opened wide (every request is 127.0.0.1). */
const policy = (overrides: Record<string, unknown> = {}) => server.latchkey.policy.save({ ...overrides, limits: { perIpHour: 1000, perAccountHour: 1000 } });

/** A fresh account (none registered) types `number` as its mobile phone: the page the code's send leads to. */
async function typeNumber(number: string): Promise<{ browser: Browser; page: Page; userId: string }> {
  const user = await createUser(server);
  const { browser, page } = await openSecurityInfoPage(server, user);
  const typing = await postForm(browser, formNamed(page, 'add', 'mobilePhone'));
  return { browser, page: await postForm(browser, formNamed(typing, 'add', 'mobilePhone'), { value: number }), userId: user._id };
}

/** Types `number` and proves it with the code texted to it. */
async function typeAndProve(number: string): Promise<void> {
  const { browser, page } = await typeNumber(number);
  const saved = await postForm(browser, formNamed(page, 'verify'), { code: await textedCode(server, number) });
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

describe('codes to neighbouring numbers', () => {
  it('texts ten numbers of one block of 100 in an hour, refuses the rest of +…3001 to +…3020 before any provider, and still texts the next block', async () => {
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
});

describe('the SMS pumping breaker', () => {
  it("opens for a country once too few of its codes are proved: told once, refusing that country's typed numbers until the end of the next hour, never another country's", async () => {
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 50 } });
    // Numbers of different blocks, so that only the breaker can refuse them.
    const british = (i: number) => `+44791112${i}001`;
    for (const i of [1, 2, 3]) expectSent((await typeNumber(british(i))).page);
    const opening = await typeNumber(british(4));
    await expectRefused(opening.page, british(4));
    expect(await audited({ type: 'delivery.breaker_opened', reason: 'pumping_suspected', target: '+44' })).toBe(1);
    expect(await audited({ accountId: opening.userId, type: 'code.refused', reason: 'pumping_suspected' })).toBe(1);
    const logged = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.event === 'pumping.breaker_opened');
    expect(logged).toEqual([expect.objectContaining({ level: 50, country: '44', sent: 4, proved: 0 })]);
    expect(JSON.stringify(logged)).not.toMatch(/7911/);

    // Open: refused, and not told again; another country's codes go.
    await expectRefused((await typeNumber(british(5))).page, british(5));
    expect(await audited({ type: 'delivery.breaker_opened' })).toBe(1);
    expectSent((await typeNumber('+14155554001')).page);
    // Still open in the next hour; closed in the one after, with a new count.
    offset += HOUR;
    await expectRefused((await typeNumber(british(6))).page, british(6));
    offset += HOUR;
    expectSent((await typeNumber(british(7))).page);
  });

  it('lets codes go while enough of them are proved, and counts nothing when turned off', async () => {
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 50 } });
    const french = (i: number) => `+3361234${i}601`;
    await typeAndProve(french(1));
    await typeAndProve(french(2));
    expectSent((await typeNumber(french(3))).page);
    expectSent((await typeNumber(french(4))).page); // 2 of 4 proved: half
    await expectRefused((await typeNumber(french(5))).page, french(5)); // 2 of 5

    offset += 10 * HOUR;
    await policy({ pumpingBreaker: { minSends: 4, minProvedPercent: 0 } });
    for (const i of [1, 2, 3, 4, 5, 6]) expectSent((await typeNumber(french(i))).page);
    expect(await audited({ type: 'delivery.breaker_opened', target: '+33' })).toBe(1);
  });
});
