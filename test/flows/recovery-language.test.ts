// The recovery flow speaks the language its sign-in page was shown in: a relying party's ui_locales, carried from
// "Can't access your account?" through every page, the code it emails and the notice, back to the sign-in, without
// becoming the person's remembered choice; a language picked in the footer during the flow still wins.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, findForm, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, emailedCode, enterCode, registerMethods, sendCode, startRecoveryServer, submit, waitFor } from '../helpers/recovery.ts';
import { LANGUAGE_COOKIE } from '../../src/http/request-context.ts';
import { openSecurityInfo } from '../helpers/account-pages.ts';
import type { User } from '../../src/accounts/user-model.ts';

const NEW_PASSWORD = 'a brand new passphrase for latchkey';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;
let config: client.Configuration;
const redirectUri = () => `${server.origin}/cb`;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer());
  config = await discover(server, await createClient(server));
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, perIpHour: 1000 } });
});
afterAll(() => close());

/** A browser whose person reads the languages of `acceptLanguage` first: every request says so. */
function browserReading(acceptLanguage: string) {
  return class extends Browser {
    override request(url: string, init: RequestInit = {}): Promise<Page> {
      return super.request(url, { ...init, headers: { 'accept-language': acceptLanguage, ...(init.headers as Record<string, string>) } });
    }
  };
}
const EnglishBrowser = browserReading('en-US,en;q=0.9');
const FrenchBrowser = browserReading('fr-FR,fr;q=0.9');

const language = (page: Page) => /<html lang="([^"]+)">/.exec(page.body)?.[1];

/** An RP asking for French, the sign-in page it shows, and a user who can recover with an alternate email alone. */
async function frenchSignIn() {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const browser = new EnglishBrowser();
  const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri(), { ui_locales: 'fr' })).url);
  expect(language(loginPage)).toBe('fr');
  expect(loginPage.body).toContain('Vous ne pouvez pas accéder à votre compte ?');
  const recoverLink = /href="([^"]*\/recover)"/.exec(loginPage.body)![1]!;
  const whoAreYou = await browser.follow(await browser.get(new URL(recoverLink, loginPage.url).href));
  return { user, alternateEmail, browser, whoAreYou };
}

/** The latest email to `to` once there are more than `after`. */
const latestMail = (to: string, after: number) =>
  waitFor(() => {
    const mails = sink.received.filter((m) => JSON.stringify(m.to).includes(to));
    return mails.length > after ? mails.at(-1) : undefined;
  }, `an email to ${to}`);

/** How many emails `to` has had so far. */
const mailsTo = (to: string) => sink.received.filter((m) => JSON.stringify(m.to).includes(to)).length;

/**
 * A reset of `user`'s password run by `browser` from "Who are you?" to done, with the emails it causes: the code
 * (to `alternateEmail`) and the owner's notice. `pages`: the first and the last.
 */
async function resetBy(browser: Browser, user: User, alternateEmail: string) {
  const whoAreYou = await browser.get(`${server.origin}/recover`);
  const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  const codesBefore = mailsTo(alternateEmail);
  const sent = await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, goal, 'reset'), 'email'));
  const codeMail = await latestMail(alternateEmail, codesBefore);
  const passwordPage = await enterCode(browser, sent, await emailedCode(sink, alternateEmail, codesBefore));
  const noticesBefore = mailsTo(user.email);
  const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  return { pages: [whoAreYou, done], codeMail, notice: await latestMail(user.email, noticesBefore) };
}

it('keeps the language of the sign-in page (the RP’s ui_locales) on every recovery page, in the code email and the notice, without remembering it', async () => {
  const { user, alternateEmail, browser, whoAreYou } = await frenchSignIn();
  expect(whoAreYou.status).toBe(200);
  expect(language(whoAreYou)).toBe('fr');
  expect(whoAreYou.body).toContain('Qui êtes-vous ?');

  const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  expect(language(goal)).toBe('fr');
  expect(goal.body).toContain('Pourquoi n’arrivez-vous pas à vous connecter ?');
  const methods = await chooseGoal(browser, goal, 'reset');
  expect(language(methods)).toBe('fr');
  const emailPanel = await chooseMethod(browser, methods, 'email');
  expect(language(emailPanel)).toBe('fr');
  const sent = await sendCode(browser, emailPanel);
  expect(language(sent)).toBe('fr');

  const codeMail = await latestMail(alternateEmail, 0);
  expect(codeMail.subject).toBe('Votre code de vérification');
  expect(codeMail.text).toContain('Votre code de vérification est');
  const passwordPage = await enterCode(browser, sent, await emailedCode(sink, alternateEmail));
  expect(language(passwordPage)).toBe('fr');
  const done = await submit(browser, passwordPage, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
  expect(language(done)).toBe('fr');
  expect(done.body).toContain('Votre mot de passe a été réinitialisé');
  const notice = await latestMail(user.email, 0);
  expect(notice.subject).toBe('Votre mot de passe a été réinitialisé');
  // Its time is written in French too, not as "Mon, 30 Nov 2026 20:49:46 GMT".
  expect(notice.text).toMatch(/le \d{1,2}(er)? (janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre) \d{4} à \d{2}:\d{2}:\d{2} UTC/);
  // Its "This wasn't me" link opens, and confirms, in French too (in another browser: the English-reading owner's).
  const link = /(http:\/\/\S+\/recover\/lockdown\/\S+)/.exec(notice.text!)![1]!.replace(new URL(server.issuer).origin, server.origin);
  const owner = new EnglishBrowser();
  const lockdown = await owner.get(link);
  expect(language(lockdown)).toBe('fr');
  expect(lockdown.body).toContain('Ce n’était pas moi : sécuriser mon compte');
  // (With a phone as well as the mailbox: enough for a lockdown's two proofs, so the page offers a recovery.)
  await registerMethods(server, user, { alternateEmail, mobilePhone: '+14155550123' });
  const confirmed = await owner.post(findForm(lockdown, '/recover/lockdown/').action, findForm(lockdown, '/recover/lockdown/').fields);
  expect(language(confirmed)).toBe('fr');
  expect(confirmed.body).toContain('Votre compte est sécurisé');
  // Its way on, "Can't access your account?", goes on in French as well.
  const onward = /href="(\/recover[^"]*)" data-message-id="login.cant_access"/.exec(confirmed.body)![1]!;
  expect(language(await owner.get(new URL(onward.replace(/&amp;/g, '&'), server.origin).href))).toBe('fr');

  // Back at the same sign-in, still in French; and the RP's language was never stored as the person's choice.
  const backLink = /href="(\/interaction\/[^"]+)"/.exec(done.body)![1]!;
  const again = await browser.follow(await browser.get(new URL(backLink, done.url).href));
  expect(again.status).toBe(200);
  expect(language(again)).toBe('fr');
  expect(await browser.cookieNames(`${server.origin}/`)).not.toContain(LANGUAGE_COOKIE);
  // A recovery started afresh, without the RP, is in the browser's language.
  const plain = await browser.get(`${server.origin}/recover`);
  expect(language(plain)).toBe('en');
});

it('lets a language picked in the footer during the flow win over the RP’s, for its pages and the code it sends', async () => {
  const { user, alternateEmail, browser, whoAreYou } = await frenchSignIn();
  const goal = await submit(browser, whoAreYou, '/recover', { identifier: user.username, captcha: CAPTCHA_ANSWER, action: 'next' });
  expect(language(goal)).toBe('fr');

  const english = /href="([^"]*[?&](?:amp;)?lang=en[^"]*)"/.exec(goal.body)![1]!.replace(/&amp;/g, '&');
  const picked = await browser.get(new URL(english, goal.url).href);
  expect(language(picked)).toBe('en');
  expect(picked.body).toContain('Why are you having trouble signing in?');
  expect(await browser.cookieNames(`${server.origin}/`)).toContain(LANGUAGE_COOKIE);

  const methods = await chooseGoal(browser, picked, 'reset');
  expect(language(methods)).toBe('en');
  const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
  expect(language(sent)).toBe('en');
  const codeMail = await latestMail(alternateEmail, 0);
  expect(codeMail.subject).toBe('Your verification code');
});

it('tells the owner in the language they last signed in with, whoever causes the notice: anyone’s wrong passwords, a reset run in English', async () => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const stored = async () => (await server.connection.db!.collection<{ _id: string; language?: string }>('users').findOne({ _id: user._id }))!;
  expect((await stored()).language).toBeUndefined();

  // Signed in through the RP's French pages: French is kept for the account. A refused password keeps nothing.
  const browser = new EnglishBrowser();
  const loginPage = await openLoginPage(browser, (await authorizationUrl(config, redirectUri(), { ui_locales: 'fr' })).url);
  const refused = await submitLogin(browser, loginPage, user.username, 'not the password at all');
  expect((await stored()).language).toBeUndefined();
  const signedIn = await submitLogin(browser, refused, user.username);
  expect(signedIn.status).toBe(303);
  expect(new URL(signedIn.headers.get('location')!, signedIn.url).pathname).not.toMatch(/^\/interaction\//);
  expect((await stored()).language).toBe('fr');

  // Someone else's wrong passwords (no page, no language of theirs) lock it: the notice is in French.
  await server.latchkey.policy.save({ lockout: { threshold: 3, initialSeconds: 60 } });
  try {
    for (let i = 0; i < 3; i += 1) await server.latchkey.accounts.signIn(user.username, `wrong password number ${i}`);
    // To both of the owner's addresses (and awaited at both, so that the code email below is not taken for it).
    for (const to of [user.email, alternateEmail]) expect((await latestMail(to, 0)).subject).toBe('Votre compte a été verrouillé');
  } finally {
    await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, perIpHour: 1000 } });
  }

  // A reset run from an English browser: its pages and its code speak English; the owner's notice, French.
  const reset = await resetBy(new EnglishBrowser(), user, alternateEmail);
  expect(reset.pages.map(language)).toEqual(['en', 'en']);
  expect(reset.codeMail.subject).toBe('Your verification code');
  expect(reset.notice.subject).toBe('Votre mot de passe a été réinitialisé');
  // The running recovery kept nothing: only a sign-in does.
  expect((await stored()).language).toBe('fr');
});

it('keeps English too: an owner who signed in in English is told in English of a reset run from a French browser; the account pages keep theirs', async () => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const stored = async () => (await server.connection.db!.collection<{ _id: string; language?: string }>('users').findOne({ _id: user._id }))!.language;

  const owner = new EnglishBrowser();
  const signedIn = await submitLogin(owner, await openLoginPage(owner, (await authorizationUrl(config, redirectUri())).url), user.username);
  expect(signedIn.status).toBe(303);
  expect(await stored()).toBe('en');

  // Someone else runs the reset from a French browser: its pages are French, the owner's notice English.
  const reset = await resetBy(new FrenchBrowser(), user, alternateEmail);
  expect(reset.pages.map(language)).toEqual(['fr', 'fr']);
  expect(reset.notice.subject).toBe('Your password was reset');
  expect(await stored()).toBe('en');

  // Signed in with the password on an account page, in French: French is kept from then on.
  const { answer } = await openSecurityInfo(server, user, NEW_PASSWORD, new FrenchBrowser());
  expect(answer.status).toBe(303);
  expect(await stored()).toBe('fr');
});
