// The ceiling on wrong passwords in a row (NIST SP 800-63B-4 §3.2.2: at most 100 consecutive failed attempts on one
// account, then the authenticator is disabled until it is recovered). Each lockout ends by itself, so without a
// ceiling a patient guesser gets another `threshold` tries after every one, day after day. Through the real sign-in
// page, with the default policy (10 failures per lockout) and the server's clock moved past each lockout.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const { threshold, maxSeconds } = DEFAULT_POLICY.lockout;
const CEILING = 100;

let offset = 0;
let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer({ SIGNIN_FAILURE_MIN_MS: '0' }, { clock: () => Date.now() + offset });
  await allowManyFailedSignIns(server);
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

const wait = (seconds: number) => {
  offset += seconds * 1000;
};

const refused = (page: Page) => page.status === 200 && messageIds(page).includes('login.invalid');
const signedIn = (page: Page) => page.status === 303 && (page.headers.get('location') ?? '').includes('/oidc/auth/');

/** A fresh browser (no device cookie) on a fresh sign-in page. */
async function signInPage(): Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser();
  const start = await authorizationUrl(config, rp.redirect_uris[0]!, { prompt: 'login consent' });
  return { browser, page: await openLoginPage(browser, start.url) };
}

async function tryOnce(user: User, password: string): Promise<Page> {
  const { browser, page } = await signInPage();
  const form = findForm(page, '/login');
  return backToSignIn(browser, await browser.post(form.action, { ...form.fields, login: user.username, password }));
}

/**
 * `count` different wrong passwords, each lockout waited out (the longest lasts `maxSeconds`); with `perDay`, a day
 * goes by after every `perDay` of them, as a patient guesser would let it.
 */
async function failInARow(user: User, count: number, perDay = Infinity): Promise<void> {
  let { browser, page } = await signInPage();
  for (let i = 1; i <= count; i += 1) {
    const form = findForm(page, '/login');
    page = await backToSignIn(browser, await browser.post(form.action, { ...form.fields, login: user.username, password: `wrong password ${i} ${Math.random()}` }));
    expect(refused(page)).toBe(true);
    if (i % perDay === 0) wait(86_400);
    if (i % threshold === 0 || i % perDay === 0) {
      wait(maxSeconds + 1);
      ({ browser, page } = await signInPage());
    }
  }
}

it(`still takes the right password after ${CEILING - 1} wrong ones in a row, once the last lockout has ended`, async () => {
  const user = await createUser(server);
  await failInARow(user, CEILING - 1);
  wait(maxSeconds + 1);
  expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
});

it(`refuses even the right password after ${CEILING} wrong ones in a row, however long one waits, until the account is unlocked`, async () => {
  const user = await createUser(server);
  await failInARow(user, CEILING);
  wait(maxSeconds + 1);
  // The same answer as for a wrong password: nothing says why.
  expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
  wait(2 * 86_400); // days later, past every lockout of the day it happened
  expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: true, disabled: true });

  // A recovery's unlock (or an administrator's `users unlock`) gives the password back to its owner.
  await server.latchkey.accounts.clearLockout(user._id);
  expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
});

it(`counts wrong passwords in a row across days: ${threshold - 1} a day, never a lockout's worth, reach the ceiling all the same`, async () => {
  const user = await createUser(server);
  await failInARow(user, CEILING, threshold - 1);
  wait(86_400);
  expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: true, disabled: true });
});
