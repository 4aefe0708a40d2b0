// "Your sessions and apps" (/account/sessions; ASVS 7.5.2): after the current password, the browsers signed in to the
// account and the apps it gave access to; one browser, one app or everything can be ended, and what is ended stops
// working at once for the browser (its session) and the relying party (its tokens).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { allForms, Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signedInWithTokens, silentAuthorization, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { outbox, waitFor } from '../helpers/recovery.ts';
import { LOCKDOWN_PATH_PREFIX } from '../../src/flows/recovery/lockdown.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { accountIndexId, collectionName, sessionAliasId } from '../../src/oidc/adapter.ts';
import { IN_FLIGHT_MS } from '../../src/oidc/account-access.ts';
import type { User } from '../../src/accounts/user-model.ts';

const SESSIONS_PATH = '/account/sessions';
const FIREFOX_ON_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const CHROME_ON_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36';
const SAFARI_ON_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.4 Safari/605.1.15';

let server: TestServer;
let config: client.Configuration;
let clientId: string;
let otherApp: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  server = await startTestServer();
  const metadata = await createClient(server, { client_name: 'Expense Reports' });
  clientId = metadata.client_id;
  config = await discover(server, metadata);
  otherApp = await discover(server, await createClient(server, { client_name: 'Timesheets' }));
});
afterAll(() => server.close());

/** A browser (with its own User-Agent) signed in to the account, and the tokens its sign-in gave the RP. */
const signIn = (user: User, userAgent = FIREFOX_ON_LINUX) => signedInWithTokens(config, redirectUri(), user.username, new Browser(undefined, { 'user-agent': userAgent }));

/** What a silent authorization request (prompt=none) in this browser brings back to the RP: a code or an error. */
async function silentSignIn(browser: Browser): Promise<string> {
  const landed = await silentAuthorization(config, redirectUri(), browser);
  return landed.get('error') ?? (landed.get('code') ? 'code' : 'nothing');
}

const refreshOutcome = (tokens: client.TokenEndpointResponse, app = config) =>
  client.refreshTokenGrant(app, tokens.refresh_token!).then(
    () => 'refreshed',
    (error: { error?: string }) => error.error,
  );

/** The sessions page of `browser`, opened with the account's current password. */
async function openSessionsPage(browser: Browser, user: User, password = PASSWORD): Promise<Page> {
  const form = await browser.get(`${server.origin}${SESSIONS_PATH}`);
  expect(form.status).toBe(200);
  expect(messageIds(form)).toContain('sessions.open_intro');
  return browser.follow(await browser.post(`${server.origin}${SESSIONS_PATH}`, { ...findForm(form, SESSIONS_PATH).fields, login: user.username, current: password }));
}

/** The uid of the session the page lists as `browserName` ("Chrome on Windows"), which its Sign out form names. */
const sessionUid = (page: Page, browserName: string) => new RegExp(`data-session="([^"]+)"[^>]*>\\s*<strong>${browserName}`).exec(page.body)![1]!;

/** The rows of the page's list `kind` ('sessions' or 'apps'), as the page words them. */
function rows(page: Page, kind: 'sessions' | 'apps'): string[] {
  const list = new RegExp(`<ul class="methods ${kind}">([\\s\\S]*?)</ul>`).exec(page.body)?.[1] ?? '';
  return [...list.matchAll(/<li[^>]*>([\s\S]*?)<\/li>/g)].map((row) => row[1]!.replace(/<form[\s\S]*?<\/form>/g, '').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim());
}

/** The page's form posting to `…/<name>` for the row holding `field` = `value`. */
function formFor(page: Page, name: string, field?: string, value?: string) {
  const form = allForms(page).find((f) => f.action.endsWith(`/${name}`) && (field === undefined || f.fields[field] === value));
  if (!form) throw new Error(`no ${name} form for ${field}=${value}`);
  return form;
}

const post = async (browser: Browser, form: { action: string; fields: Record<string, string> }, fields: Record<string, string> = {}) =>
  browser.follow(await browser.post(form.action, { ...form.fields, ...fields }));

const audited = (user: User, type: string) => server.connection.db!.collection(AUDIT_COLLECTION).find({ accountId: user._id, type }).toArray();

/** A wrong password typed in `browser` on a sign-in page (prompt=login: asked even with a session). */
async function wrongPasswordFrom(browser: Browser, user: User): Promise<void> {
  const start = await authorizationUrl(config, redirectUri(), { prompt: 'login consent' });
  const answer = await submitLogin(browser, await openLoginPage(browser, start.url), user.username, `not the password ${Math.random()}`);
  expect(messageIds(answer)).toContain('login.invalid');
}

it("forgets an ended session's device cookie: that browser's wrong passwords count for the account again", async () => {
  const user = await createUser(server);
  const { browser: laptop } = await signIn(user, CHROME_ON_WINDOWS);
  // Signed in before: its failures count for itself alone.
  await wrongPasswordFrom(laptop, user);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 0 });

  const owner = new Browser(undefined, { 'user-agent': FIREFOX_ON_LINUX });
  const page = await openSessionsPage(owner, user);
  expect(messageIds(await post(owner, formFor(page, 'end', 'session', sessionUid(page, 'Chrome on Windows'))))).toContain('sessions.ended');
  await wrongPasswordFrom(laptop, user);
  expect(await server.latchkey.accounts.lockoutState(user._id)).toMatchObject({ failures: 1 });
});

it('lists the browsers signed in to the account, this one first, and its apps, only after the current password', async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  await signIn(user, CHROME_ON_WINDOWS);
  await signIn(await createUser(server), CHROME_ON_WINDOWS); // someone else's: never listed

  const refused = await openSessionsPage(here.browser, user, 'not the password');
  expect(messageIds(refused)).toContain('login.invalid');
  expect(messageIds(refused)).not.toContain('sessions.sessions_heading');

  const page = await openSessionsPage(here.browser, user);
  expect(page.status).toBe(200);
  expect(page.url).toMatch(/\/account\/sessions\/[A-Za-z0-9_-]{22}$/);
  expect(messageIds(page)).toEqual(expect.arrayContaining(['sessions.heading', 'sessions.sessions_heading', 'sessions.apps_heading', 'sessions.end_all']));
  const sessions = rows(page, 'sessions');
  expect(sessions).toHaveLength(2);
  expect(sessions[0]).toMatch(/^Firefox on Linux This browser Signed in .* UTC Last used .* UTC Apps used from it: Expense Reports$/);
  expect(sessions[1]).toMatch(/^Chrome on Windows Signed in .* UTC Last used .* UTC Apps used from it: Expense Reports$/);
  expect(rows(page, 'apps')).toEqual([expect.stringMatching(/^Expense Reports Access given .* UTC$/)]);
  expect(allForms(page).filter((form) => form.action.endsWith('/end'))).toHaveLength(2);

  // In French, with the dates in French too.
  const french = await here.browser.get(`${page.url}?lang=fr`);
  expect(rows(french, 'sessions')[0]).toMatch(/^Firefox sur Linux Ce navigateur Connecté le .* UTC Dernière utilisation le .* UTC/);
});

it('keeps when a session was last used, and names a session stored before browsers were kept an unknown browser', async () => {
  const user = await createUser(server);
  const { browser } = await signIn(user);
  const sessions = server.connection.db!.collection<{ _id: string; payload?: { accountId?: string }; signedInAtMs?: number; lastUsedAtMs?: number }>(collectionName('Session'));
  const signedIn = (await sessions.findOne({ 'payload.accountId': user._id }))!;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  expect(await silentSignIn(browser)).toBe('code');
  const used = (await sessions.findOne({ 'payload.accountId': user._id }))!;
  expect(used.lastUsedAtMs).toBeGreaterThanOrEqual(signedIn.lastUsedAtMs! + 1000);
  expect(used.signedInAtMs).toBe(signedIn.signedInAtMs);

  await sessions.updateMany({ 'payload.accountId': user._id }, { $unset: { signedInFrom: '', lastUsedAtMs: '' } });
  expect(rows(await openSessionsPage(browser, user), 'sessions')).toEqual([expect.stringMatching(/^Unknown browser This browser Signed in [^L]* UTC Apps used from it: Expense Reports$/)]);
});

it("Sign out ends that browser's session and its app's tokens, and nothing else; posted again it changes nothing", async () => {
  const user = await createUser(server);
  const other = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  const there = await signIn(user, CHROME_ON_WINDOWS);
  const someoneElse = await signIn(other, CHROME_ON_WINDOWS);

  const page = await openSessionsPage(here.browser, user);
  const thereUid = sessionUid(page, 'Chrome on Windows');
  const endThere = formFor(page, 'end', 'session', thereUid);
  const after = await post(here.browser, endThere);
  expect(after.url).toBe(page.url);
  expect(messageIds(after)).toContain('sessions.ended');
  expect(rows(after, 'sessions')).toEqual([expect.stringMatching(/^Firefox on Linux This browser/)]);

  expect(await silentSignIn(there.browser)).toBe('login_required');
  expect(await refreshOutcome(there.tokens)).toBe('invalid_grant');
  expect(await server.connection.db!.collection<{ _id: string }>(collectionName('Session')).countDocuments({ _id: sessionAliasId(thereUid) })).toBe(0);
  // This browser, and the other account, are untouched.
  expect(await silentSignIn(here.browser)).toBe('code');
  expect(await refreshOutcome(here.tokens)).toBe('refreshed');
  expect(await audited(user, 'account.session_ended')).toEqual([expect.objectContaining({ reason: 'owner', ip: expect.any(String), supportCode: expect.any(String) })]);

  // The same form again (a double click, the back button), and another account's session by its uid: nothing ends.
  expect(messageIds(await post(here.browser, endThere))).toContain('sessions.already_gone');
  const otherUid = (await server.connection.db!.collection<{ payload: { uid: string } }>(collectionName('Session')).findOne({ 'payload.accountId': other._id }))!.payload.uid;
  expect(messageIds(await post(here.browser, endThere, { session: otherUid }))).toContain('sessions.already_gone');
  expect(await silentSignIn(someoneElse.browser)).toBe('code');
  expect(await refreshOutcome(someoneElse.tokens)).toBe('refreshed');
  expect(await audited(user, 'account.session_ended')).toHaveLength(1);
});

it("Remove access revokes the app's tokens from every browser, and its next sign-in asks for consent again", async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  const there = await signIn(user, CHROME_ON_WINDOWS);
  const otherAppTokens = (await signedInWithTokens(otherApp, redirectUri(), user.username, here.browser)).tokens;
  const someoneElse = await signIn(await createUser(server)); // the same app, another account: untouched
  // A grant its session holds but the account's index lost (two index writes racing on FerretDB) goes too.
  const index = server.connection.db!.collection<{ _id: string; grants?: string[] }>(collectionName('Grant'));
  const thereGrant = (await server.connection.db!.collection<{ _id: string; payload: { authorizations: Record<string, { grantId: string }> } }>(collectionName('Session')).findOne({ 'payload.accountId': user._id, signedInFrom: CHROME_ON_WINDOWS }))!.payload.authorizations[clientId]!.grantId;
  await index.updateOne({ _id: accountIndexId(user._id) }, { $pullAll: { grants: [thereGrant] } });

  const page = await openSessionsPage(here.browser, user);
  expect(rows(page, 'apps').map((row) => row.split(' Access')[0])).toEqual(['Expense Reports', 'Timesheets']);
  const after = await post(here.browser, formFor(page, 'remove-app', 'client', clientId));
  expect(messageIds(after)).toContain('sessions.app_removed');
  expect(rows(after, 'apps').map((row) => row.split(' Access')[0])).toEqual(['Timesheets']);
  // The browsers no longer name it among the apps used from them.
  expect(rows(after, 'sessions')).toEqual([expect.stringMatching(/^Firefox on Linux This browser Signed in .* UTC Last used .* UTC Apps used from it: Timesheets$/), expect.stringMatching(/^Chrome on Windows Signed in .* UTC Last used .* UTC$/)]);
  expect(await refreshOutcome(otherAppTokens, otherApp)).toBe('refreshed');
  expect(await refreshOutcome(someoneElse.tokens)).toBe('refreshed');

  for (const { tokens } of [here, there]) {
    expect(await refreshOutcome(tokens)).toBe('invalid_grant');
    expect((await client.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
  }
  // The browsers stay signed in; the app must ask again.
  expect(await silentSignIn(there.browser)).toBe('consent_required');
  expect(await audited(user, 'account.app_removed')).toEqual([expect.objectContaining({ reason: 'owner', target: clientId })]);
  expect(messageIds(await post(here.browser, formFor(page, 'remove-app', 'client', clientId)))).toContain('sessions.already_gone');
});

it('Sign out everywhere ends every session and token, this browser too, says so once, and keeps the password', async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  const there = await signIn(user, CHROME_ON_WINDOWS);

  const page = await openSessionsPage(here.browser, user);
  const endAll = formFor(page, 'end-all');
  const answer = await here.browser.post(endAll.action, endAll.fields);
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toBe(`${SESSIONS_PATH}/done`);
  const done = await here.browser.follow(answer);
  expect(messageIds(done)).toContain('sessions.done_body');
  expect(done.body).toContain(user.username);
  // Said once: a reload leads back to the password.
  expect((await here.browser.get(done.url)).headers.get('location')).toBe(SESSIONS_PATH);

  for (const { browser, tokens } of [here, there]) {
    expect(await silentSignIn(browser)).toBe('login_required');
    expect(await refreshOutcome(tokens)).toBe('invalid_grant');
  }
  expect(await audited(user, 'account.signed_out')).toEqual([expect.objectContaining({ reason: 'owner' })]);
  // The owner is told, with "This wasn't me": only someone with the password could do it.
  const told = await waitFor(async () => (await outbox(server)).find((m) => m.to === user.email && m.subject === 'Your account was signed out everywhere'), 'the notice');
  expect(told.text).toContain(`${server.origin}${LOCKDOWN_PATH_PREFIX}`);
  // The page's step is used up: its forms and its address lead back to the password.
  expect((await here.browser.get(page.url)).headers.get('location')).toBe(`${SESSIONS_PATH}?again=1`);
  const again = await here.browser.post(endAll.action, endAll.fields);
  expect(again.headers.get('location')).toBe(`${SESSIONS_PATH}?again=1`);
  expect(await audited(user, 'account.signed_out')).toHaveLength(1);
  // The password still signs in.
  expect(await refreshOutcome((await signIn(user)).tokens)).toBe('refreshed');
});

it('a double click on Sign out everywhere does it once, and both answers lead to the page saying so', async () => {
  const user = await createUser(server);
  const here = await signIn(user);
  const endAll = formFor(await openSessionsPage(here.browser, user), 'end-all');
  // Both sent before either answer (the browser shows the answer to the last).
  const answers = await Promise.all([here.browser.post(endAll.action, endAll.fields), here.browser.post(endAll.action, endAll.fields)]);
  expect(answers.map((answer) => [answer.status, answer.headers.get('location')])).toEqual([
    [303, `${SESSIONS_PATH}/done`],
    [303, `${SESSIONS_PATH}/done`],
  ]);
  expect(messageIds(await here.browser.follow(answers[1]!))).toContain('sessions.done_body');
  expect(await audited(user, 'account.signed_out')).toHaveLength(1);
  expect(await silentSignIn(here.browser)).toBe('login_required');
});

it("an administrator's action on the account voids the page: Sign out everywhere leads back to the password and ends nothing", async () => {
  const user = await createUser(server);
  const here = await signIn(user);
  const page = await openSessionsPage(here.browser, user);
  await server.latchkey.accounts.setStatus(user._id, 'disabled');
  await server.latchkey.accounts.setStatus(user._id, 'active');
  const answer = await here.browser.post(formFor(page, 'end-all').action, formFor(page, 'end-all').fields);
  expect(answer.headers.get('location')).toBe(`${SESSIONS_PATH}?again=1`);
  expect(messageIds(await here.browser.follow(answer))).toContain('sessions.open_again');
  expect(await audited(user, 'account.signed_out')).toHaveLength(0);
});

it("refuses the page's forms without its CSRF token, and its address in another browser", async () => {
  const user = await createUser(server);
  const here = await signIn(user);
  const page = await openSessionsPage(here.browser, user);
  const session = formFor(page, 'end');

  const forged = await here.browser.post(session.action, { session: session.fields.session! });
  expect(forged.status).toBe(403);
  // A token of another form (the password form's) is not this page's.
  const passwordForm = findForm(await here.browser.get(`${server.origin}${SESSIONS_PATH}`), SESSIONS_PATH);
  expect((await here.browser.post(session.action, { ...session.fields, csrf: passwordForm.fields.csrf! })).status).toBe(403);
  const intruder = new Browser();
  expect((await intruder.get(page.url)).headers.get('location')).toBe(`${SESSIONS_PATH}?again=1`);
  expect(await silentSignIn(here.browser)).toBe('code');
  expect(await audited(user, 'account.session_ended')).toHaveLength(0);
});

it("signs this browser out too, and a session saved again by a request already under way is ended again", async () => {
  const user = await createUser(server);
  const here = await signIn(user);
  const page = await openSessionsPage(here.browser, user);
  const sessions = server.connection.db!.collection<{ _id: string; payload?: { accountId?: string } }>(collectionName('Session'));
  const before = await sessions.find({ $or: [{ 'payload.accountId': user._id }, { _id: sessionAliasId(formFor(page, 'end').fields.session!) }] }).toArray();
  expect(before).toHaveLength(2); // the session and its alias

  expect(messageIds(await post(here.browser, formFor(page, 'end')))).toContain('sessions.none');
  // As the adapter's upsert of a request that had read the session before would write them back, just after.
  for (const doc of before) await sessions.replaceOne({ _id: doc._id }, doc, { upsert: true });
  const left = () => sessions.countDocuments({ _id: { $in: before.map((doc) => doc._id) } });
  expect(await left()).toBe(2);
  const deadline = Date.now() + IN_FLIGHT_MS + 15_000;
  while ((await left()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  expect(await left()).toBe(0);
  expect(await silentSignIn(here.browser)).toBe('login_required');
  expect(await audited(user, 'account.session_ended')).toHaveLength(1);
}, 40_000);

it('lists a browser that signed in before hundreds of sign-ins ended since, and says when the history is longer than it reads', async () => {
  const user = await createUser(server);
  await signIn(user, CHROME_ON_WINDOWS); // the browser someone would hide
  const index = server.connection.db!.collection<{ _id: string; sessions?: string[] }>(collectionName('Session'));
  // What sign-ins that signed out again leave in the account's index, newer than it: entries whose sessions are gone.
  const endedSince = async (from: number, count: number) => {
    const keys = Array.from({ length: count }, (_, i) => `ended-session-${from + i}`);
    await index.updateOne({ _id: accountIndexId(user._id) }, { $push: { sessions: { $each: keys } } });
  };
  await endedSince(0, 300);
  const page = await openSessionsPage(new Browser(), user);
  expect(rows(page, 'sessions').map((row) => row.split(' Signed in')[0])).toEqual(['Chrome on Windows']);
  // The password that opened the page is in the log, as a sign-in's is.
  expect(server.logs.map((line) => JSON.parse(line) as Record<string, unknown>)).toContainEqual(expect.objectContaining({ event: 'signin.succeeded', via: 'sessions', accountId: user._id }));
  expect(messageIds(page)).not.toContain('sessions.partial');

  // Past what a page reads: it says that it may not show everything, and what to do.
  await endedSince(300, 2000);
  const longer = await openSessionsPage(new Browser(), user);
  expect(messageIds(longer)).toEqual(expect.arrayContaining(['sessions.partial', 'sessions.end_all']));
}, 60_000);

it('keeps a browser signed out while it goes on sending requests (a stolen cookie in a loop): none brings its session back', async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  const there = await signIn(user, CHROME_ON_WINDOWS);
  const page = await openSessionsPage(here.browser, user);
  const endThere = formFor(page, 'end', 'session', sessionUid(page, 'Chrome on Windows'));
  // The other browser asks for sign-ins without a prompt, three at a time, without a pause: at any moment one of them
  // has read the session and will save it at its end.
  let going = true;
  const outcomes: string[] = [];
  const loops = [0, 1, 2].map(async () => {
    while (going) outcomes.push(await silentSignIn(there.browser));
  });
  try {
    while (outcomes.length < 6) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(messageIds(await post(here.browser, endThere))).toContain('sessions.ended');
    // Past the instance's second pass, with requests still coming.
    await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_MS + 1500));
  } finally {
    going = false;
    await Promise.all(loops);
  }
  expect(outcomes.at(-1)).toBe('login_required');
  expect(await silentSignIn(there.browser)).toBe('login_required');
  expect(await silentSignIn(here.browser)).toBe('code');
}, 40_000);

it('spares, when ending again, a session saved again that was signed in to since', async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  await signIn(user, CHROME_ON_WINDOWS);
  await signIn(user, SAFARI_ON_MAC);
  const page = await openSessionsPage(here.browser, user);
  const sessions = server.connection.db!.collection<{ _id: string; payload?: unknown; signedInAtMs?: number }>(collectionName('Session'));
  const stored = (uid: string) => sessions.find({ $or: [{ 'payload.uid': uid }, { _id: sessionAliasId(uid) }] }).toArray();
  const [signedInSince, stale] = [sessionUid(page, 'Chrome on Windows'), sessionUid(page, 'Safari on macOS')];
  const saved = new Map([[signedInSince, await stored(signedInSince)], [stale, await stored(stale)]]);
  for (const docs of saved.values()) expect(docs).toHaveLength(2); // each session and its alias
  // In this order, so the spared session's second pass comes first.
  for (const uid of saved.keys()) expect(messageIds(await post(here.browser, formFor(page, 'end', 'session', uid)))).toContain('sessions.ended');
  // Both written back, as a request under way would; one as a sign-in in that browser after Sign out would save it.
  for (const [uid, docs] of saved) {
    for (const doc of docs) {
      const again = uid === signedInSince && doc.payload !== undefined ? { ...doc, signedInAtMs: Date.now() } : doc;
      await sessions.replaceOne({ _id: doc._id }, again, { upsert: true });
    }
  }
  const left = async (uid: string) => (await stored(uid)).length;
  const deadline = Date.now() + IN_FLIGHT_MS + 15_000;
  while ((await left(stale)) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 250));
  expect(await left(stale)).toBe(0);
  expect(await left(signedInSince)).toBe(2);
}, 40_000);

it('a double click on Sign out ends the session once, audited once', async () => {
  const user = await createUser(server);
  const here = await signIn(user, FIREFOX_ON_LINUX);
  const there = await signIn(user, CHROME_ON_WINDOWS);
  const page = await openSessionsPage(here.browser, user);
  const endThere = formFor(page, 'end', 'session', sessionUid(page, 'Chrome on Windows'));
  const answers = await Promise.all([post(here.browser, endThere), post(here.browser, endThere)]);
  expect(answers.flatMap((answer) => messageIds(answer)).filter((id) => id === 'sessions.ended' || id === 'sessions.already_gone')).toHaveLength(2);
  expect(await silentSignIn(there.browser)).toBe('login_required');
  expect(await audited(user, 'account.session_ended')).toHaveLength(1);
});

it('users sessions shows an administrator where the account is signed in and which applications have access', async () => {
  const user = await createUser(server);
  await signIn(user, FIREFOX_ON_LINUX);
  await signIn(await createUser(server), CHROME_ON_WINDOWS); // someone else's: not shown
  const listed = await runAdmin(server.dbUri, ['users', 'sessions', user.username, '--json']);
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout)).toEqual({
    id: user._id,
    username: user.username,
    sessions: [{ browser: 'Firefox on Linux', signedInAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), lastUsedAt: expect.stringMatching(/^\d{4}-/), apps: ['Expense Reports'] }],
    apps: [{ clientId, name: 'Expense Reports', since: expect.stringMatching(/^\d{4}-/) }],
  });
  const told = await runAdmin(server.dbUri, ['users', 'sessions', user.email]);
  expect(told.code).toBe(0);
  expect(told.stdout).toContain(`${user.username}: signed in in 1 browser; 1 application has access`);
  expect(told.stdout).toMatch(/Firefox on Linux\s+\d{4}-\S+\s+\d{4}-\S+\s+Expense Reports/);
});
