// A person signs in to an application through Latchkey in a real browser (headless Debian chromium driven by
// playwright-core), then signs out; every Latchkey page on the way must pass axe-core's WCAG 2.2 AA rules.
// Our pages carry an operator's brand; each is checked at desktop and phone width, and its screenshots go to
// test-artifacts/browser/ for a human to look at (helpers/chromium.ts).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { BRAND, cspViolations, launchChromium, PageChecks } from '../helpers/chromium.ts';
import { startTestRp, type TestRp } from '../helpers/demo-rp.ts';
import { createUser, PASSWORD } from '../helpers/factories.ts';
import { registerMethods, textedCode } from '../helpers/recovery.ts';
import { generateSync } from 'otplib';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { enrol } from '../../scripts/authenticator.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let user: User;
let client: ClientMetadata;
let rp: TestRp | undefined;
let rpOrigin: string;
let browser: Browser;

beforeAll(async () => {
  server = await startTestServer(BRAND);
  await allowManyFailedSignIns(server);
  // A long address with no hyphen to break at: the pages that show it must still fit a 320 px screen.
  user = await createUser(server, { name: 'Ada Lovelace', email: 'ada.averyveryverylongaddresswithoutanybreaks@exampleorganisation.test' });
  // The app listens first, so its origin (a free port, 127.0.0.1 like the issuer) is known when the client is
  // registered with the redirect URIs the app will use.
  rp = await startTestRp(server);
  rpOrigin = rp.origin;
  client = rp.client;
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rp?.close();
  await server?.close();
});

/** Every page of ours, at desktop and phone width, with the operator's brand (helpers/chromium.ts). */
const pages = new PageChecks({ brand: BRAND });
const checkPage = (page: Page, name: string, options?: { ours: boolean }) => pages.check(page, name, options);

it('signs in through our pages, consents, comes back signed in, and signs out; every page is accessible', async () => {
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const issuerOrigin = new URL(server.issuer).origin;

  // The application's home page sends the person to Latchkey's sign-in page.
  await page.goto(`${rpOrigin}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL(`${issuerOrigin}/interaction/**`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByText('to continue to Demo App').waitFor();
  await checkPage(page, 'sign-in');

  // A wrong password: the same page, with an error announced and the login kept.
  await page.getByLabel('Email or username').fill(user.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-message-id="login.invalid"]').waitFor();
  expect(await page.getByLabel('Email or username').inputValue()).toBe(user.email);
  await checkPage(page, 'sign-in-error');

  // The right password leads to the consent page.
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Allow Demo App to access your account?' }).waitFor();
  await checkPage(page, 'consent');

  // Allow: back at the application, signed in as this person.
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rpOrigin}/`);
  await page.getByText(`Signed in as ${user.name} (${user.email})`).waitFor();
  await page.getByRole('row', { name: `sub ${user._id}` }).waitFor();
  // Its account settings link to Latchkey's own pages, with the login filled in and the way back to the application.
  for (const [name, path] of [
    ['Change your password', '/account/password'],
    ['Review your security info', '/account/security-info'],
    ['See where you are signed in', '/account/sessions'],
  ]) {
    const link = new URL((await page.getByRole('link', { name }).getAttribute('href'))!);
    expect(link.origin + link.pathname).toBe(`${issuerOrigin}${path}`);
    expect(Object.fromEntries(link.searchParams)).toEqual({ login_hint: user.email, client_id: expect.any(String), return_to: `${rpOrigin}/` });
  }
  await checkPage(page, 'signed-in', { ours: false }); // the demo app's page
  // One of them, and back to the application from it.
  await page.getByRole('link', { name: 'Change your password' }).click();
  await page.getByRole('link', { name: 'Back to Demo App' }).click();
  await page.waitForURL(`${rpOrigin}/`);
  await page.getByText(`Signed in as ${user.name} (${user.email})`).waitFor();

  // Sign out: the application hands over to our confirmation page, which returns to the application.
  await page.getByRole('link', { name: 'Sign out' }).click();
  await page.waitForURL(`${issuerOrigin}/oidc/session/end**`);
  await page.getByRole('heading', { level: 1, name: 'Sign out' }).waitFor();
  // The service as the operator names it, as in the header: not "Latchkey".
  await page.getByText(`Do you want to sign out of Demo App and ${BRAND.BRAND_NAME}?`).waitFor();
  await checkPage(page, 'logout');
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL((url) => url.href.startsWith(`${rpOrigin}/`) && url.pathname === '/');
  await page.getByRole('status').filter({ hasText: 'You have signed out.' }).waitFor();
  await page.getByRole('link', { name: 'Sign in' }).waitFor();

  // Latchkey's session ended too: signing in again asks for the password.
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.waitForURL(`${issuerOrigin}/interaction/**`);
  await page.getByLabel('Password').waitFor();

  // Our remaining pages get the same checks: the recovery start, and "signed out" when no app is named.
  await page.getByRole('link', { name: "Can't access your account?" }).click();
  await page.locator('[data-message-id="recover.identify_intro"]').waitFor();
  await checkPage(page, 'recover');
  await page.goto(`${server.issuer}/session/end`);
  await page.getByRole('heading', { level: 1, name: 'You have signed out' }).waitFor();
  await checkPage(page, 'logged-out');

  // An authorization request with an unregistered redirect_uri shows our error page and does not redirect.
  const evil = new URL(`${server.issuer}/auth`);
  evil.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: 'http://127.0.0.1:9/not-registered',
    response_type: 'code',
    scope: 'openid',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  const response = await page.goto(evil.href);
  expect(response?.status()).toBe(400);
  expect(response?.request().redirectedFrom()).toBeNull();
  expect(page.url()).toBe(evil.href);
  await page.locator('[data-message-id="error.oidc"]').waitFor();
  await checkPage(page, 'error');

  await context.close();
  expect(pages.problems.join('\n\n')).toBe('');
}, 180_000);

/**
 * With the policy asking for security info at sign-in: `person` signs in from the application's home page, and
 * `walk` goes on from the page the right password leads to. The policy is as before afterwards.
 */
async function signInAskedForSecurityInfo(person: User, walk: (page: Page) => Promise<void>) {
  await server.latchkey.policy.update((overrides) => ({ ...overrides, registration: { atSignIn: true, reconfirmDays: 180 } }));
  const context = await browser.newContext({ locale: 'en-US', viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  try {
    await page.goto(`${rpOrigin}/`);
    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Email or username').fill(person.username);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: "Don't lose access to your account!" }).waitFor();
    await walk(page);
  } finally {
    await context.close();
    await server.latchkey.policy.update(({ registration: _, ...overrides }) => overrides);
  }
  expect(pages.problems.join('\n\n')).toBe('');
}

it('stops at the security info page when the policy asks: a phone and an app registered there, each page accessible', async () => {
  await signInAskedForSecurityInfo(await createUser(server, { name: 'Grace Hopper' }), async (page) => {
    await checkPage(page, 'security-info');
    // A mobile phone: typed, then proved by the code texted to it.
    await page.getByRole('button', { name: 'Set it up now: Mobile phone' }).click();
    await page.getByLabel('Mobile phone number').fill('+1 415 555 0150');
    await page.getByRole('button', { name: 'Send code' }).click();
    await page.locator('[data-message-id="security_info.code_sent_mobilePhone"]').waitFor();
    await checkPage(page, 'security-info-code');
    await page.getByLabel('Verification code').fill(await textedCode(server, '+14155550150'));
    await page.getByRole('button', { name: 'Verify' }).click();
    // Listed as a hint, with a notice of what was done.
    await page.locator('[data-message-id="security_info.said_saved"]').waitFor();
    await page.getByText('*****50').waitFor();
    await checkPage(page, 'security-info-saved');

    // An authenticator app: its key (or QR code) read, then a code from it.
    await page.getByRole('button', { name: 'Set it up now: Authenticator app' }).click();
    await page.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
    await checkPage(page, 'security-info-app');
    const key = (await page.locator('#app-key').innerText()).replace(/\s/g, '');
    await page.getByLabel('Code shown in the app').fill(generateSync({ secret: key }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('[data-kind="authenticator"] [data-message-id="security_info.app_registered"]').waitFor();

    await page.getByRole('button', { name: 'Looks good' }).click();
    await page.getByRole('heading', { level: 1, name: 'Allow Demo App to access your account?' }).waitFor();
  });
}, 120_000);

it('asks a person whose methods are registered to prove one before anything changes; each page accessible', async () => {
  const person = await createUser(server, { name: 'Katherine Johnson' });
  await registerMethods(server, person, { mobilePhone: '+14155550161' });
  await signInAskedForSecurityInfo(person, async (page) => {
    await page.getByRole('heading', { level: 2, name: "To make changes, first verify it's you" }).waitFor();
    expect(await page.getByRole('button', { name: 'Change: Mobile phone' }).count()).toBe(0);
    await checkPage(page, 'security-info-locked');

    await page.getByRole('button', { name: 'Text a code to *****61' }).click();
    await page.getByRole('heading', { level: 2, name: "Verify it's you" }).waitFor();
    await checkPage(page, 'security-info-prove');
    await page.getByLabel('Verification code').fill(await textedCode(server, '+14155550161'));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('[data-message-id="security_info.said_proved"]').waitFor();
    await page.getByRole('button', { name: 'Change: Mobile phone' }).waitFor();

    await page.getByRole('button', { name: 'Looks good' }).click();
    await page.getByRole('heading', { level: 1, name: 'Allow Demo App to access your account?' }).waitFor();
  });
}, 120_000);

it('shows the password on request under our real CSP (the page script carries the nonce)', async () => {
  const context = await browser.newContext({ locale: 'en-US' }); // no CSP bypass here
  const page = await context.newPage();
  const cspErrors = cspViolations(page);
  await page.goto(`${rpOrigin}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Password').fill('typed secret');
  expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
  await page.getByRole('button', { name: 'Show password' }).click();
  expect(await page.getByLabel('Password').getAttribute('type')).toBe('text');
  // The button now says what it does next.
  await page.getByRole('button', { name: 'Hide password' }).click();
  expect(await page.getByLabel('Password').getAttribute('type')).toBe('password');
  await page.getByRole('button', { name: 'Show password' }).waitFor();
  expect(cspErrors).toEqual([]);
  await context.close();
}, 60_000);

it("posts the code back to an application that asks for form_post: the library's self-submitting page runs under our real CSP", async () => {
  const context = await browser.newContext({ locale: 'en-US' }); // no CSP bypass here
  const page = await context.newPage();
  const cspErrors = cspViolations(page);
  const redirectUri = `${rpOrigin}/callback`;
  const start = new URL(`${server.issuer}/auth`);
  start.search = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: redirectUri,
    response_type: 'code',
    response_mode: 'form_post',
    scope: 'openid',
    state: 'form-post-state',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }).toString();
  await page.goto(start.href);
  await page.getByLabel('Email or username').fill(user.email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Allow Demo App to access your account?' }).waitFor();
  // The application gets a POST, sent by the page's own script (no button pressed), with the code, state and iss.
  const posted = page.waitForRequest((request) => request.url() === redirectUri && request.method() === 'POST');
  await page.getByRole('button', { name: 'Allow' }).click();
  const fields = new URLSearchParams((await posted).postData() ?? '');
  expect(fields.get('code')).toEqual(expect.any(String));
  expect(fields.get('state')).toBe('form-post-state');
  expect(fields.get('iss')).toBe(server.issuer);
  expect(cspErrors).toEqual([]);
  await context.close();
}, 60_000);

it('signs in within a popup the application opened: the popup can still talk to its opener when it is back', async () => {
  // Single-page applications sign in this way (oidc-client-ts signinPopup and the like): the popup goes through our
  // pages and, back at the application's callback, hands the result to window.opener. A Cross-Origin-Opener-Policy
  // of same-origin on our pages would cut that link for good.
  const context = await browser.newContext({ locale: 'en-US' });
  const app = await context.newPage();
  await app.goto(`${rpOrigin}/`);
  const [popup] = await Promise.all([context.waitForEvent('page'), app.evaluate(() => void window.open('/login', 'sign-in', 'popup'))]);
  await popup!.getByLabel('Email or username').fill(user.email);
  await popup!.getByLabel('Password').fill(PASSWORD);
  await popup!.getByRole('button', { name: 'Sign in' }).click();
  const allow = popup!.getByRole('button', { name: 'Allow' });
  // Consent was given in the first test; the popup may go straight back.
  await Promise.race([allow.waitFor().then(() => allow.click()).catch(() => {}), popup!.waitForURL(`${rpOrigin}/`)]);
  await popup!.waitForURL(`${rpOrigin}/`);
  expect(await popup!.evaluate(() => window.opener !== null && window.opener.location.origin === window.location.origin)).toBe(true);
  await context.close();
}, 60_000);

/**
 * One of the account's own pages, followed from our home page's link in a browser with our real CSP: its page
 * (with the heading `heading`), the CSP violations it reports, and accessibility checks whose screenshots are `prefix`ed.
 */
async function openFromHome(link: string, heading: string, prefix: string) {
  const context = await browser.newContext({ locale: 'en-US' });
  const page = await context.newPage();
  const cspErrors = cspViolations(page);
  await page.goto(`${new URL(server.issuer).origin}/`);
  await page.getByRole('link', { name: link }).click();
  await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  return { context, page, cspErrors, checks: new PageChecks({ brand: BRAND, prefix }) };
}

it('changes a password from the home page under the real CSP: a wrong current password, then the right one; each page accessible', async () => {
  const owner = await createUser(server, { name: 'Grace Hopper' });
  const { context, page, cspErrors, checks: changes } = await openFromHome('Change your password', 'Change your password', 'change-password-');
  await changes.check(page, 'form');
  const fill = async (current: string) => {
    await page.getByLabel('Email or username').fill(owner.username);
    await page.getByLabel('Current password').fill(current);
    await page.getByLabel('Enter new password').fill('lantern orchard velvet compass');
    await page.getByLabel('Confirm new password').fill('lantern orchard velvet compass');
  };
  await fill('not my password at all');
  // One "Show passwords" shows all three fields.
  await page.getByRole('button', { name: 'Show passwords' }).click();
  for (const label of ['Current password', 'Enter new password', 'Confirm new password']) expect(await page.getByLabel(label).getAttribute('type')).toBe('text');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').getByText('Incorrect email, username or password.').waitFor();
  // The login is kept and the current password, to type again, has the focus.
  expect(await page.getByLabel('Email or username').inputValue()).toBe(owner.username);
  expect(await page.evaluate(() => document.activeElement?.id)).toBe('current');
  await changes.check(page, 'refused');
  await fill(PASSWORD);
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your password is changed' }).waitFor();
  await changes.check(page, 'done');
  expect(changes.problems.join('\n\n')).toBe('');
  expect(cspErrors).toEqual([]);
  await context.close();
}, 60_000);

it('reviews security info from the home page under the real CSP: the password, an authenticator app added from its key, confirmed; each page accessible', async () => {
  const owner = await createUser(server, { name: 'Katherine Johnson' });
  const { context, page, cspErrors, checks: reviews } = await openFromHome('Review your security info', 'Your security info', 'security-info-');
  await reviews.check(page, 'password');
  await page.getByLabel('Email or username').fill(owner.username);
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 2, name: 'Your verification methods' }).waitFor();
  await reviews.check(page, 'list');
  // Nothing registered yet: an app is added with the password alone, from its key typed into the app.
  await page.getByRole('button', { name: 'Set it up now: Authenticator app' }).click();
  const key = (await page.locator('#app-key').innerText()).replace(/\s+/g, '');
  await reviews.check(page, 'app');
  await page.getByLabel('Code shown in the app').fill(generateSync({ secret: key }));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.locator('[data-message-id="security_info.said_saved"]').waitFor();
  await page.getByRole('button', { name: 'Looks good' }).click();
  await page.getByRole('heading', { level: 1, name: 'Your security info is confirmed' }).waitFor();
  await reviews.check(page, 'done');
  expect(reviews.problems.join('\n\n')).toBe('');
  expect(cspErrors).toEqual([]);
  await context.close();
}, 60_000);

it('enrols an authenticator app for notifications from "Your security info": its one-time link and QR code, the app enrols, Continue; each page accessible', async () => {
  const owner = await createUser(server, { name: 'Mary Jackson' });
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-app-'));
  await server.latchkey.policy.update((overrides) => ({ ...overrides, methodsEnabled: ['email', 'sms', 'app_notification', 'totp'] }));
  const { context, page, cspErrors, checks } = await openFromHome('Review your security info', 'Your security info', 'security-info-app-device-');
  try {
    await page.getByLabel('Email or username').fill(owner.username);
    await page.getByLabel('Current password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Set it up now: Authenticator app notifications' }).click();
    await page.getByRole('img', { name: 'QR code of the enrolment link for your authenticator app' }).waitFor();
    await checks.check(page, 'link');
    // The app (the reference authenticator) opens the link shown; then Continue.
    await enrol(await page.locator('#app-device-link').innerText(), 'Pixel 9', join(dir, 'store.json'));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.locator('[data-message-id="security_info.said_saved"]').waitFor();
    await page.getByText('Pixel 9').waitFor();
    await checks.check(page, 'saved');
    expect(checks.problems.join('\n\n')).toBe('');
    expect(cspErrors).toEqual([]);
  } finally {
    await context.close();
    await server.latchkey.policy.update(({ methodsEnabled: _, ...overrides }) => overrides);
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);

it('sees where an account is signed in from the home page under the real CSP, removes an app and signs out everywhere; each page accessible', async () => {
  const owner = await createUser(server, { name: 'Dorothy Vaughan' });
  const { context, page, cspErrors, checks: visits } = await openFromHome('See where you are signed in', 'Your sessions and apps', 'sessions-');
  // First signed in to the demo application in this browser, so that the page has a session and an app to show.
  await page.goto(`${rpOrigin}/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Email or username').fill(owner.username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL(`${rpOrigin}/`);

  await page.goto(`${new URL(server.issuer).origin}/account/sessions`);
  await visits.check(page, 'password');
  await page.getByLabel('Email or username').fill(owner.username);
  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('heading', { level: 2, name: 'Signed-in browsers' }).waitFor();
  // Chromium on Linux (headless: its User-Agent says HeadlessChrome), marked as this browser, with the application.
  await page.getByText('Chrome on Linux').waitFor();
  await page.getByText('This browser').waitFor();
  await page.getByText('Apps used from it: Demo App').waitFor();
  await visits.check(page, 'list');
  await page.getByRole('button', { name: 'Remove access: Demo App' }).click();
  await page.getByRole('status').filter({ hasText: 'That app no longer has access to your account.' }).waitFor();
  await visits.check(page, 'app-removed');
  await page.getByRole('button', { name: 'Sign out everywhere' }).click();
  await page.getByRole('heading', { level: 1, name: 'You are signed out everywhere' }).waitFor();
  await visits.check(page, 'done');
  expect(visits.problems.join('\n\n')).toBe('');
  expect(cspErrors).toEqual([]);
  await context.close();
}, 90_000);
