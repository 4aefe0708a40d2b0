// "Can't access your account?" in a real browser (headless Debian chromium driven by playwright-core), under our
// real Content Security Policy: a person locks the account with wrong passwords on the sign-in page the demo relying
// party sent them to, recovers it (reset with two proofs, email then text message; or unlock with one), follows
// "Sign in" back to the same sign-in, and lands signed in at the application. Every recovery page on the way, with
// and without an error shown, carries the operator's brand and must pass axe-core's WCAG 2.2 AA rules at desktop
// and phone width; screenshots go to test-artifacts/browser/recovery-*-{desktop,phone}.png for a human to look at. The audio CAPTCHA must be a playable file.
// The authenticator app that approves a notification is the reference one (scripts/authenticator.ts).
//
// Codes are read where a developer reads them: the development outbox (no SMTP_URL, so email lands there too).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { BRAND, cspViolations, launchChromium, PageChecks } from '../helpers/chromium.ts';
import { startTestRp, type TestRp } from '../helpers/demo-rp.ts';
import { createUser, PASSWORD } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, outbox, registerMethods, textedCode, waitFor } from '../helpers/recovery.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { answer, enrol, pending } from '../../scripts/authenticator.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { FLOWS, type FlowDoc } from '../../src/flows/recovery/store.ts';

const NEW_PASSWORD = 'a brand new passphrase for latchkey';
const LOCKOUT_THRESHOLD = 3;
// Two shared cores: pages, argon2 hashing and axe runs can be slow.
const STEP_MS = 30_000;
const TEST_MS = 300_000;

interface Person {
  user: User;
  alternateEmail: string;
  mobilePhone: string;
  /** The mobile number as a person types it. */
  typedPhone: string;
}

let server: TestServer;
let rp: TestRp | undefined;
let rpOrigin: string;
let browser: Browser;
let ada: Person;
let grace: Person;

async function person(name: string, lastDigits: string): Promise<Person> {
  const user = await createUser(server, { name });
  const alternateEmail = `alt-${user.username}@example.net`;
  const mobilePhone = `+1415555${lastDigits}`;
  await registerMethods(server, user, { alternateEmail, mobilePhone });
  return { user, alternateEmail, mobilePhone, typedPhone: `+1 415 555 ${lastDigits}` };
}

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, ...BRAND });
  expect(server.config.delivery.emailToOutbox).toBe(true);
  // Three wrong passwords lock; an hour long, so only the recovery can be what lets the person back in.
  await server.latchkey.policy.save({ lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
  ada = await person('Ada Lovelace', '0142');
  grace = await person('Grace Hopper', '0177');
  rp = await startTestRp(server);
  rpOrigin = rp.origin;
  browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await server?.close();
});

// ---- helpers ---------------------------------------------------------------------------------------------------

/** A fresh browser profile (no device cookie, no session) with our CSP in force; CSP reports are collected. */
async function openBrowser(): Promise<{ context: BrowserContext; page: Page; cspErrors: string[] }> {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1024, height: 768 } });
  context.setDefaultTimeout(STEP_MS);
  context.setDefaultNavigationTimeout(STEP_MS);
  const page = await context.newPage();
  const cspErrors = cspViolations(page);
  return { context, page, cspErrors };
}

/** "Who are you?" in a new browser whose page clock the test moves on (the server's time is its own). */
async function openFirstPageWithClock(): Promise<{ context: BrowserContext; page: Page; cspErrors: string[] }> {
  const opened = await openBrowser();
  await opened.page.clock.install();
  await opened.page.goto(`${server.origin}/recover`);
  return opened;
}

/** Every recovery page, at desktop and phone width, with the operator's brand (helpers/chromium.ts). */
const pages = new PageChecks({ prefix: 'recovery-', brand: BRAND });
const { problems, checked } = pages;
const checkPage = (page: Page, name: string) => pages.check(page, name);

const issuerOrigin = () => new URL(server.issuer).origin;
const messageShown = (page: Page, id: string) => page.locator(`[data-message-id="${id}"]`).first().waitFor();

/** The panel of the chosen method (a region named after it) on the verification page. */
const panel = (page: Page, method: 'Email my alternate email' | 'Text my mobile phone') => page.getByRole('region', { name: method });

/** The demo app's home → "Sign in" → our sign-in page; returns the interaction's URL. */
async function startAtTheApp(page: Page): Promise<string> {
  await page.goto(`${rpOrigin}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL(`${issuerOrigin()}/interaction/**`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByText('to continue to Demo App').waitFor();
  return page.url();
}

/** Submits the sign-in form; a refusal answers with the same page and "Incorrect email, username or password.". */
async function signIn(page: Page, login: string, password: string): Promise<void> {
  await page.getByLabel('Email or username', { exact: true }).fill(login);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function expectRefused(page: Page, signInUrl: string): Promise<void> {
  await page.getByRole('alert').filter({ hasText: 'Incorrect email, username or password.' }).waitFor();
  expect(page.url().startsWith(signInUrl)).toBe(true);
}

/** Three different wrong passwords (a repeated one counts once), then the right one is refused too: locked. */
async function lockAccount(page: Page, person: Person, signInUrl: string): Promise<void> {
  for (let i = 1; i <= LOCKOUT_THRESHOLD; i += 1) {
    await signIn(page, person.user.email, `wrong password number ${i}`);
    await expectRefused(page, signInUrl);
  }
  await signIn(page, person.user.email, PASSWORD);
  await expectRefused(page, signInUrl);
  expect(await server.latchkey.accounts.isLocked(person.user._id)).toBe(true);
}

/** Signed in at the app's sign-in page: consent (a first visit) → back at the app as this person. */
async function consentAndLandAtTheApp(page: Page, person: Person): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Allow Demo App to access your account?' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rpOrigin}/`).catch(async (error: unknown) => {
    // Where the browser got stuck, for a failure that cannot be reproduced at will.
    const text = await page.locator('body').innerText({ timeout: 2000 }).catch(() => '(no page text)');
    throw new Error(`not back at the app after consent: at ${page.url()}, showing: ${text.slice(0, 400)}`, { cause: error });
  });
  await page.getByText(`Signed in as ${person.user.name} (${person.user.email})`).waitFor();
  await page.getByRole('row', { name: `sub ${person.user._id}` }).waitFor();
}

/** Verification-code emails to `to` in the development outbox, newest first. */
async function codeEmails(to: string) {
  return (await outbox(server)).filter((m) => m.channel === 'email' && m.to === to && m.subject === 'Your verification code');
}

/** The code of the email that arrives after `before` code emails to `to` (delivery is queued, so wait for it). */
async function emailedCode(to: string, before: number): Promise<string> {
  return waitFor(
    async () => {
      const mails = await codeEmails(to);
      return mails.length > before ? /\b(\d{6})\b/.exec(mails[0]!.text)?.[1] : undefined;
    },
    `a code email to ${to}`,
    STEP_MS,
  );
}

const smsCount = async (to: string) => (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === to).length;

/** "Can't access your account?" from the sign-in page → Who are you? (identifier and CAPTCHA) → the goal page. */
async function identify(page: Page, person: Person, screenshots?: { page: string; error: string }): Promise<void> {
  await page.getByRole('link', { name: "Can't access your account?" }).click();
  await page.waitForURL(`${issuerOrigin()}/recover?from=**`);
  await page.getByRole('heading', { level: 1, name: 'Get back into your account' }).waitFor();
  await page.getByRole('heading', { level: 2, name: 'Who are you?' }).waitFor();
  await page.getByRole('img', { name: 'Picture of the characters to enter' }).waitFor();
  if (screenshots) await checkPage(page, screenshots.page);
  const answer = page.getByLabel('Enter the characters you see in the picture or hear in the audio');
  if (screenshots) {
    // A mistyped CAPTCHA: the same page with a new picture, the identifier kept, the answer field marked invalid.
    await page.getByLabel('Email or Username', { exact: true }).fill(person.user.email);
    await answer.fill('WRONG1');
    await page.getByRole('button', { name: 'Next' }).click();
    await messageShown(page, 'recover.captcha_wrong');
    expect(await page.getByLabel('Email or Username', { exact: true }).inputValue()).toBe(person.user.email);
    expect(await answer.getAttribute('aria-invalid')).toBe('true');
    expect(await answer.inputValue()).toBe('');
    await checkPage(page, screenshots.error);
  }
  await page.getByLabel('Email or Username', { exact: true }).fill(person.user.email);
  await answer.fill(CAPTCHA_ANSWER);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('group', { name: 'Why are you having trouble signing in?' }).waitFor();
}

/** Picks a goal on the goal page → the first verification step. */
async function chooseGoal(page: Page, goal: "I forgot my password" | "I know my password, but still can't sign in"): Promise<void> {
  await page.getByRole('radio', { name: goal }).check();
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('group', { name: 'Please choose the first contact method we should use for verification:' }).waitFor();
}

/** Picks a method on a verification step (the form above any panel) → that method's panel. */
async function chooseMethod(page: Page, method: 'Email my alternate email' | 'Text my mobile phone'): Promise<Locator> {
  await page.getByRole('radio', { name: method }).check();
  await page.getByRole('button', { name: /^(Next|Use this method)$/ }).first().click();
  const region = panel(page, method);
  await region.waitFor();
  return region;
}

/** Types the code into the panel's field and presses the panel's Next. */
async function enterCode(region: Locator, code: string): Promise<void> {
  await region.getByLabel('Enter your verification code').fill(code);
  await region.getByRole('button', { name: 'Next' }).click();
}

/** Texts a code to the typed number (the panel must ask for it) and returns the code from the outbox. */
async function textMe(page: Page, person: Person, region: Locator, screenshot?: string): Promise<string> {
  const before = await smsCount(person.mobilePhone);
  await region.getByLabel('Enter your phone number').fill(person.typedPhone);
  await region.getByRole('button', { name: 'Text', exact: true }).click();
  await messageShown(page, 'recover.code_sent_sms');
  await panel(page, 'Text my mobile phone').getByText(`*****${person.mobilePhone.slice(-2)}`).waitFor();
  if (screenshot) await checkPage(page, screenshot);
  return textedCode(server, person.mobilePhone, before);
}

/** "Can't access your account?" opened directly, to reset a forgotten password, as far as `method`'s panel. */
async function forgotPasswordWith(page: Page, email: string, method: string): Promise<Locator> {
  await page.goto(`${server.origin}/recover`);
  await page.getByLabel('Email or Username', { exact: true }).fill(email);
  await page.getByLabel('Enter the characters you see in the picture or hear in the audio').fill(CAPTCHA_ANSWER);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('group', { name: 'Why are you having trouble signing in?' }).waitFor();
  await chooseGoal(page, 'I forgot my password');
  await page.getByRole('radio', { name: method }).check();
  await page.getByRole('button', { name: 'Next' }).first().click();
  return page.getByRole('region', { name: method });
}

// ---- the walks -------------------------------------------------------------------------------------------------

describe('recovery in a browser', () => {
  it('the audio CAPTCHA on "Who are you?" is a playable file under our CSP', async () => {
    const { context, page, cspErrors } = await openBrowser();
    await page.goto(`${server.origin}/recover`);
    const audio = page.locator('audio#captcha-audio');
    await audio.waitFor({ state: 'attached' });
    // The player is named by the text above it.
    expect(await audio.evaluate((el) => document.getElementById(el.getAttribute('aria-labelledby')!)?.textContent)).toBe('Play the characters as audio');
    const loaded = await audio.evaluate(
      (element) =>
        new Promise<{ readyState: number; duration: number; error: number | null; src: string }>((resolve) => {
          const player = element as HTMLAudioElement;
          const done = () => resolve({ readyState: player.readyState, duration: player.duration, error: player.error?.code ?? null, src: player.currentSrc });
          player.addEventListener('canplay', done, { once: true });
          player.addEventListener('error', done, { once: true });
          player.load(); // preload="none": nothing is fetched until asked
        }),
    );
    expect(loaded.error).toBeNull();
    expect(loaded.readyState).toBeGreaterThanOrEqual(2);
    expect(Number.isFinite(loaded.duration)).toBe(true);
    expect(loaded.duration).toBeGreaterThan(1);
    // And it plays (autoplay allowed by the launch flag): time advances.
    const played = await audio.evaluate(async (element) => {
      const player = element as HTMLAudioElement;
      player.muted = true;
      await player.play();
      const deadline = Date.now() + 15_000;
      while (player.currentTime === 0 && !player.ended && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const at = player.currentTime;
      player.pause();
      return at;
    });
    expect(played).toBeGreaterThan(0);
    expect(cspErrors).toEqual([]);
    await context.close();
  }, TEST_MS);

  it('"Who are you?" without reading or hearing the CAPTCHA: the wait counts down, its end is said once, and the field left empty goes on', async () => {
    const kept = await server.latchkey.policy.current();
    await server.latchkey.policy.save({ lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 }, captcha: { waitSeconds: 12 } }); // long enough for the early click on a loaded machine
    try {
      const { context, page, cspErrors } = await openBrowser();
      await page.goto(`${server.origin}/recover`);
      const note = page.locator('#captcha-wait');
      await page.getByText('Can’t enter them? Leave this field empty: you can go on without them in 12 seconds.').waitFor();
      await page.getByLabel('Email or Username', { exact: true }).fill(ada.user.email);
      // Too early: the same page and the same picture, with what is left of the wait; nothing goes on.
      const picture = await page.locator('input[name="captchaId"]').inputValue();
      await page.getByRole('button', { name: 'Next' }).click();
      await messageShown(page, 'recover.captcha_wait_early');
      expect(await page.locator('input[name="captchaId"]').inputValue()).toBe(picture);
      expect(await page.getByLabel('Email or Username', { exact: true }).inputValue()).toBe(ada.user.email);
      await checkPage(page, 'identify-wait-early');
      // The countdown goes down by itself, and once over the page says so in a status message (read out once).
      await page.getByRole('status').filter({ hasText: 'You can go on without the characters now: leave this field empty.' }).waitFor({ timeout: 30_000 });
      expect(await note.getAttribute('data-message-id')).toBe('captcha.wait_ready');
      // The error that named the wait is no longer true: gone, and the field no longer marked invalid.
      expect(await page.locator('[data-message-id="recover.captcha_wait_early"]').count()).toBe(0);
      expect(await page.locator('#captcha').getAttribute('aria-invalid')).toBeNull();
      await checkPage(page, 'identify-wait-over');
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByRole('group', { name: 'Why are you having trouble signing in?' }).waitFor();
      expect(cspErrors).toEqual([]);
      await context.close();
    } finally {
      await server.latchkey.policy.save({ lockout: kept.lockout });
    }
  }, TEST_MS);

  it('a CAPTCHA that can no longer be used says so: its audio gone, or its life over with the page open', async () => {
    const reported = problems.length;
    const { context, page, cspErrors } = await openFirstPageWithClock();
    const expired = page.getByRole('alert').filter({ hasText: 'These characters can no longer be used: choose “New picture” for new ones.' });
    const captchaId = () => page.locator('input[name="captchaId"]').inputValue();
    await page.locator('#captcha-wait').waitFor();
    expect(await page.locator('#captcha-expired').isHidden()).toBe(true);

    // Used up meanwhile (deleted here, as another tab's post would use it): Play fetches nothing, and the page says
    // why and what to do, where the player used to fail silently. The note about the wait goes with it.
    const first = await captchaId();
    await server.connection.collection<{ _id: string }>('captchas').deleteOne({ _id: first });
    await page.locator('audio#captcha-audio').evaluate((element) => (element as HTMLAudioElement).load());
    await expired.waitFor();
    expect(await page.locator('#captcha-expired').getAttribute('data-message-id')).toBe('captcha.expired');
    expect(await page.locator('#captcha-wait').isHidden()).toBe(true);
    expect(await page.locator('#captcha').getAttribute('aria-describedby')).toBe('captcha-expired captcha-hint');
    await checkPage(page, 'identify-captcha-expired');

    // "New picture": a live CAPTCHA, and no alert.
    await page.getByRole('button', { name: 'New picture' }).click();
    await page.waitForFunction((old) => (document.querySelector('input[name="captchaId"]') as HTMLInputElement | null)?.value !== old, first);
    await page.locator('#captcha-wait').waitFor();
    expect(await page.locator('#captcha-expired').isHidden()).toBe(true);

    // Left open past the CAPTCHA's ten minutes: said when they end, before anyone types into a dead form.
    await page.clock.fastForward('09:50');
    expect(await page.locator('#captcha-expired').isHidden()).toBe(true);
    await page.clock.fastForward('00:15');
    await expired.waitFor();
    expect(cspErrors).toEqual([]);
    expect(problems.slice(reported).join('\n\n')).toBe('');
    await context.close();
  }, TEST_MS);

  it("a flow's page says when its 15 minutes are nearly over, gives more on asking, and says when they are over, with the way to start again", async () => {
    const reported = problems.length;
    const { context, page, cspErrors } = await openFirstPageWithClock();
    await page.getByLabel('Email or Username', { exact: true }).fill(grace.user.email);
    await page.getByLabel('Enter the characters you see in the picture or hear in the audio').fill(CAPTCHA_ANSWER);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('group', { name: 'Why are you having trouble signing in?' }).waitFor();
    const soon = page.getByRole('status').filter({ hasText: 'This recovery ends in less than 2 minutes.' });
    const ended = page.getByRole('alert').filter({ hasText: 'This recovery has ended: nothing entered on this page can be accepted any more.' });
    expect(await page.locator('#flow-ending').isHidden()).toBe(true);
    await page.clock.fastForward('12:50');
    expect(await page.locator('#flow-ending').isHidden()).toBe(true);
    await page.clock.fastForward('00:15');
    await soon.waitFor();
    expect(await page.locator('#flow-ending').isVisible()).toBe(true);
    await checkPage(page, 'goal-ending');
    // "I need more time" (named by the notice): 15 minutes from then, said, and the notice takes the button's focus;
    // the page stays as it is, and warns again before the new end.
    await soon.filter({ hasText: 'If you need longer, choose “I need more time”.' }).waitFor();
    await page.getByRole('button', { name: 'I need more time' }).click();
    await page.getByRole('status').filter({ hasText: 'You have 15 minutes more.' }).waitFor();
    expect(await page.locator('#flow-ending[data-message-id="recover.more_time_given"] p').evaluate((notice) => notice === document.activeElement)).toBe(true);
    const flowId = new URL(page.url()).pathname.split('/')[2]!;
    expect((await server.connection.db!.collection<FlowDoc>(FLOWS).findOne({ _id: flowId }))?.extensions).toBe(1);
    await page.clock.fastForward('02:00');
    expect(await page.locator('#flow-ended').isHidden()).toBe(true);
    await page.clock.fastForward('11:00');
    await soon.waitFor();
    await page.clock.fastForward('02:00');
    await ended.waitFor();
    expect(await page.locator('#flow-ending').isHidden()).toBe(true);
    expect(await page.locator('#flow-ending-said').textContent()).toBe('');
    await checkPage(page, 'goal-ended');
    await ended.getByRole('link', { name: 'Start again' }).click();
    await page.getByLabel('Email or Username', { exact: true }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/recover');
    expect(cspErrors).toEqual([]);
    expect(problems.slice(reported).join('\n\n')).toBe('');
    await context.close();
  }, TEST_MS);

  it("more time asked in one tab is heard by the flow's other tab, which then neither warns nor ends at the old end", async () => {
    const { context, page, cspErrors } = await openFirstPageWithClock();
    await page.getByLabel('Email or Username', { exact: true }).fill(grace.user.email);
    await page.getByLabel('Enter the characters you see in the picture or hear in the audio').fill(CAPTCHA_ANSWER);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('group', { name: 'Why are you having trouble signing in?' }).waitFor();
    // The same flow in a second tab (the clock is the whole context's).
    const other = await context.newPage();
    await other.goto(page.url());
    await page.clock.fastForward('13:05');
    await other.locator('#flow-ending').waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'I need more time' }).click();
    await page.getByRole('status').filter({ hasText: 'You have 15 minutes more.' }).waitFor();
    await other.locator('#flow-ending').waitFor({ state: 'hidden' });
    await page.clock.fastForward('02:00');
    expect(await other.locator('#flow-ended').isHidden()).toBe(true);
    expect(cspErrors).toEqual([]);
    await context.close();
  }, TEST_MS);

  it('reset: locked out at the app sign-in, proves it with email then text message, new password, back to the same sign-in, signed in at the app', async () => {
    const { context, page, cspErrors } = await openBrowser();
    const reported = problems.length;
    const signInUrl = await startAtTheApp(page);
    await lockAccount(page, ada, signInUrl);

    // "Can't access your account?" → Who are you? (with a mistyped CAPTCHA first) → the goal.
    await identify(page, ada, { page: 'identify', error: 'identify-error' });
    await checkPage(page, 'goal');
    await chooseGoal(page, 'I forgot my password');
    expect(await page.getByRole('radio').count()).toBe(2); // email and phone: the registered methods
    await page.getByRole('navigation', { name: 'Progress' }).waitFor();
    await checkPage(page, 'methods');

    // Step 1: the alternate email, shown masked; "Email" sends the code.
    const emailPanel = await chooseMethod(page, 'Email my alternate email');
    await emailPanel.getByText(`(${ada.alternateEmail[0]}*****@e*****.net)`).waitFor();
    await checkPage(page, 'email');
    const emailsBefore = (await codeEmails(ada.alternateEmail)).length;
    await emailPanel.getByRole('button', { name: 'Email', exact: true }).click();
    await messageShown(page, 'recover.code_sent_email');
    await checkPage(page, 'code-email');
    const mailed = await emailedCode(ada.alternateEmail, emailsBefore);

    // A mistyped code: the same page, the error announced and tied to the field.
    const wrong = mailed === '000000' ? '111111' : '000000';
    await enterCode(panel(page, 'Email my alternate email'), wrong);
    await page.getByRole('alert').filter({ hasText: 'That code did not work.' }).waitFor();
    const codeField = panel(page, 'Email my alternate email').getByLabel('Enter your verification code');
    expect(await codeField.getAttribute('aria-invalid')).toBe('true');
    expect(await codeField.getAttribute('aria-describedby')).toBe('form-error code-intro'); // the error, then what to type
    await checkPage(page, 'code-error');
    await enterCode(panel(page, 'Email my alternate email'), mailed);

    // Step 2: the mailbox alone is not enough for an account with a phone; only the phone is offered.
    await page.getByRole('group', { name: 'Please choose the second contact method we should use for verification:' }).waitFor();
    expect(await page.getByRole('radio').count()).toBe(1);
    await page.getByRole('listitem').filter({ hasText: 'verification step 1' }).filter({ hasText: '(done)' }).waitFor();
    await checkPage(page, 'methods-step2');
    const smsPanel = await chooseMethod(page, 'Text my mobile phone');
    await smsPanel.getByText(`complete mobile phone number (*****${ada.mobilePhone.slice(-2)})`).waitFor();
    await checkPage(page, 'phone');

    // A number that is not theirs: refused, nothing sent.
    const textsBefore = await smsCount(ada.mobilePhone);
    await smsPanel.getByLabel('Enter your phone number').fill('+1 415 555 0999');
    await smsPanel.getByRole('button', { name: 'Text', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'This phone number does not match the one we have for your account.' }).waitFor();
    expect(await panel(page, 'Text my mobile phone').getByLabel('Enter your phone number').getAttribute('aria-invalid')).toBe('true');
    await checkPage(page, 'phone-error');
    expect(await smsCount(ada.mobilePhone)).toBe(textsBefore);

    const texted = await textMe(page, ada, panel(page, 'Text my mobile phone'), 'code-sms');
    await enterCode(panel(page, 'Text my mobile phone'), texted);

    // The new password, typed twice (a mismatch first).
    await page.getByRole('heading', { level: 2, name: 'Choose a new password' }).waitFor();
    await checkPage(page, 'password');
    await page.getByLabel('Enter new password').fill(NEW_PASSWORD);
    await page.getByLabel('Confirm new password').fill(`${NEW_PASSWORD}!`);
    // Both can be shown to check them (under the real CSP: the page's script carries its nonce), and hidden again.
    const fieldTypes = () => Promise.all(['Enter new password', 'Confirm new password'].map((label) => page.getByLabel(label).getAttribute('type')));
    expect(await fieldTypes()).toEqual(['password', 'password']);
    await page.getByRole('button', { name: 'Show passwords' }).click();
    expect(await fieldTypes()).toEqual(['text', 'text']);
    await page.getByRole('button', { name: 'Hide passwords' }).click();
    expect(await fieldTypes()).toEqual(['password', 'password']);
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.getByRole('alert').filter({ hasText: 'The two passwords are not the same.' }).waitFor();
    await checkPage(page, 'password-error');
    await page.getByLabel('Enter new password').fill(NEW_PASSWORD);
    await page.getByLabel('Confirm new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Finish' }).click();

    await page.getByRole('heading', { level: 2, name: 'Your password has been reset' }).waitFor();
    await checkPage(page, 'done-reset');

    // "Sign in" returns to the very sign-in the app started, where the new password works.
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(`${issuerOrigin()}/interaction/**`);
    expect(page.url()).toBe(signInUrl);
    await page.getByText('to continue to Demo App').waitFor();
    // With the login typed on "Who are you?" already in its field.
    expect(await page.getByLabel('Email or username', { exact: true }).inputValue()).toBe(ada.user.email);
    await signIn(page, ada.user.email, NEW_PASSWORD);
    await consentAndLandAtTheApp(page, ada);

    expect(cspErrors).toEqual([]);
    await context.close();
    expect(problems.slice(reported).join('\n\n')).toBe('');
  }, TEST_MS);

  it('unlock: locked out at the app sign-in, proves it with a text message, unlocks, signs in with the old password', async () => {
    const { context, page, cspErrors } = await openBrowser();
    const reported = problems.length;
    const signInUrl = await startAtTheApp(page);
    await lockAccount(page, grace, signInUrl);

    await identify(page, grace);
    await chooseGoal(page, "I know my password, but still can't sign in");
    await page.getByRole('listitem').filter({ hasText: 'unlock your account' }).waitFor();
    await checkPage(page, 'unlock-methods');
    const smsPanel = await chooseMethod(page, 'Text my mobile phone');
    await smsPanel.getByText('which can be used to unlock your account').waitFor();
    await checkPage(page, 'unlock-phone');
    const texted = await textMe(page, grace, smsPanel, 'unlock-code-sms');
    await enterCode(panel(page, 'Text my mobile phone'), texted);

    // One strong proof is enough to unlock; the password stays as it is.
    await page.getByRole('heading', { level: 2, name: 'Unlock your account' }).waitFor();
    await checkPage(page, 'unlock');
    await page.getByRole('button', { name: 'Unlock my account' }).click();
    await page.getByRole('heading', { level: 2, name: 'Your account has been unlocked' }).waitFor();
    await checkPage(page, 'done-unlock');
    expect(await server.latchkey.accounts.isLocked(grace.user._id)).toBe(false);

    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL(`${issuerOrigin()}/interaction/**`);
    expect(page.url()).toBe(signInUrl);
    expect(await page.getByLabel('Email or username', { exact: true }).inputValue()).toBe(grace.user.email);
    await signIn(page, grace.user.email, PASSWORD);
    await consentAndLandAtTheApp(page, grace);

    expect(cspErrors).toEqual([]);
    await context.close();
    expect(problems.slice(reported).join('\n\n')).toBe('');
  }, TEST_MS);

  it('call: the page shows the number to press, and moves on by itself once the call is answered', async () => {
    const { context, page, cspErrors } = await openBrowser();
    const reported = problems.length;
    const katherine = await person('Katherine Johnson', '0199');
    await server.latchkey.policy.save({ methodsEnabled: ['email', 'sms', 'call_mobile', 'totp'], lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
    try {
      const callPanel = await forgotPasswordWith(page, katherine.user.email, 'Call my mobile phone');
      await callPanel.getByText(`Call me at *****${katherine.mobilePhone.slice(-2)}`).waitFor();
      await checkPage(page, 'call-phone');
      await callPanel.getByLabel('Enter your phone number').fill(katherine.typedPhone);
      await callPanel.getByRole('button', { name: 'Call', exact: true }).click();
      await messageShown(page, 'recover.call_placed');
      await checkPage(page, 'call');
      const number = await page.locator('#call-number').innerText();
      expect(number).toMatch(/^\d{2}$/);
      const call = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'voice' && m.to === katherine.mobilePhone), 'the call', STEP_MS);
      // The callee presses the number; nobody touches the page, which moves on by itself.
      const answered = await fetch(call.answerUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Digits: number }) });
      expect(answered.status).toBe(200);
      await page.getByRole('heading', { level: 2, name: 'Choose a new password' }).waitFor();
      expect(cspErrors).toEqual([]);
    } finally {
      await server.latchkey.policy.save({ lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
      await context.close();
    }
    expect(problems.slice(reported).join('\n\n')).toBe('');
  }, TEST_MS);

  it('call placed near the end, then more time: the page still moves on by itself when the call is answered after the old end', async () => {
    const { context, page, cspErrors } = await openBrowser();
    await page.clock.install();
    const dorothy = await person('Dorothy Vaughan', '0155');
    await server.latchkey.policy.save({ methodsEnabled: ['email', 'sms', 'call_mobile', 'totp'], lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
    try {
      const callPanel = await forgotPasswordWith(page, dorothy.user.email, 'Call my mobile phone');
      // A minute and a half left of the flow (the server's clock is its own: its end is moved instead).
      const flowId = new URL(page.url()).pathname.split('/')[2]!;
      await server.connection.db!.collection<FlowDoc>(FLOWS).updateOne({ _id: flowId }, { $set: { expiresAt: new Date(Date.now() + 90_000) } });
      await callPanel.getByLabel('Enter your phone number').fill(dorothy.typedPhone);
      await callPanel.getByRole('button', { name: 'Call', exact: true }).click();
      await messageShown(page, 'recover.call_placed');
      const number = await page.locator('#call-number').innerText();
      const call = await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'voice' && m.to === dorothy.mobilePhone), 'the call', STEP_MS);
      await page.getByRole('button', { name: 'I need more time' }).click();
      await page.getByRole('status').filter({ hasText: 'You have 15 minutes more.' }).waitFor();
      // Past the old end, the callee presses the number; nobody touches the page.
      await page.clock.fastForward('01:40');
      const answered = await fetch(call.answerUrl!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ Digits: number }) });
      expect(((await answered.json()) as { result: string }).result).toBe('accepted');
      const heading = page.getByRole('heading', { level: 2, name: 'Choose a new password' });
      for (let tick = 0; tick < 5 && !(await heading.isVisible()); tick += 1) {
        await page.clock.fastForward('00:03');
        await page.waitForTimeout(300);
      }
      await heading.waitFor();
      expect(cspErrors).toEqual([]);
    } finally {
      await server.latchkey.policy.save({ lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
      await context.close();
    }
  }, TEST_MS);

  it('app notification: the page shows the number, and moves on by itself once the enrolled app approves it', async () => {
    const { context, page, cspErrors } = await openBrowser();
    const reported = problems.length;
    const mary = await person('Mary Jackson', '0188');
    const dir = await mkdtemp(join(tmpdir(), 'latchkey-app-'));
    const store = join(dir, 'store.json');
    const link = await runAdmin(server.dbUri, ['users', 'enrol-app', mary.user.username, '--json']);
    await enrol((JSON.parse(link.stdout) as { link: string }).link, 'Mary’s phone', store);
    await server.latchkey.policy.save({ methodsEnabled: ['email', 'sms', 'app_notification', 'totp'], lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
    try {
      const appPanel = await forgotPasswordWith(page, mary.user.email, 'Approve a notification on my authenticator app');
      await appPanel.getByRole('button', { name: 'Send notification' }).waitFor();
      await checkPage(page, 'app-send');
      await appPanel.getByRole('button', { name: 'Send notification' }).click();
      await messageShown(page, 'recover.push_placed');
      await checkPage(page, 'app-waiting');
      const number = await page.locator('#call-number').innerText();
      expect(number).toMatch(/^\d{2}$/);
      // The person approves in the app with the number the page shows; nobody touches the page, which moves on.
      await waitFor(async () => (await pending(store)) ?? undefined, 'the app notification', STEP_MS);
      expect(await answer(store, { approve: number })).toBe('accepted');
      await page.getByRole('heading', { level: 2, name: 'Choose a new password' }).waitFor();
      expect(cspErrors).toEqual([]);
    } finally {
      await server.latchkey.policy.save({ lockout: { threshold: LOCKOUT_THRESHOLD, initialSeconds: 3600 } });
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
    expect(problems.slice(reported).join('\n\n')).toBe('');
  }, TEST_MS);

  it('checked every recovery page', () => {
    expect(checked).toEqual(
      expect.arrayContaining(['identify', 'identify-error', 'goal', 'methods', 'email', 'code-email', 'code-error', 'phone', 'phone-error', 'code-sms', 'password', 'password-error', 'done-reset', 'unlock', 'done-unlock', 'call-phone', 'call', 'app-send', 'app-waiting']),
    );
  });
});
