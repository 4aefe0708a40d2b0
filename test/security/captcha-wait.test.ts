// The way past a CAPTCHA without reading or hearing it (WCAG 2.2 SC 3.3.8, security/captcha-gate.ts): the field left
// empty passes once the CAPTCHA's page has been open the policy's wait (30 s), once per CAPTCHA, and at most
// `captcha.waitsPerIpHour` times an hour per address; pressing too early keeps the page's CAPTCHA (its wait goes on)
// and costs nothing. Both pages that ask for a CAPTCHA are walked: the recovery's first page and the sign-in page of
// an address past its failed sign-ins. The server's clock is moved, not waited for.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, submit } from '../helpers/recovery.ts';
import { FLOWS } from '../../src/flows/recovery/store.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let user: User;
let rp: ClientMetadata;
let config: client.Configuration;
/** How far the server's clock is ahead of the real one. */
let ahead = 0;
const wait = (seconds: number) => {
  ahead += seconds * 1000;
};

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, TRUST_PROXY: 'true' }, { clock: () => Date.now() + ahead });
  user = await createUser(server);
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

/** A browser whose requests come through the proxy from this address. */
const from = (address: string) => new Browser({ publicOrigin: server.origin, serverOrigin: server.origin, headers: { 'x-forwarded-for': address } });
const flowCount = () => server.connection.db!.collection(FLOWS).countDocuments();
const captchaOf = (page: Page, actionPart: string) => findForm(page, actionPart).fields.captchaId;
const waitNote = (page: Page) => /id="captcha-wait"[^>]*>(.*?)<\/p>/s.exec(page.body)?.[1]?.replace(/<[^>]*>/g, '');

/** The seconds of its CAPTCHA's life a page was served with (views/partials/captcha.ejs watches them). */
const lifeLeft = (page: Page) => Number(/id="captcha-expired"[^>]*data-life-seconds="(\d+)"/.exec(page.body)?.[1]);

describe('the recovery’s first page', () => {
  beforeEach(() => server.latchkey.policy.save({}));

  const start = (browser: Browser) => browser.get(`${server.origin}/recover`);
  const next = (browser: Browser, page: Page, captcha = '') => submit(browser, page, '/recover', { identifier: user.username, captcha, action: 'next' });

  it('says how long the wait is, keeps the CAPTCHA when it is left empty too early, and lets it through once the wait is over', async () => {
    const browser = from('192.0.2.10');
    const page = await start(browser);
    expect(messageIds(page)).toContain('captcha.wait_note');
    expect(waitNote(page)).toBe('Can’t enter them? Leave this field empty: you can go on without them in 30 seconds.');
    const flowsBefore = await flowCount();

    wait(10);
    const early = await next(browser, page);
    expect(early.status).toBe(200);
    expect(messageIds(early)).toContain('recover.captcha_wait_early');
    // 20, less the real time since the page was served; the time in an element of its own, which counts down.
    expect(early.body).toMatch(/or wait <span class="captcha-wait-left">(19|20) seconds<\/span> and select Next again\./);
    expect(captchaOf(early, '/recover')).toBe(captchaOf(page, '/recover')); // the same CAPTCHA: its wait goes on
    // And its life goes on too: the page watches what is left of its 10 minutes, not 10 minutes more.
    expect(lifeLeft(page)).toBeGreaterThanOrEqual(599);
    expect(lifeLeft(early)).toBeGreaterThanOrEqual(589);
    expect(lifeLeft(early)).toBeLessThanOrEqual(590);
    expect(findForm(early, '/recover').fields.identifier).toBe(user.username);
    expect(await flowCount()).toBe(flowsBefore);

    wait(20);
    const goal = await next(browser, early);
    expect(messageIds(goal)).toContain('recover.goal_heading');
    expect(await flowCount()).toBe(flowsBefore + 1);

    // Used up, as an answer would be: the same CAPTCHA left empty again (the page sent twice) starts a new wait, and
    // the page says why.
    const replayed = await next(browser, early);
    expect(messageIds(replayed)).toContain('recover.captcha_stale');
    expect(messageIds(replayed)).not.toContain('recover.captcha_wait_early');
    expect(captchaOf(replayed, '/recover')).not.toBe(captchaOf(page, '/recover'));
    expect(waitNote(replayed)).toContain('in 30 seconds');
    expect(await flowCount()).toBe(flowsBefore + 1);
  });

  it('lets an address through by waiting only `captcha.waitsPerIpHour` times an hour; the CAPTCHA still takes its answer', async () => {
    await server.latchkey.policy.save({ captcha: { waitSeconds: 5, waitsPerIpHour: 2 } });
    const opened = await Promise.all([0, 1, 2].map(async () => {
      const browser = from('192.0.2.20');
      return { browser, page: await start(browser) };
    }));
    const other = from('192.0.2.21');
    const otherPage = await start(other);
    expect(waitNote(otherPage)).toContain('in 5 seconds');
    // Too early first, all of them: that costs the address nothing.
    for (const { browser, page } of opened) expect(messageIds(await next(browser, page))).toContain('recover.captcha_wait_early');
    wait(5);
    // Sent at once: whichever two are counted first go on.
    const answers = await Promise.all(opened.map(({ browser, page }) => next(browser, page)));
    expect(answers.filter((answer) => messageIds(answer).includes('recover.goal_heading'))).toHaveLength(2);
    const refused = answers.findIndex((answer) => messageIds(answer).includes('recover.captcha_wait_used_up'));
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(captchaOf(answers[refused]!, '/recover')).toBe(captchaOf(opened[refused]!.page, '/recover'));
    // Its CAPTCHA was not used up: its answer goes through.
    expect(messageIds(await next(opened[refused]!.browser, answers[refused]!, CAPTCHA_ANSWER))).toContain('recover.goal_heading');
    // Another address has its own waits.
    expect(messageIds(await next(other, otherPage))).toContain('recover.goal_heading');
  });

  it('says a CAPTCHA expired (10 minutes) rather than wrong or early, keeps the identifier, and shows a new one', async () => {
    for (const typed of [CAPTCHA_ANSWER, '']) {
      const browser = from('192.0.2.31');
      const page = await start(browser);
      const flowsBefore = await flowCount();
      wait(10 * 60 + 1);
      const stale = await next(browser, page, typed);
      expect(stale.status).toBe(200);
      expect(messageIds(stale)).toContain('recover.captcha_stale');
      expect(messageIds(stale)).not.toEqual(expect.arrayContaining([expect.stringMatching(/^recover\.captcha_(wrong|wait_early)$/)]));
      expect(captchaOf(stale, '/recover')).not.toBe(captchaOf(page, '/recover'));
      expect(findForm(stale, '/recover').fields.identifier).toBe(user.username);
      expect(await flowCount()).toBe(flowsBefore);
      expect(messageIds(await next(browser, stale, CAPTCHA_ANSWER))).toContain('recover.goal_heading'); // the new one works
    }
  });

  it('takes a wrong answer as a wrong answer, not as a wait, whatever the time', async () => {
    const browser = from('192.0.2.30');
    const page = await start(browser);
    wait(31);
    const wrong = await next(browser, page, 'WRONG1');
    expect(messageIds(wrong)).toContain('recover.captcha_wrong');
    expect(captchaOf(wrong, '/recover')).not.toBe(captchaOf(page, '/recover'));
  });
});

describe('the sign-in page of an address past its failed sign-ins', () => {
  const ATTACKER = '192.0.2.50';
  beforeAll(async () => {
    // An address's count of failed sign-ins lasts until its hour's window ends: this part starts just after one
    // begins, so that its waits (two minutes in all) stay within it whatever the time of day (it failed once when the
    // suite ran across the hour).
    ahead += 3600_000 - ((Date.now() + ahead) % 3600_000) + 60_000;
    await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 1 } });
    const browser = from(ATTACKER);
    const page = await openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!)).url);
    await browser.post(findForm(page, '/login').action, { ...findForm(page, '/login').fields, login: 'nobody@example.test', password: 'not the password at all' });
  });

  const signInPage = async (browser: Browser) => openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!)).url);
  const post = async (browser: Browser, page: Page, fields: Record<string, string>) => {
    const posted = await browser.post(findForm(page, '/login').action, { ...findForm(page, '/login').fields, ...fields });
    return { posted, next: await backToSignIn(browser, posted) };
  };
  const signedIn = (posted: Page) => posted.status === 303 && (posted.headers.get('location') ?? '').includes('/oidc/auth/');

  it('keeps the CAPTCHA and checks no password when it is left empty too early, and signs in once the wait is over', async () => {
    const browser = from(ATTACKER);
    const page = await signInPage(browser);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['login.captcha_intro', 'captcha.wait_note']));

    wait(12);
    const { posted, next: early } = await post(browser, page, { login: user.username, password: PASSWORD });
    expect(signedIn(posted)).toBe(false);
    expect(messageIds(early)).toContain('login.captcha_wait_early');
    expect(early.body).toMatch(/or wait (17|18) seconds and leave them empty\./); // 18, less the real time since the page was served
    expect(captchaOf(early, '/login')).toBe(captchaOf(page, '/login'));
    expect(findForm(early, '/login').fields.login).toBe(user.username);
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 0 });

    wait(18);
    const { posted: done } = await post(browser, early, { login: user.username, password: PASSWORD });
    expect(signedIn(done)).toBe(true);
  });

  it('asks for the password again first after a refusal of its CAPTCHA, and keeps the picture when only the password was missing', async () => {
    const browser = from(ATTACKER);
    const page = await signInPage(browser);
    const { next: wrong } = await post(browser, page, { login: user.username, password: PASSWORD, captcha: 'WRONG1' });
    expect(messageIds(wrong)).toContain('login.captcha_wrong');
    // The password was not checked and its field is empty: the focus goes there, described by the error.
    const passwordField = /<input id="password"[^>]*>/.exec(wrong.body)![0];
    expect(passwordField).toContain('autofocus');
    expect(passwordField).toContain('aria-describedby="captcha-error"');
    expect(/<input id="captcha"[^>]*>/.exec(wrong.body)![0]).not.toContain('autofocus');
    // The characters typed without the password: the same picture again, not a new one.
    const { next: missing } = await post(browser, wrong, { login: user.username, password: '', captcha: CAPTCHA_ANSWER });
    expect(messageIds(missing)).toContain('login.missing');
    expect(captchaOf(missing, '/login')).toBe(captchaOf(wrong, '/login'));
    const { posted } = await post(browser, missing, { login: user.username, password: PASSWORD, captcha: CAPTCHA_ANSWER });
    expect(signedIn(posted)).toBe(true);
  });

  it('says its CAPTCHA expired, checking no password, and the new one lets the right answer through', async () => {
    const browser = from(ATTACKER);
    const page = await signInPage(browser);
    wait(10 * 60 + 1);
    const { posted, next: stale } = await post(browser, page, { login: user.username, password: PASSWORD, captcha: CAPTCHA_ANSWER });
    expect(signedIn(posted)).toBe(false);
    expect(messageIds(stale)).toContain('login.captcha_stale');
    expect(messageIds(stale)).not.toContain('login.captcha_wrong');
    expect(captchaOf(stale, '/login')).not.toBe(captchaOf(page, '/login'));
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 0 });
    const { posted: done } = await post(browser, stale, { login: user.username, password: PASSWORD, captcha: CAPTCHA_ANSWER });
    expect(signedIn(done)).toBe(true);
  });

  it('counts a wrong password after the wait as any wrong password, and shows a new CAPTCHA', async () => {
    const browser = from(ATTACKER);
    const page = await signInPage(browser);
    wait(30);
    const { posted, next } = await post(browser, page, { login: user.username, password: 'not the password at all' });
    expect(signedIn(posted)).toBe(false);
    expect(messageIds(next)).toContain('login.invalid');
    expect(captchaOf(next, '/login')).not.toBe(captchaOf(page, '/login'));
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 1 });
  });
});
