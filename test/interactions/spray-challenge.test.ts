// Password spraying (one address, one password, many accounts) meets a challenge, not a block: once an address has
// had `signInFailuresPerIpHour` failed sign-ins (20 by default), its sign-ins must answer a CAPTCHA before any
// password is looked at, whatever X-Forwarded-For it forges; other addresses go on as before. Behind the proxy
// production requires (TRUST_PROXY): the client's address is the one the proxy appended.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, comparableSignInPage, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER } from '../helpers/recovery.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let user: User;
/** Commands sent while `recording`, as `<command> <collection>`. */
const commands: string[] = [];
let recording = false;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, TRUST_PROXY: 'true' }, {
    onCommand({ commandName, collection }) {
      if (recording) commands.push(`${commandName} ${collection ?? ''}`);
    },
  });
  rp = await createClient(server);
  config = await discover(server, rp);
  user = await createUser(server);
});
afterAll(() => server.close());

/** A browser whose requests come through the proxy with this X-Forwarded-For (the client's part, then the proxy's). */
const through = (forwardedFor: string) => new Browser({ publicOrigin: server.origin, serverOrigin: server.origin, headers: { 'x-forwarded-for': forwardedFor } });

async function signInPage(browser: Browser): Promise<Page> {
  return openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!)).url);
}

/** Posts the sign-in form with these fields over the page's own; the POST's answer and the page it leads back to. */
async function post(browser: Browser, page: Page, fields: Record<string, string>) {
  const posted = await browser.post(findForm(page, '/login').action, { ...findForm(page, '/login').fields, ...fields });
  return { posted, next: await backToSignIn(browser, posted) };
}

const ATTACKER = '192.0.2.50';
const asksForCaptcha = (page: Page) => messageIds(page).includes('login.captcha_intro') && messageIds(page).includes('captcha.answer') && 'captchaId' in findForm(page, '/login').fields;
const signedIn = (posted: Page) => posted.status === 303 && (posted.headers.get('location') ?? '').includes('/oidc/auth/');

it('asks an address for a CAPTCHA after 20 failed sign-ins over as many accounts, whatever X-Forwarded-For it forges', async () => {
  for (let i = 0; i < 20; i += 1) {
    // A fresh forged entry in front each time: the proxy's own (the last) is what counts.
    const browser = through(`198.51.100.${i + 1}, ${ATTACKER}`);
    const page = await signInPage(browser);
    expect(asksForCaptcha(page)).toBe(false);
    const { next } = await post(browser, page, { login: `sprayed-${i}@example.test`, password: 'Spring2025!Spring2025!' });
    expect(messageIds(next)).toContain('login.invalid');
  }
  const page = await signInPage(through(`203.0.113.77, ${ATTACKER}`));
  expect(page.status).toBe(200);
  expect(asksForCaptcha(page)).toBe(true);
  expect(page.body).toContain('/recover/captcha/');
});

it('checks no password, takes no lockout slot and reads no account without the right answer, and signs in with it', async () => {
  const browser = through(`198.51.100.200, ${ATTACKER}`);
  const page = await signInPage(browser);
  expect(asksForCaptcha(page)).toBe(true);
  const limitsBefore = await server.connection.db!.collection('limits').countDocuments();

  // The right password, but no answer, then a wrong one: refused before the password is looked at.
  recording = true;
  const { posted: noAnswer, next: afterNoAnswer } = await post(browser, page, { login: user.username, password: PASSWORD });
  const { posted: wrong, next: afterWrong } = await post(browser, afterNoAnswer, { login: user.username, password: PASSWORD, captcha: 'WRONG1' });
  // A wrong password with a wrong answer: no lockout slot either.
  const { next: afterWrongPassword } = await post(browser, afterWrong, { login: user.username, password: 'not the password at all', captcha: 'WRONG2' });
  recording = false;
  for (const answer of [noAnswer, wrong]) {
    expect(answer.status).toBe(303);
    expect(signedIn(answer)).toBe(false);
  }
  expect(messageIds(afterNoAnswer)).toContain('login.captcha_wait_early');
  expect(messageIds(afterWrong)).toContain('login.captcha_wrong');
  for (const shown of [afterNoAnswer, afterWrong, afterWrongPassword]) {
    expect(asksForCaptcha(shown)).toBe(true);
    expect(findForm(shown, '/login').fields.login).toBe(user.username); // the login is kept
    expect(messageIds(shown)).not.toContain('login.invalid');
  }
  expect(commands.filter((c) => /\b(users|user_aliases)$/.test(c))).toEqual([]); // no account read
  expect(commands.filter((c) => /^(insert|update) limits$/.test(c))).toEqual([]); // no slot taken, of any kind
  expect(await server.connection.db!.collection('limits').countDocuments()).toBe(limitsBefore);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0 });

  // The right answer (any case and spacing) and the right password: signed in.
  const { posted } = await post(browser, afterWrongPassword, { login: user.username, password: PASSWORD, captcha: ` ${CAPTCHA_ANSWER.toLowerCase()} ` });
  expect(signedIn(posted)).toBe(true);
});

it('takes each answer once, and "New picture" shows the page again with the login kept and nothing checked', async () => {
  const browser = through(`198.51.100.201, ${ATTACKER}`);
  const page = await signInPage(browser);
  const { next: fresh } = await post(browser, page, { login: user.username, password: PASSWORD, action: 'new-captcha' });
  expect(asksForCaptcha(fresh)).toBe(true);
  expect(findForm(fresh, '/login').fields.captchaId).not.toBe(findForm(page, '/login').fields.captchaId);
  expect(findForm(fresh, '/login').fields.login).toBe(user.username);
  expect(messageIds(fresh).filter((id) => /^login\.(invalid|missing|captcha_wrong|captcha_stale|captcha_wait_early|captcha_wait_used_up)$/.test(id))).toEqual([]);
  // An answer is used up by its first check, right or wrong: the same CAPTCHA's answer again (from another page) fails.
  const used = findForm(fresh, '/login').fields.captchaId!;
  const { posted: first } = await post(browser, fresh, { login: user.username, password: 'not the password at all', captcha: CAPTCHA_ANSWER });
  expect(signedIn(first)).toBe(false);
  const again = through(`198.51.100.202, ${ATTACKER}`);
  const { posted: second, next: replayed } = await post(again, await signInPage(again), { login: user.username, password: PASSWORD, captchaId: used, captcha: CAPTCHA_ANSWER });
  expect(signedIn(second)).toBe(false);
  expect(messageIds(replayed)).toContain('login.captcha_stale'); // used, not wrong: the page says so
  expect(messageIds(replayed)).not.toContain('login.captcha_wrong');
});

it('gives a known and an unknown login the same page and status without the answer, with a wrong one and with the right one', async () => {
  // Everything that legitimately differs between two interactions blanked out (as sign-in.test.ts does), and the CAPTCHA's id.
  const comparable = (page: Page, login: string) => comparableSignInPage(page, login).replace(/(\/recover\/captcha\/|name="captchaId" value=")[\w-]{22}/g, '$1ID');
  const attempt = async (login: string, fields: Record<string, string>) => {
    const browser = through(`198.51.100.203, ${ATTACKER}`);
    const { posted, next } = await post(browser, await signInPage(browser), { login, password: 'not the password at all', ...fields });
    return { statuses: [posted.status, next.status], cookies: await browser.cookieNames(`${server.origin}/interaction/`), body: comparable(next, login) };
  };
  for (const fields of [{}, { captcha: 'WRONG3' }, { captcha: CAPTCHA_ANSWER }] as Array<Record<string, string>>) {
    expect(await attempt('nobody-at-all@example.test', fields)).toEqual(await attempt(user.email, fields));
  }
});

it('challenges sign-ins sent all at once as soon as they could fill the count: 20 passwords checked of 30, not 30', async () => {
  const SWARM = '192.0.2.60';
  const opened = await Promise.all(
    Array.from({ length: 30 }, async (_, i) => {
      const browser = through(`198.51.100.${i + 1}, ${SWARM}`);
      return { browser, page: await signInPage(browser), login: `swarm-${i}@example.test` };
    }),
  );
  expect(opened.filter(({ page }) => asksForCaptcha(page))).toHaveLength(0);
  const answers = await Promise.all(opened.map(({ browser, page, login }) => post(browser, page, { login, password: 'Autumn2026!Autumn2026!' })));
  const shown = answers.map(({ next }) => messageIds(next));
  expect(shown.filter((ids) => ids.includes('login.invalid'))).toHaveLength(20);
  expect(shown.filter((ids) => ids.includes('login.captcha_wait_early'))).toHaveLength(10);
  expect(asksForCaptcha(await signInPage(through(`203.0.113.78, ${SWARM}`)))).toBe(true);
});

it('leaves every other address as it was: no CAPTCHA, and the password signs in', async () => {
  const browser = through(`198.51.100.1, 192.0.2.51`);
  const page = await signInPage(browser);
  expect(asksForCaptcha(page)).toBe(false);
  const { posted } = await post(browser, page, { login: user.username, password: PASSWORD });
  expect(signedIn(posted)).toBe(true);
});

it('counts an IPv6 client by its /64: another address of the same network is asked too', async () => {
  await server.latchkey.policy.save({ limits: { signInFailuresPerIpHour: 2 } });
  for (const address of ['2001:db8:5:6::1', '2001:db8:5:6::2']) {
    const browser = through(address);
    await post(browser, await signInPage(browser), { login: `v6-${address}@example.test`, password: 'not the password at all' });
  }
  expect(asksForCaptcha(await signInPage(through('2001:db8:5:6:ffff::9')))).toBe(true);
  expect(asksForCaptcha(await signInPage(through('2001:db8:5:7::1')))).toBe(false);
});

// Last: once the installation is past its threshold, every address is asked.
it('asks every address for a CAPTCHA once the installation has had its failed sign-ins of the hour', async () => {
  await server.latchkey.policy.save({ limits: { signInFailuresGlobalHour: 3 } });
  const fresh = (n: number) => through(`192.0.2.${100 + n}`);
  for (let n = 0; n < 3; n += 1) {
    const browser = fresh(n);
    await post(browser, await signInPage(browser), { login: `global-${n}@example.test`, password: 'not the password at all' });
  }
  const page = await signInPage(fresh(9));
  expect(asksForCaptcha(page)).toBe(true);
  // Raised again (an administrator easing an incident): asked no more.
  await server.latchkey.policy.save({ limits: { signInFailuresGlobalHour: 5000 } });
  expect(asksForCaptcha(await signInPage(fresh(10)))).toBe(false);
});
