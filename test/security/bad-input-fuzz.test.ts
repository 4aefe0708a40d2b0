// Bad input, generated (fast-check): every form a person reaches (sign-in, consent, each recovery step, the account's
// own pages: change of password, security info) and every
// endpoint a relying party calls, sent malformed, oversized, with fields missing, repeated or foreign, without its
// cookies or CSRF token, with the wrong method or content type, or at a path that does not exist. Each request must
// get a clear answer (never a 5xx; an error page or a JSON error carrying a support code) and change nothing: no
// message sent, no account, session, grant, token or recovery flow changed, and the real flows it aimed at still
// finish afterwards.
//
// The run is reproducible: FUZZ_SEED (default below) and FUZZ_RUNS choose it; a failure prints the seed and the
// shrunk request that failed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Db } from 'mongodb';
import { Browser, allForms, findForm, type Form, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, registerMethods, sendCode, waitFor } from '../helpers/recovery.ts';
import { MANY_SIGN_IN_FAILURES, startTestServer, type TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261130);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** A form of a live page, with the cookies of the browser it was shown to. */
interface LiveForm extends Form {
  cookie: string;
  /** Which page it is on: the forms of one page share their CSRF token. */
  page: string;
}

let server: TestServer;
let user: User;
let redirectUri: string;
let clientId: string;
/** The forms fuzzed: each page of a sign-in and of a recovery, opened for real and left waiting. */
let forms: LiveForm[];
let recovery: { browser: Browser; codePage: Page };
let signIn: { browser: Browser; loginPage: Page };
let securityInfo: { browser: Browser; page: Page };
let endpoints: { token: string; introspection: string; revocation: string; userinfo: string; endSession: string; authorization: string };

async function live(browser: Browser, page: Page): Promise<LiveForm[]> {
  const cookie = await browser.jar.getCookieString(page.url);
  return allForms(page).map((form) => ({ ...form, cookie, page: page.url }));
}

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, SIGNIN_FAILURE_MIN_MS: '0' });
  // Every request comes from 127.0.0.1: the per-address budgets are raised so that none of them is what refuses.
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 100_000, perIpHour: 100_000, ...MANY_SIGN_IN_FAILURES } });
  user = await createUser(server);
  await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net`, mobilePhone: '+14155552671', authenticator: true });
  const metadata = await createClient(server);
  redirectUri = metadata.redirect_uris[0]!;
  clientId = metadata.client_id;
  const rp = await discover(server, metadata);
  const discovery = rp.serverMetadata();
  endpoints = {
    token: discovery.token_endpoint!,
    introspection: discovery.introspection_endpoint!,
    revocation: discovery.revocation_endpoint!,
    userinfo: discovery.userinfo_endpoint!,
    endSession: discovery.end_session_endpoint!,
    authorization: discovery.authorization_endpoint!,
  };

  // A sign-in page, and a consent page of another browser that signed in.
  const signInBrowser = new Browser();
  const loginPage = await openLoginPage(signInBrowser, (await authorizationUrl(rp, redirectUri)).url);
  signIn = { browser: signInBrowser, loginPage };
  const consentBrowser = new Browser();
  const consentPage = await consentBrowser.follow(await submitLogin(consentBrowser, await openLoginPage(consentBrowser, (await authorizationUrl(rp, redirectUri)).url), user.username), redirectUri);
  findForm(consentPage, '/confirm');

  // Each recovery step, in a browser of its own, left on that step; the last one holds an emailed code.
  const identifyBrowser = new Browser();
  const identifyPage = await identifyBrowser.get(`${server.origin}/recover`);
  const goalBrowser = new Browser();
  const goalPage = await identify(server, goalBrowser, user.username);
  const methodBrowser = new Browser();
  const methodPage = await chooseGoal(methodBrowser, await identify(server, methodBrowser, user.username), 'reset');
  const codeBrowser = new Browser();
  const codePage = await sendCode(codeBrowser, await chooseMethod(codeBrowser, await chooseGoal(codeBrowser, await identify(server, codeBrowser, user.username), 'reset'), 'email'));
  findForm(codePage, '/code');
  // Delivered before the test counts what is stored: the email leaves through the outbox after the answer.
  await waitFor(async () => ((await outbox(server)).some((m) => m.channel === 'email') ? true : undefined), 'the emailed code');
  recovery = { browser: codeBrowser, codePage };

  // The account's own pages: the forms asking for the current password, and the security info page its right
  // password opened, left waiting for a proof of a registered method.
  const changeBrowser = new Browser();
  const changePage = await changeBrowser.get(`${server.origin}/account/password`);
  const infoBrowser = new Browser();
  const infoPage = await infoBrowser.get(`${server.origin}/account/security-info`);
  const stepBrowser = new Browser();
  const opened = await stepBrowser.post(`${server.origin}/account/security-info`, { ...findForm(await stepBrowser.get(`${server.origin}/account/security-info`), '/account/security-info').fields, login: user.username, current: PASSWORD });
  const stepPage = await stepBrowser.follow(opened);
  findForm(stepPage, '/prove');
  securityInfo = { browser: stepBrowser, page: stepPage };

  forms = [
    ...(await live(signInBrowser, loginPage)),
    ...(await live(consentBrowser, consentPage)),
    ...(await live(identifyBrowser, identifyPage)),
    ...(await live(goalBrowser, goalPage)),
    ...(await live(methodBrowser, methodPage)),
    ...(await live(codeBrowser, codePage)),
    ...(await live(changeBrowser, changePage)),
    ...(await live(infoBrowser, infoPage)),
    ...(await live(stepBrowser, stepPage)),
  ];
}, 60_000);
afterAll(() => server.close());

// ---- what the fuzzer sends -------------------------------------------------------------------------------------

interface Shot {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const shortJunk = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', ' ', '0', '-1', '1e309', 'null', '[]', '{}', '__proto__', 'constructor', '../../etc/passwd', '%00', '\u0000', '<script>alert(1)</script>', "' OR 1=1 --", '{"$gt":""}', 'ｅｍａｉｌ', '\uD800'),
);
/** Any of those, or a value too long for any field (beyond the form body limit too, for the last). */
const junk = fc.oneof({ arbitrary: shortJunk, weight: 5 }, fc.integer({ min: 1, max: 3 }).map((k) => 'x'.repeat([5_000, 17_000, 70_000][k - 1]!)));

/** How a form's request is spoiled: always in at least one way that makes it certainly not a valid submission. */
const formShot = fc
  .record({
    form: fc.integer({ min: 0, max: 1_000 }),
    csrf: fc.constantFrom('keep', 'drop', 'junk', 'foreign'),
    cookie: fc.constantFrom('keep', 'drop', 'junk'),
    method: fc.constantFrom('POST', 'POST', 'GET', 'PUT', 'DELETE', 'PATCH'),
    path: fc.constantFrom('keep', 'keep', 'suffix', 'other-id', 'encoded'),
    encoding: fc.constantFrom('form', 'form', 'json', 'text', 'multipart', 'none', 'broken-utf8', 'repeated'),
    fields: fc.dictionary(fc.oneof(fc.constantFrom('login', 'password', 'identifier', 'captcha', 'captchaId', 'goal', 'method', 'code', 'phone', 'action', 'from', 'newPassword', 'confirm'), fc.string({ maxLength: 12 })), junk, { maxKeys: 4 }),
    drop: fc.subarray(['login', 'password', 'identifier', 'captcha', 'captchaId', 'goal', 'method', 'code', 'phone', 'action', 'from']),
    junkCsrf: shortJunk,
    junkCookie: fc.string({ maxLength: 200 }),
  })
  .filter((s) => s.csrf !== 'keep' || s.cookie !== 'keep' || s.method !== 'POST' || s.path !== 'keep' || s.encoding !== 'form')
  .map((s): Shot => {
    const form = forms[s.form % forms.length]!;
    const url = new URL(form.action);
    if (s.path === 'suffix') url.pathname += '/x';
    if (s.path === 'other-id') {
      const elsewhere = url.pathname.replace(/\/(recover|interaction|account\/security-info)\/[^/]+/, '/$1/AAAAAAAAAAAAAAAAAAAAAA');
      // A form with no id in its path (/account/password) is spoiled as a path that does not exist instead.
      url.pathname = elsewhere === url.pathname ? `${url.pathname}/AAAAAAAAAAAAAAAAAAAAAA` : elsewhere;
    }
    if (s.path === 'encoded') url.pathname = url.pathname.replace(/\/([^/]+)$/, '/%2e%2e%2f$1%00');
    const fields: Record<string, string> = { ...form.fields };
    for (const name of s.drop) delete fields[name];
    Object.assign(fields, s.fields);
    if (s.csrf === 'drop') delete fields.csrf;
    if (s.csrf === 'junk') fields.csrf = s.junkCsrf;
    if (s.csrf === 'foreign') fields.csrf = forms.find((other) => other.page !== form.page && other.fields.csrf)!.fields.csrf!;
    const headers: Record<string, string> = { accept: 'text/html' };
    if (s.cookie === 'keep' && form.cookie) headers.cookie = form.cookie;
    if (s.cookie === 'junk') headers.cookie = s.junkCookie.replace(/[^ -~]/g, '') || 'a=b'; // printable ASCII: what fetch lets a header hold
    const encoded = new URLSearchParams(fields).toString();
    const bodies: Record<string, [string | undefined, string]> = {
      form: ['application/x-www-form-urlencoded', encoded],
      json: ['application/json', JSON.stringify(fields)],
      text: ['text/plain', encoded],
      multipart: ['multipart/form-data; boundary=x', `--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n${fields.csrf ?? ''}\r\n--x--`],
      none: [undefined, ''],
      'broken-utf8': ['application/x-www-form-urlencoded', `${encoded}&login=%C3%28%E0%A4%A`],
      repeated: ['application/x-www-form-urlencoded', `${encoded}&${encoded}`],
    };
    const [type, body] = bodies[s.encoding]!;
    if (type) headers['content-type'] = type;
    const hasBody = s.method !== 'GET';
    return { method: s.method, url: url.href, headers, ...(hasBody && { body }) };
  });

/** Requests a relying party (or someone posing as one) makes, with parameters and credentials made up. */
const params = fc.dictionary(
  fc.oneof(fc.constantFrom('client_id', 'redirect_uri', 'response_type', 'scope', 'grant_type', 'code', 'refresh_token', 'token', 'token_type_hint', 'code_verifier', 'state', 'nonce', 'id_token_hint', 'post_logout_redirect_uri', 'prompt', 'max_age', 'claims', 'request', 'resource'), fc.string({ maxLength: 10 })),
  fc.oneof({ arbitrary: shortJunk, weight: 5 }, fc.constant('x'.repeat(2_000))), // a GET's URL counts as a header: six of these stay under 16 KB
  { maxKeys: 6 },
);
// Short values only: Node's HTTP parser refuses headers over 16 KB itself (431, no body), before any of our code.
const authorization = fc.oneof(
  fc.constant(undefined),
  shortJunk.map((s) => `Basic ${Buffer.from(s).toString('base64')}`),
  fc.constantFrom('Basic ', 'Basic !!!', 'Bearer ', 'Bearer x', 'Negotiate abc'),
  shortJunk.map((s) => `Bearer ${s.replace(/[^\x21-\x7e]/g, '')}`),
);
const endpointShot = fc
  .record({
    endpoint: fc.constantFrom('token', 'introspection', 'revocation', 'userinfo', 'endSession', 'authorization'),
    method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'DELETE'),
    params,
    authorization,
    realClient: fc.boolean(),
    type: fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', undefined),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
  })
  .map((s): Shot => {
    const url = new URL(endpoints[s.endpoint]);
    // A real client id now and then, so requests get past the client lookup; never with its secret or a redirect
    // URI of its own, so nothing is granted.
    const fields = { ...s.params, ...(s.realClient && { client_id: clientId }) };
    const headers: Record<string, string> = { accept: s.accept, ...(s.authorization && { authorization: s.authorization }), ...(s.type && { 'content-type': s.type }) };
    if (s.method === 'GET') {
      for (const [k, v] of Object.entries(fields)) url.searchParams.set(k, v);
      return { method: s.method, url: url.href, headers };
    }
    return { method: s.method, url: url.href, headers, body: s.type === 'application/json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString() };
  });

/** Pages and files fetched at made-up addresses: flows, interactions, CAPTCHAs, "This wasn't me" links. */
const pathShot = fc
  .record({
    base: fc.constantFrom('/recover/', '/interaction/', '/captcha/', '/recover/lockdown/', '/dev/outbox', '/', '/oidc/', '/static/', '/account/', '/account/security-info/'),
    rest: fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('..%2f..%2fpackage.json', '%', '%zz', 'a'.repeat(5000), 'x.svg', 'x.wav', '.json')),
    method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'OPTIONS'),
  })
  .map((s): Shot => ({ method: s.method, url: server.origin + s.base + encodeURI(s.rest).replace(/%25/g, '%'), headers: { accept: 'text/html' } }));

// ---- what every answer must be --------------------------------------------------------------------------------

async function send(shot: Shot): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(shot.url, { method: shot.method, headers: shot.headers, redirect: 'manual', ...(shot.body !== undefined && { body: shot.body }) });
  return { status: response.status, type: response.headers.get('content-type') ?? '', body: await response.text() };
}

/** An error answer a person or a developer can act on: its support code is there to quote. */
function carriesSupportCode(answer: { type: string; body: string }): boolean {
  if (answer.type.startsWith('application/json')) {
    const json = JSON.parse(answer.body) as { error?: unknown; support_code?: unknown };
    return typeof json.error === 'string' && typeof json.support_code === 'string' && json.support_code.length > 0;
  }
  return /data-message-id="(error\.support_code|recover\.support_none|recover\.support_link)"/.test(answer.body);
}

async function checkAnswer(shot: Shot): Promise<void> {
  const answer = await send(shot);
  const where = `${shot.method} ${shot.url.slice(0, 200)} → ${answer.status}`;
  expect({ where, serverError: answer.status >= 500 }).toEqual({ where, serverError: false });
  // HEAD has no body to carry anything; 405/404 for it are still checked for status above.
  if (answer.status >= 400 && shot.method !== 'HEAD') expect({ where, supportCode: carriesSupportCode(answer) }).toEqual({ where, supportCode: true });
}

/**
 * Every collection, except what an answer rightly leaves behind: the audit events of refusals, the CAPTCHA of any
 * page that shows one (a GET of /recover/ is not bad input), and anonymous sessions (the provider keeps one, with its
 * uid alias, for any visitor shown its sign-out page); sessions of an account and the account's index are compared.
 */
const MAY_CHANGE = new Set(['audit_events', 'captchas']);
type StoredDoc = { _id: unknown; payload?: { accountId?: string } };
const compared = (name: string, doc: StoredDoc) => name !== 'oidc_session' || Boolean(doc.payload?.accountId) || String(doc._id).startsWith('account:');

async function state(db: Db): Promise<Record<string, unknown[]>> {
  const names = (await db.listCollections().toArray()).map((c) => c.name).filter((name) => !MAY_CHANGE.has(name)).sort();
  const read = async (name: string) => (await db.collection<StoredDoc>(name).find({}).sort({ _id: 1 }).toArray()).filter((doc) => compared(name, doc));
  return Object.fromEntries(await Promise.all(names.map(async (name) => [name, await read(name)] as const)));
}

describe('bad input, generated', () => {
  it('each gets a clear answer with a support code and changes nothing; the real flows still finish', async () => {
    const db = server.connection.db!;
    const before = await state(db);
    const messagesBefore = (await outbox(server)).length;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: formShot, weight: 6 }, { arbitrary: endpointShot, weight: 3 }, { arbitrary: pathShot, weight: 1 }), checkAnswer),
      { seed: SEED, numRuns: RUNS, endOnFailure: false },
    );
    const after = await state(db);
    expect(Object.keys({ ...before, ...after }).filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]))).toEqual([]);
    expect(after).toEqual(before);
    expect((await outbox(server)).length).toBe(messagesBefore);

    // The flows every request aimed at still finish: the code emailed (read from the development outbox) moves the
    // recovery on, and the waiting sign-in signs in.
    const messages = await outbox(server);
    const code = /\b(\d{6})\b/.exec(messages.find((m) => m.channel === 'email')!.text)![1]!;
    const next = await enterCode(recovery.browser, recovery.codePage, code);
    expect(next.status).toBe(200);
    expect(next.body).toMatch(/data-message-id="recover\.(choose_second|new_password)/);
    const signedIn = await submitLogin(signIn.browser, signIn.loginPage, user.username, PASSWORD);
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toContain('/oidc/auth/');
    // And the security info page opened before them confirms.
    const done = findForm(securityInfo.page, '/done');
    const confirmed = await securityInfo.browser.post(done.action, done.fields);
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe('/account/security-info/done');
  }, 600_000);
});
