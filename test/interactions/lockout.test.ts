// The sign-in lockout through the real sign-in page (accounts/lockout.ts): failures are counted per account, a
// locked account answers exactly like a wrong password, repeats of one wrong password count once, parallel tries
// never exceed the threshold, a browser that signed in before keeps a budget of its own, and a success clears the
// count. The server's clock is the test's to move; the policy is the default one (10 failures, then 60 s, twice as
// long for the next lockout of the day).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, comparableSignInPage, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { LIMITS } from '../../src/security/limits.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const { threshold, initialSeconds, growth } = DEFAULT_POLICY.lockout;
const DAY = 86_400_000;
const FAILURE_MIN_MS = 100;
const DEVICE_COOKIE = 'latchkey.device'; // plain http here: no __Host- prefix

let offset = 0;
let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  // Lockouts grow within one UTC day: keep well clear of midnight.
  const left = DAY - (Date.now() % DAY);
  if (left < 30 * 60_000) offset = left + 1000;
  const clock = () => Date.now() + offset;
  server = await startTestServer({ SIGNIN_FAILURE_MIN_MS: String(FAILURE_MIN_MS) }, { clock });
  await allowManyFailedSignIns(server);
  rp = await createClient(server);
  config = await discover(server, rp);
});
afterAll(() => server.close());

const wait = (seconds: number) => {
  offset += seconds * 1000;
};

/** One browser on one sign-in page, trying passwords for one login (a failed try answers with the form again). */
class SignInPage {
  readonly browser: Browser;
  private page!: Page;
  private readonly login: string;

  constructor(login: string, browser = new Browser()) {
    this.login = login;
    this.browser = browser;
  }

  /** prompt=login: a browser that still has a session is asked for its password all the same. */
  async open(): Promise<this> {
    const start = await authorizationUrl(config, rp.redirect_uris[0]!, { prompt: 'login consent' });
    this.page = await openLoginPage(this.browser, start.url);
    return this;
  }

  async submit(password: string, headers: Record<string, string> = {}): Promise<Page> {
    const form = findForm(this.page, '/login');
    const answer = await backToSignIn(this.browser, await this.browser.post(form.action, { ...form.fields, login: this.login, password }, headers));
    if (answer.status === 200) this.page = answer;
    return answer;
  }
}

const refused = (page: Page) => page.status === 200 && messageIds(page).includes('login.invalid') && page.headers.get('location') === null;
const signedIn = (page: Page) => page.status === 303 && (page.headers.get('location') ?? '').includes('/oidc/auth/');

async function tryOnce(user: User, password: string): Promise<Page> {
  return (await new SignInPage(user.username).open()).submit(password);
}

/** `count` different wrong passwords from one browser without a device cookie. */
async function failMany(user: User, count: number, page?: SignInPage): Promise<void> {
  const signIn = page ?? (await new SignInPage(user.username).open());
  for (let i = 0; i < count; i += 1) expect(refused(await signIn.submit(`wrong password number ${i} ${Math.random()}`))).toBe(true);
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const limits = () => server.connection.db!.collection(LIMITS);

describe('the threshold', () => {
  it(`refuses even the right password after ${threshold} wrong ones, whatever X-Forwarded-For says, until the lockout ends`, async () => {
    const user = await createUser(server);
    const attacker = await new SignInPage(user.username).open();
    for (let i = 0; i < threshold - 1; i += 1) {
      // A new address each time: the count is the account's, not an address's.
      expect(refused(await attacker.submit(`guess ${i}`, { 'x-forwarded-for': `203.0.113.${i + 1}` }))).toBe(true);
    }
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: threshold - 1 });
    expect(refused(await attacker.submit('guess last', { 'x-forwarded-for': '198.51.100.7' }))).toBe(true);
    expect(await server.latchkey.accounts.isLocked(user._id)).toBe(true);

    // The 11th try, with the right password, from the same browser and from a brand-new one.
    expect(refused(await attacker.submit(PASSWORD, { 'x-forwarded-for': '192.0.2.99' }))).toBe(true);
    expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
    wait(initialSeconds - 10); // the tries above took real time too (argon2 each): a margin for a loaded machine
    expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
    wait(11);
    expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
  });

  it(`makes the second lockout in a row ${growth} times as long as the first`, async () => {
    const user = await createUser(server);
    await failMany(user, threshold);
    wait(initialSeconds + 1);
    await failMany(user, threshold);
    const state = await server.latchkey.accounts.lockoutState(user._id);
    expect(state).toMatchObject({ locked: true, lockouts: 2 });
    expect(state.lockedUntil!.getTime() - (Date.now() + offset)).toBeGreaterThan((initialSeconds * growth - 5) * 1000);

    wait(initialSeconds + 1); // the first lockout's length: not enough now
    expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
    wait(initialSeconds * growth - initialSeconds); // now past initialSeconds × growth
    expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
  });
});

describe('repeated and parallel wrong passwords', () => {
  it('counts the same wrong password once, even when it is sent 20 times', async () => {
    const user = await createUser(server);
    const page = await new SignInPage(user.username).open();
    for (let i = 0; i < 20; i += 1) expect(refused(await page.submit('the same wrong password'))).toBe(true);
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 1 });
    expect(signedIn(await page.submit(PASSWORD))).toBe(true);
  });

  it(`never records more than ${threshold} failures for 20 different wrong passwords sent at once, and locks once`, async () => {
    const user = await createUser(server);
    const page = await new SignInPage(user.username).open();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => page.submit(`parallel guess ${i}`)));
    for (const answer of answers) expect(refused(answer)).toBe(true);

    const slots = await limits().countDocuments({ _id: { $regex: `^signin:fail:a:${escape(user._id)}:` } as never });
    expect(slots).toBe(threshold);
    const locks = await limits().countDocuments({ _id: { $regex: `^signin:lock:a:${escape(user._id)}:` } as never });
    expect(locks).toBe(1);
    const lockedEvents = await server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ type: 'account.locked', accountId: user._id });
    expect(lockedEvents).toBe(1);
    expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
  });
});

describe('the locked answer', () => {

  async function observe(user: User, password: string) {
    const page = await new SignInPage(user.username).open();
    const cookiesBefore = (await page.browser.cookieNames(server.origin)).sort();
    const started = performance.now();
    const answer = await page.submit(password);
    return {
      elapsedAtLeastMinimum: performance.now() - started >= FAILURE_MIN_MS,
      observed: {
        status: answer.status,
        location: answer.headers.get('location'),
        setCookies: answer.headers.getSetCookie().map((c) => c.split('=')[0]).sort(),
        cookiesBefore,
        cookiesAfter: (await page.browser.cookieNames(server.origin)).sort(),
        messages: messageIds(answer),
        body: comparableSignInPage(answer, user.username),
      },
    };
  }

  it('is the wrong-password page: same status, body, cookies and minimum time; nothing says "locked"', async () => {
    const locked = await createUser(server);
    const other = await createUser(server);
    await failMany(locked, threshold);
    const lockedRightPassword = await observe(locked, PASSWORD);
    const wrongPassword = await observe(other, 'simply the wrong password');
    expect(lockedRightPassword.observed).toEqual(wrongPassword.observed);
    expect(lockedRightPassword.observed.messages).toContain('login.invalid');
    expect(lockedRightPassword.elapsedAtLeastMinimum).toBe(true);
    expect(wrongPassword.elapsedAtLeastMinimum).toBe(true);
  });
});

describe('a browser that signed in before (device cookie)', () => {
  async function knownBrowser(user: User): Promise<Browser> {
    const page = await new SignInPage(user.username).open();
    const answer = await page.submit(PASSWORD);
    expect(signedIn(answer)).toBe(true);
    const cookie = answer.headers.getSetCookie().find((c) => c.startsWith(`${DEVICE_COOKIE}=`));
    expect(cookie).toMatch(/; path=\//i);
    expect(cookie).toMatch(/; httponly/i);
    expect(cookie).toMatch(/; samesite=lax/i);
    expect(cookie).toMatch(/; max-age=\d+|; expires=/i);
    return page.browser;
  }

  it('still signs in while the account is locked for everyone else', async () => {
    const user = await createUser(server);
    const owner = await knownBrowser(user);
    await failMany(user, threshold);
    expect(refused(await tryOnce(user, PASSWORD))).toBe(true);
    expect(signedIn(await (await new SignInPage(user.username, owner).open()).submit(PASSWORD))).toBe(true);
  });

  it("locks only itself with its own failures; a forged or another account's cookie counts for the account", async () => {
    const user = await createUser(server);
    const owner = await knownBrowser(user);
    await failMany(user, threshold, await new SignInPage(user.username, owner).open());
    expect(refused(await (await new SignInPage(user.username, owner).open()).submit(PASSWORD))).toBe(true);
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0 });

    // A cookie whose signature does not match, and a genuine one of another account, are no device of this one.
    const forged = new Browser();
    const [device] = (await owner.jar.getCookies(server.origin)).filter((c) => c.key === DEVICE_COOKIE);
    await forged.jar.setCookie(`${DEVICE_COOKIE}=${device!.value.slice(0, -2)}xx; Path=/`, server.origin);
    await failMany(user, 1, await new SignInPage(user.username, forged).open());
    const someoneElse = await knownBrowser(await createUser(server));
    await failMany(user, 1, await new SignInPage(user.username, someoneElse).open());
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 2 });

    // Everyone else can still sign in: the owner's browser locked only itself.
    expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
  });
});

describe('a successful sign-in', () => {
  it('clears the count: twice nine failures with a success between do not lock', async () => {
    const user = await createUser(server);
    await failMany(user, threshold - 1);
    expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
    expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ locked: false, failures: 0 });
    await failMany(user, threshold - 1);
    expect(signedIn(await tryOnce(user, PASSWORD))).toBe(true);
  });
});
