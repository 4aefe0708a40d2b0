// A flow's pages know what is left of its 15 minutes (views/partials/recovery-deadline.ejs says it before the end,
// and at it; test/browser/recovery.test.ts shows that in a browser): the seconds the page is served with are the
// flow's, counted from its start, not 15 minutes from each page. "I need more time" gives 15 minutes from then, ten
// times at most (WCAG 2.2.1).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, textedCode } from '../helpers/recovery.ts';
import { createFlowStore, FLOWS, STEPS, type FlowDoc } from '../../src/flows/recovery/store.ts';

let server: TestServer;
/** Added to the server's clock. */
let aheadMs = 0;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER }, { clock: () => Date.now() + aheadMs });
});
afterAll(() => server.close());

/** The seconds of its flow's life a page was served with, or undefined when it watches none. */
const secondsLeft = (page: Page) => {
  const match = /id="flow-ending"[^>]*data-seconds="(\d+)"/.exec(page.body);
  return match ? Number(match[1]) : undefined;
};

it("serves each of a flow's pages with what is left of the flow's 15 minutes", async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { authenticator: true });
  const browser = new Browser();
  const goal = await identify(server, browser, user.username);
  expect(secondsLeft(goal)).toBeGreaterThanOrEqual(895);
  expect(secondsLeft(goal)).toBeLessThanOrEqual(900);

  aheadMs = 6 * 60_000;
  const verify = await chooseGoal(browser, goal, 'reset');
  expect(secondsLeft(verify)).toBeGreaterThanOrEqual(535);
  expect(secondsLeft(verify)).toBeLessThanOrEqual(540);
  // The "Start again" it offers at the end is the first page's; the notice comes two minutes before the end.
  expect(verify.body).toMatch(/id="flow-ended"[^>]*hidden><span><\/span>\s*<a href="\/recover">/);
  expect(verify.body).toMatch(/id="flow-ending" data-text="This recovery ends in less than 2 minutes\.[^"]*" data-seconds="\d+" data-notice-seconds="120"/);
  aheadMs = 0;
});

const MINUTE = 60_000;
const flowIdOf = (page: Page) => /\/recover\/([\w-]+)/.exec(new URL(page.url).pathname)![1]!;
const storedFlow = async (id: string) => (await server.connection.db!.collection<FlowDoc>(FLOWS).findOne({ _id: id }))!;
const hasMoreTime = (page: Page) => page.body.includes('id="more-time"');

/** "I need more time" on `page`, as its script asks (JSON), or as the form is posted without one. */
async function askMoreTime(browser: Browser, page: Page, asScript = true) {
  const form = findForm(page, '/more-time');
  const answer = await browser.post(form.action, form.fields, asScript ? { accept: 'application/json' } : {});
  return { answer, body: asScript && answer.status === 200 ? (JSON.parse(answer.body) as { seconds: number; given: boolean; more: boolean }) : undefined };
}

it('gives 15 minutes from then, which a later step keeps, ten times at most; without a script, the page again', async () => {
  const user = await createUser(server);
  await registerMethods(server, user, { authenticator: true });
  const browser = new Browser();
  aheadMs = 0;
  const goal = await identify(server, browser, user.username);
  const id = flowIdOf(goal);
  expect(hasMoreTime(goal)).toBe(true);

  aheadMs = 14 * MINUTE;
  const first = await askMoreTime(browser, goal);
  expect(first.answer.status).toBe(200);
  expect(first.answer.headers.get('cache-control')).toContain('no-store');
  expect(first.body!.seconds).toBeGreaterThanOrEqual(895);
  expect(first.body!.seconds).toBeLessThanOrEqual(900);
  expect(first.body!.more).toBe(true);
  expect(first.body!.given).toBe(true);
  const extended = await storedFlow(id);
  expect(extended.extensions).toBe(1);
  const end = extended.expiresAt.getTime();
  expect(end).toBeGreaterThanOrEqual(Date.now() + 28 * MINUTE);

  // Past the first 15 minutes, the flow goes on; the step writes its state and leaves the end as it was.
  aheadMs = 20 * MINUTE;
  const verify = await chooseGoal(browser, goal, 'reset');
  expect(verify.status).toBe(200);
  expect(secondsLeft(verify)).toBeGreaterThanOrEqual(535);
  expect(secondsLeft(verify)).toBeLessThanOrEqual(540);
  expect((await storedFlow(id)).expiresAt.getTime()).toBe(end);
  expect((await storedFlow(id)).state).toBe('verify');

  // Without a script: the form's post, and its page again.
  const posted = await askMoreTime(browser, verify, false);
  expect(posted.answer.status).toBe(303);
  expect(new URL(posted.answer.headers.get('location')!, posted.answer.url).pathname).toBe(`/recover/${id}`);
  expect((await storedFlow(id)).extensions).toBe(2);

  for (let taken = 3; taken <= 10; taken += 1) {
    const asked = await askMoreTime(browser, verify);
    expect(asked.body!.more).toBe(taken < 10);
  }
  const last = await storedFlow(id);
  expect(last.extensions).toBe(10);
  const page = await browser.get(`${server.origin}/recover/${id}`);
  expect(page.status).toBe(200);
  expect(hasMoreTime(page)).toBe(false);
  // An eleventh, from a page that still offered it: nothing more.
  aheadMs += MINUTE;
  const refused = await askMoreTime(browser, verify);
  expect(refused.body).toMatchObject({ given: false, more: false });
  expect((await storedFlow(id)).expiresAt.getTime()).toBe(last.expiresAt.getTime());
  aheadMs = 0;
});

it('is a form like any other (its CSRF token), and the same for an identifier with no account', async () => {
  aheadMs = 0;
  const browser = new Browser();
  const goal = await identify(server, browser, 'nobody-by-this-name@example.org');
  const id = flowIdOf(goal);
  const before = await storedFlow(id);
  const form = findForm(goal, '/more-time');
  const forged = await browser.post(form.action, { ...form.fields, csrf: 'forged' }, { accept: 'application/json' });
  expect(forged.status).toBe(403);
  expect((await storedFlow(id)).expiresAt).toEqual(before.expiresAt);

  aheadMs = 10 * MINUTE;
  const asked = await askMoreTime(browser, goal);
  expect(asked.body!.seconds).toBeGreaterThanOrEqual(895);
  expect(asked.body!.more).toBe(true);
  expect((await storedFlow(id)).extensions).toBe(1);
  // Another browser's post opens nothing.
  const other = await new Browser().post(form.action, form.fields, { accept: 'application/json' });
  expect(other.status).toBe(410);
  expect((await storedFlow(id)).extensions).toBe(1);
  aheadMs = 0;
});

it('gives one extension for a double click, and none once the flow was cancelled', async () => {
  aheadMs = 0;
  const browser = new Browser();
  const goal = await identify(server, browser, 'double-click@example.org');
  const id = flowIdOf(goal);
  const answers = await Promise.all([askMoreTime(browser, goal), askMoreTime(browser, goal)]);
  expect(answers.map(({ body }) => body!.given).sort()).toEqual([false, true]);
  expect((await storedFlow(id)).extensions).toBe(1);

  // Cancel (a button of the page's form, posting to /cancel).
  const form = findForm(goal, '/goal');
  expect((await browser.post(form.action.replace(/\/goal$/, '/cancel'), { csrf: form.fields.csrf! })).status).toBe(200);
  const after = await askMoreTime(browser, goal);
  expect(after.answer.status).toBe(410);
  expect(await server.connection.db!.collection<FlowDoc>(FLOWS).findOne({ _id: id })).toBeNull();
});

it('keeps a code texted near the old end working once the flow is given more time, without another send', async () => {
  aheadMs = 0;
  const user = await createUser(server);
  const phone = '+14155553901';
  await registerMethods(server, user, { mobilePhone: phone });
  const browser = new Browser();
  const panel = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
  aheadMs = 13.5 * MINUTE; // a minute and a half left, fewer than a code's 10
  const codePage = await sendCode(browser, panel, { phone });
  const code = await textedCode(server, phone);
  expect((await askMoreTime(browser, codePage)).body!.given).toBe(true);

  aheadMs = 17 * MINUTE; // past the old end, within the code's own 10 minutes
  const next = await enterCode(browser, codePage, code);
  expect(messageIds(next)).toContain('recover.password_heading');
  expect((await outbox(server)).filter((m) => m.to === phone)).toHaveLength(1);
  aheadMs = 0;
});

describe('the store', () => {
  const store = () => createFlowStore(server.connection, () => Date.now() + aheadMs);
  const newFlow = async () => (await store().create({ subjectKey: 'store-test', required: 1 })).flow;

  it('keeps an extension when a step read before it writes the next state', async () => {
    aheadMs = 0;
    const stale = await newFlow();
    aheadMs = 14 * MINUTE;
    const extended = await store().extend(stale);
    expect(extended?.extensions).toBe(1);
    const moved = await store().advance(stale, { kind: 'choose_goal', goal: 'reset' }, { goal: 'reset' });
    expect(moved?.state).toBe('verify');
    const stored = await storedFlow(stale._id);
    expect(stored).toMatchObject({ state: 'verify', goal: 'reset', seq: 1, extensions: 1 });
    expect(stored.expiresAt).toEqual(extended!.expiresAt);
    aheadMs = 0;
  });

  it('keeps it when a step recorded before it is completed by a later read (settle)', async () => {
    aheadMs = 0;
    const { flow, secret } = await store().create({ subjectKey: 'store-test', required: 1 });
    // The step's claim, written ahead with the state it leads to, whose own write never came.
    const next = { ...flow, state: 'verify' as const, goal: 'reset' as const, seq: 1 };
    await server.connection.db!.collection(STEPS).insertOne({ _id: `${flow._id}:0` as never, claimedAt: new Date(), next, expiresAt: new Date(Date.now() + 60 * MINUTE) });
    aheadMs = 14 * MINUTE;
    const extended = await store().extend(flow);
    aheadMs = 20 * MINUTE;
    const loaded = await store().load(flow._id, secret);
    expect(loaded).toMatchObject({ state: 'verify', seq: 1, extensions: 1 });
    expect(loaded!.expiresAt).toEqual(extended!.expiresAt);
    expect((await storedFlow(flow._id)).expiresAt).toEqual(extended!.expiresAt);
    aheadMs = 0;
  });

  it('writes an extension whose request died between its claim and its write, once that request is surely gone', async () => {
    aheadMs = 0;
    const flow = await newFlow();
    aheadMs = 14 * MINUTE;
    // The first extension's claim, whose write never came.
    await server.connection.db!.collection(STEPS).insertOne({ _id: `${flow._id}:extension:1` as never, claimedAt: new Date(Date.now() + aheadMs), expiresAt: new Date(Date.now() + 200 * MINUTE) });
    expect(await store().extend(flow)).toBeUndefined(); // for all this request knows, the other one is writing it
    expect((await storedFlow(flow._id)).extensions).toBeUndefined();
    aheadMs += 31_000;
    const extended = await store().extend(flow);
    expect(extended?.extensions).toBe(1);
    const stored = await storedFlow(flow._id);
    expect(stored.extensions).toBe(1);
    expect(stored.expiresAt.getTime()).toBeGreaterThanOrEqual(Date.now() + aheadMs + 14 * MINUTE);
    // Written, the count is the flow's: the same claim found again, however old, gives nothing more.
    aheadMs += 60_000;
    expect(await store().extend(flow)).toBeUndefined();
    expect((await store().extend(extended!))?.extensions).toBe(2);
    aheadMs = 0;
  });

  it('gives no more time to a finished flow, nor to one that ended after it was read', async () => {
    aheadMs = 0;
    const flow = await newFlow();
    expect(await store().extend({ ...flow, state: 'done' })).toBeUndefined();
    expect((await storedFlow(flow._id)).extensions).toBeUndefined();
    expect(await store().end(flow)).toBe(true); // cancelled in another tab
    expect(await store().extend(flow)).toBeUndefined();
    expect(await server.connection.db!.collection<FlowDoc>(FLOWS).findOne({ _id: flow._id })).toBeNull();
  });
});
