// What the verification methods promise beyond a single flow: the code hashes cannot be undone from a copy of the
// database, an authenticator code older than one already used is refused, the policy's allowed countries hold for
// security notices too, and a phone the policy no longer texts does not leave its mailbox enough for the account.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, expect, it } from '@jest/globals';
import { allForms, Browser, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { MANY_SIGN_IN_FAILURES, startTestServer, type TestServer } from '../helpers/server.ts';
import { startSmtpSink, type SmtpSink } from '../delivery/smtp-sink.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, emailedCode, enterCode, identify, outbox, registerMethods, sendCode, settledCount, submit, waitFor } from '../helpers/recovery.ts';
import { CHALLENGES } from '../../src/security/challenges.ts';

const NEW_PASSWORD = 'a brand new passphrase for latchkey';

let server: TestServer;
let sink: SmtpSink;
let offset = 0;

beforeAll(async () => {
  sink = await startSmtpSink();
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, SMTP_URL: sink.url }, { clock: () => Date.now() + offset });
});
afterAll(async () => {
  await server.close();
  await sink.close();
});

const GENEROUS = { perDestination10Min: 50, perDestinationHour: 50, perIpHour: 500, perAccountHour: 50, proofAttemptsPerDay: 50, flowsPerIpHour: 500, proofAttemptsPerIpHour: 100_000, ...MANY_SIGN_IN_FAILURES };
async function setPolicy(settings: Record<string, unknown> = {}) {
  await server.latchkey.policy.save({ methodsRequired: 1, ...settings, limits: GENEROUS });
}
beforeEach(async () => {
  offset = 0;
  await setPolicy();
});

const startReset = async (browser: Browser, login: string) => chooseGoal(browser, await identify(server, browser, login), 'reset');

it('keys the hashes of sent codes with more than the database holds: a copy of it does not give the code away', async () => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const browser = new Browser();
  const sent = await sendCode(browser, await chooseMethod(browser, await startReset(browser, user.username), 'email'));
  const mailed = await emailedCode(sink, alternateEmail);

  // Everything the database holds about it: its shared secret and the code's challenge. With a key from these alone,
  // every six-digit code is tried, as someone with a backup would.
  const db = server.connection.db!;
  const secrets = await db.collection('secrets').find({}).toArray();
  const [challenge] = (await db.collection(CHALLENGES).find({}).toArray()) as unknown as Array<{ _id: string; codeHash: string }>;
  const fromDatabase = secrets.map((doc) => createHmac('sha256', String(doc.value)).update('code-hash').digest('base64url'));
  const hash = (key: string, code: string) => createHmac('sha256', key).update(`${challenge!._id}\u0000${code}`).digest('base64url');
  expect(fromDatabase.length).toBeGreaterThan(0);
  for (const key of fromDatabase) {
    for (let n = 0; n < 1_000_000; n += 1) {
      if (n % 20_000 === 0) await new Promise((resolve) => setImmediate(resolve)); // the server shares this thread
      const code = String(n).padStart(6, '0');
      if (hash(key, code) === challenge!.codeHash) throw new Error(`the code ${code} came out of the database alone`);
    }
  }
  // The code is still the one that works.
  expect(messageIds(await enterCode(browser, sent, mailed))).toContain('recover.password_heading');
});

it('refuses an authenticator code older than one already used', async () => {
  const user = await createUser(server);
  const { totp } = await registerMethods(server, user, { authenticator: true });
  // 10 seconds into a 30-second step: the code of the step before is still within its window.
  offset = 30_000 - (Date.now() % 30_000) + 10_000;
  const now = Math.floor((Date.now() + offset) / 1000);
  const atAuthenticator = async () => {
    const browser = new Browser();
    return { browser, page: await chooseMethod(browser, await startReset(browser, user.username), 'totp') };
  };
  const owner = await atAuthenticator();
  expect(messageIds(await enterCode(owner.browser, owner.page, totp(now)))).toContain('recover.password_heading');
  // A code from the step before, held back (by a phishing page, say) and tried after the owner used the newer one.
  const attacker = await atAuthenticator();
  const refused = await enterCode(attacker.browser, attacker.page, totp(now - 30));
  expect(messageIds(refused)).not.toContain('recover.password_heading');
  expect(messageIds(refused)).toContain('recover.totp_wrong');
});

it('texts security notices only to numbers in the countries the policy allows', async () => {
  await setPolicy({ allowedCountryCodes: ['1'] });
  const abroad = await createUser(server);
  const abroadPhone = '+447400123456';
  const { totp } = await registerMethods(server, abroad, { alternateEmail: `alt-${abroad.username}@example.net`, mobilePhone: abroadPhone, authenticator: true });
  const home = await createUser(server);
  const homePhone = '+14155553456';
  await registerMethods(server, home, { alternateEmail: `alt-${home.username}@example.net`, mobilePhone: homePhone });

  // A reset (by the authenticator) and a lockout (anyone can cause one) for the account whose phone is abroad.
  const browser = new Browser();
  const passwordPage = await enterCode(browser, await chooseMethod(browser, await startReset(browser, abroad.username), 'totp'), totp());
  expect(messageIds(await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD }))).toContain('recover.done_reset');
  for (const account of [abroad, home]) {
    for (let i = 0; i < 10; i += 1) await server.latchkey.accounts.signIn(account.username, `not the password ${i}`);
  }
  const lockoutSubject = 'Your account was locked';
  await waitFor(() => (sink.received.filter((m) => m.subject?.includes(lockoutSubject)).length >= 2 ? true : undefined), 'both lockout notices by email');

  const textsTo = (phone: string) => async () => (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === phone).length;
  // Numbers in an allowed country are still told.
  expect(await settledCount(textsTo(homePhone), 1)).toBe(1);
  expect(await textsTo(abroadPhone)()).toBe(0);
});

it('does not let the mailbox alone recover an account whose phone the policy no longer texts', async () => {
  await setPolicy({ allowedCountryCodes: ['1'] });
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail, mobilePhone: '+447400123457' });
  const browser = new Browser();
  // The pages go on as for an unknown login (they show what such a one would: the mailbox or not), and nothing is sent.
  const emailPanel = await chooseMethod(browser, await startReset(browser, user.username), 'email');
  if (allForms(emailPanel).some((form) => form.action.includes('/send'))) {
    expect(messageIds(await sendCode(browser, emailPanel))).toContain('recover.code_label');
  }
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(sink.received.filter((m) => JSON.stringify(m.to).includes(alternateEmail))).toEqual([]);
});

it('shows an unknown login the same decoy methods and hints whatever DATA_ENCRYPTION_KEY is (a change must not tell which logins exist)', async () => {
  // An instance given the next key, the servers' as the one it replaces (a key change under way: one with another key
  // alone does not start, as it cannot open the signing keys).
  const previous = server.config.dataEncryptionKey.toString('hex');
  const other = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, SMTP_URL: sink.url, DATA_ENCRYPTION_KEY: 'b2'.repeat(32), DATA_ENCRYPTION_KEY_PREVIOUS: previous }, { sharedDatabase: server.dbUri });
  try {
    /** What the methods page offers, as a person reads it: each choice's label with its masked hint. */
    const offered = async (at: TestServer, login: string) => {
      const browser = new Browser();
      const page = await chooseGoal(browser, await identify(at, browser, login), 'reset');
      return [...page.body.matchAll(/<label[\s\S]*?<\/label>/g)].map((m) => m[0].replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
    };
    for (let i = 0; i < 6; i += 1) {
      const login = `nobody-${i}@example.org`;
      const here = await offered(server, login);
      expect(here.length).toBeGreaterThan(0);
      expect({ login, offered: await offered(other, login) }).toEqual({ login, offered: here });
    }
  } finally {
    await other.close();
  }
});
