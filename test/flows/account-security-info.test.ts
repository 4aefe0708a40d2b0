// "Your security info" outside a sign-in, at /account/security-info: the current password first (checked as at
// sign-in: one answer for an unknown login, a wrong password, a locked-down account), then the page a sign-in may stop
// at, with the same rules (a registered method proved before anything changes, each addition proved, every change
// told and audited), whatever the policy's registration at sign-in says. "Looks good" records the confirmation;
// Cancel leaves. Its forms need the step this browser's password began, while the account stays as it was.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { allForms, Browser, findForm, messageIds } from '../helpers/browser.ts';
import { createUser, PASSWORD } from '../helpers/factories.ts';
import { formNamed, openSecurityInfo, openSecurityInfoPage, postForm, SECURITY_INFO_PATH } from '../helpers/account-pages.ts';
import { CAPTCHA_ANSWER, emailedCode, outbox, registerMethods, startRecoveryServer, textedCode, waitFor } from '../helpers/recovery.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from '../delivery/smtp-sink.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { AUDIT_COLLECTION } from '../../src/audit/audit.ts';
import { maskPhone } from '../../src/methods/mask.ts';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;
const PATH = SECURITY_INFO_PATH;

let offset = 0;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer({ clock: () => Date.now() + offset }));
});
afterAll(() => close());
beforeEach(async () => {
  offset = 0;
  // The policy's default: no stop at sign-in. The page opened by its owner works all the same.
  await server.latchkey.policy.save({ limits: { perIpHour: 1000, perAccountHour: 100 } });
});

const stored = async (id: string) => (await server.connection.db!.collection<User>('users').findOne({ _id: id }))!;
const audited = (accountId: string, type: string, reason?: string) => server.connection.db!.collection(AUDIT_COLLECTION).countDocuments({ accountId, type, ...(reason && { reason }) });

const open = (user: Pick<User, 'username'>, current?: string, browser?: Browser) => openSecurityInfo(server, user, current, browser);
const openPage = (user: User, browser?: Browser) => openSecurityInfoPage(server, user, browser);

describe('the security info page outside a sign-in', () => {
  it('is linked from the home page, asks for the current password, then lets the owner prove a method, change another, and confirm', async () => {
    const home = await new Browser().get(`${server.origin}/`);
    expect(home.body).toContain(`href="${PATH}"`);
    expect(messageIds(home)).toContain('home.security_info');

    const user = await createUser(server);
    const alternate = `${user.username}@home.example.test`;
    const replaced = '+14155550160';
    const number = '+14155550161';
    await registerMethods(server, user, { alternateEmail: alternate, mobilePhone: replaced });
    const { browser, page } = await openPage(user);
    expect(page.status).toBe(200);
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.heading_manage', 'security_info.intro_manage', 'security_info.prove_heading', 'security_info.looks_good']));
    expect(page.body).toContain(maskPhone(replaced));
    expect(page.body).not.toContain(replaced);
    // The password alone changes nothing registered.
    expect(allForms(page).some((f) => f.action.endsWith('/add'))).toBe(false);

    // With a phone registered, the mailbox's code opens nothing (it would let whoever reads the mailbox put their own
    // phone in place of the owner's, then recover with it): not offered, and refused when posted all the same.
    expect(messageIds(page)).toContain('security_info.prove_mobilePhone');
    expect(messageIds(page)).not.toContain('security_info.prove_alternateEmail');
    const mailed = sink.received.length;
    const byMail = await postForm(browser, formNamed(page, 'prove'), { kind: 'alternateEmail' });
    expect(messageIds(byMail)).toEqual(expect.arrayContaining(['security_info.unavailable', 'security_info.prove_heading']));
    // Proved by a code texted to the registered number, then that number changed by a code texted to the new one.
    const asked = await postForm(browser, formNamed(byMail, 'prove'), { kind: 'mobilePhone' });
    expect(messageIds(asked)).toContain('security_info.proving');
    const proved = await postForm(browser, formNamed(asked, 'verify'), { code: await textedCode(server, replaced) });
    expect(messageIds(proved)).toContain('security_info.said_proved');
    expect(sink.received.length).toBe(mailed);
    const typing = await postForm(browser, formNamed(proved, 'add', 'mobilePhone'));
    const sent = await postForm(browser, formNamed(typing, 'add', 'mobilePhone'), { value: '+1 415 555 0161' });
    expect(messageIds(sent)).toContain('security_info.code_sent_mobilePhone');
    const saved = await postForm(browser, formNamed(sent, 'verify'), { code: await textedCode(server, number) });
    expect(messageIds(saved)).toContain('security_info.said_saved');
    expect((await stored(user._id)).securityInfo).toMatchObject({ alternateEmail: alternate, mobilePhone: number });
    expect(await audited(user._id, 'security_info.changed', 'owner')).toBe(1);
    // The number it replaced hears of it, with "This wasn't me".
    await waitFor(async () => (await outbox(server)).find((m) => m.channel === 'sms' && m.to === replaced && m.text.includes('/recover/lockdown/')), 'the notice on the replaced number');
    // The emailed notice says the change was made with the password, not by an administrator (who the owner would trust).
    const notice = await waitFor(() => sink.received.find((mail) => JSON.stringify(mail.to).includes(user.email) && mail.subject === 'The ways to verify your identity were changed'), 'the emailed notice');
    expect(notice.text).toContain('Someone signed in with your password changed the ways to verify your identity');

    // "Looks good": confirmed, and said once.
    const confirmed = await browser.post(formNamed(saved, 'done').action, formNamed(saved, 'done').fields);
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.get('location')).toBe(`${PATH}/done`);
    const done = await browser.follow(confirmed);
    expect(messageIds(done)).toEqual(expect.arrayContaining(['security_info.done_title', 'security_info.done_body']));
    expect(done.body).toContain(user.username);
    expect((await stored(user._id)).securityInfo.confirmedAt).toBeDefined();
    const again = await browser.get(`${server.origin}${PATH}/done`);
    expect(again.status).toBe(303);
    // The step is used up: its page leads back to the password, saying why.
    const stepPage = await browser.follow(await browser.get(`${server.origin}${new URL(saved.url).pathname}`));
    expect(messageIds(stepPage)).toContain('security_info.open_again');
  });

  it("opens with the mailbox's code an account whose only registered method is its alternate email, but not once a phone is registered meanwhile", async () => {
    const user = await createUser(server);
    const alternate = `${user.username}@only.example.test`;
    await registerMethods(server, user, { alternateEmail: alternate });
    const { browser, page } = await openPage(user);
    expect(allForms(page).some((f) => f.action.endsWith('/add'))).toBe(false);
    const asked = await postForm(browser, formNamed(page, 'prove'), { kind: 'alternateEmail' });
    const proved = await postForm(browser, formNamed(asked, 'verify'), { code: await emailedCode(sink, alternate) });
    expect(messageIds(proved)).toContain('security_info.said_proved');
    expect(formNamed(proved, 'add', 'mobilePhone')).toBeDefined();

    // A code asked for while the mailbox was enough opens nothing once a phone is registered (an administrator's, say).
    const later = await openPage(user);
    const askedAgain = await postForm(later.browser, formNamed(later.page, 'prove'), { kind: 'alternateEmail' });
    const code = await emailedCode(sink, alternate, 1);
    await registerMethods(server, user, { alternateEmail: alternate, mobilePhone: '+14155550163' });
    const refused = await postForm(later.browser, formNamed(askedAgain, 'verify'), { code });
    expect(messageIds(refused)).toContain('security_info.unavailable');
    expect(messageIds(refused)).not.toContain('security_info.said_proved');
  });

  it('a double click on "Looks good" confirms, and both answers lead to the page saying so', async () => {
    const user = await createUser(server);
    const { browser, page } = await openSecurityInfoPage(server, user);
    const looksGood = formNamed(page, 'done');
    // Both sent before either answer (the browser shows the answer to the last).
    const answers = await Promise.all([browser.post(looksGood.action, looksGood.fields), browser.post(looksGood.action, looksGood.fields)]);
    expect(answers.map((answer) => [answer.status, answer.headers.get('location')])).toEqual([
      [303, `${PATH}/done`],
      [303, `${PATH}/done`],
    ]);
    expect(messageIds(await browser.follow(answers[1]!))).toContain('security_info.done_body');
    expect((await stored(user._id)).securityInfo.confirmedAt).toBeDefined();
  });

  it('answers an unknown login, a wrong password, a locked-down, a disabled and a temporary-password account alike, counts the failure, and begins nothing', async () => {
    const user = await createUser(server);
    const lockedDown = await createUser(server);
    await server.latchkey.accounts.lockDown(lockedDown._id);
    const disabled = await createUser(server);
    await server.latchkey.accounts.setStatus(disabled._id, 'disabled');
    const temporary = await createUser(server);
    await server.connection.db!.collection('users').updateOne({ _id: temporary._id } as never, { $set: { passwordChangeRequired: true } });
    const tries = [
      { login: 'nobody-here', current: PASSWORD },
      { login: user.username, current: 'not the password' },
      { login: lockedDown.username, current: PASSWORD },
      { login: disabled.username, current: PASSWORD },
      { login: temporary.username, current: 'not the password' },
    ];
    const pages: string[] = [];
    for (const { login, current } of tries) {
      const { answer, refusal } = await open({ username: login }, current);
      // The same redirect, setting the same cookie (what the form says next), then the same page but for the login
      // typed and what every request draws anew (its CSRF token, its nonce, the refused post's support code).
      expect(answer.status).toBe(303);
      expect(answer.headers.getSetCookie().map((cookie) => cookie.split('=')[0])).toEqual(['lk_security_info_retry', 'lk_security_info_retry.sig']);
      expect(refusal!.status).toBe(200);
      expect(messageIds(refusal!)).toContain('login.invalid');
      pages.push(refusal!.body.replaceAll(login, '<login>').replace(/name="csrf" value="[^"]*"/g, '').replace(/nonce="[^"]*"/g, '').replace(/Support code: [A-Z0-9]{8}/, ''));
    }
    for (const page of pages.slice(1)) expect(page).toBe(pages[0]);
    expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(1);
    expect(await server.connection.db!.collection('security_info_steps').countDocuments({ accountId: { $in: [user._id, lockedDown._id, disabled._id, temporary._id] } })).toBe(0);
  });

  it('lets an account with nothing registered add its first method with the password alone', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    // What such an account needs is said, though the policy asks nothing at sign-in.
    expect(messageIds(page)).toEqual(expect.arrayContaining(['security_info.heading_manage', 'security_info.intro_register', 'security_info.need_one']));
    const typing = await postForm(browser, formNamed(page, 'add', 'alternateEmail'));
    const address = `${user.username}@first.example.test`;
    const sent = await postForm(browser, formNamed(typing, 'add', 'alternateEmail'), { value: address });
    const saved = await postForm(browser, formNamed(sent, 'verify'), { code: await emailedCode(sink, address) });
    expect(messageIds(saved)).toContain('security_info.said_saved');
    expect((await stored(user._id)).securityInfo.alternateEmail).toBe(address);
  });

  it('refuses a temporary password: an administrator\'s password does not choose what the account recovers with', async () => {
    const user = await createUser(server);
    await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { passwordChangeRequired: true } });
    const { refusal } = await open(user);
    expect(refusal!.status).toBe(200);
    expect(messageIds(refusal!)).toContain('account.temporary_password');
    expect(refusal!.body).toContain(`href="/account/password?login_hint=${encodeURIComponent(user.username)}"`);
    expect(await server.connection.db!.collection('security_info_steps').countDocuments({ accountId: user._id })).toBe(0);
  });

  it('fills in the login from ?login_hint=', async () => {
    const page = await new Browser().get(`${server.origin}${PATH}?login_hint=ada%40example.test`);
    expect(findForm(page, PATH).fields.login).toBe('ada@example.test');
  });

  it('Cancel leaves the page and ends its step; nothing is confirmed', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    // Cancel is the "Looks good" form's second button, posting to its own address.
    const done = formNamed(page, 'done');
    expect(page.body).toContain(`formaction="${new URL(done.action).pathname.replace(/\/done$/, '/cancel')}"`);
    const left = await browser.post(done.action.replace(/\/done$/, '/cancel'), done.fields);
    expect(left.status).toBe(303);
    expect(left.headers.get('location')).toBe('/');
    const stepPage = await browser.get(page.url);
    expect(stepPage.status).toBe(303);
    expect(stepPage.headers.get('location')).toBe(`${PATH}?again=1`);
    expect((await stored(user._id)).securityInfo?.confirmedAt).toBeUndefined();
  });

  it('needs this browser\'s step: without its cookie the forms change nothing, another browser is sent to the password, and a missing CSRF token is refused', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    const add = formNamed(page, 'add', 'alternateEmail');
    const stranger = await new Browser().get(page.url);
    expect(stranger.status).toBe(303);
    expect(stranger.headers.get('location')).toBe(`${PATH}?again=1`);
    const withoutToken = await browser.post(add.action, { kind: 'alternateEmail', value: 'no-token@example.test' });
    expect(withoutToken.status).toBe(403);

    // This browser's CSRF cookie kept, its step's cookie gone: the form's token alone opens nothing.
    const stepPath = new URL(page.url).pathname;
    const names = (await browser.cookieNames(page.url)).filter((name) => name.includes('lk_account_security_info'));
    expect(names).toEqual(['lk_account_security_info', 'lk_account_security_info.sig']);
    for (const name of names) await browser.jar.setCookie(`${name}=; Path=${stepPath}; Max-Age=0`, page.url);
    const typed = await browser.post(add.action, { ...add.fields, value: 'no-step@example.test' });
    expect(typed.status).toBe(303);
    expect(typed.headers.get('location')).toBe(`${PATH}?again=1`);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a message that should not be there
    expect(sink.received.some((m) => /no-token@|no-step@/.test(JSON.stringify(m.to)))).toBe(false);
    expect((await outbox(server)).some((m) => /no-token@|no-step@/.test(m.to))).toBe(false);
    expect((await stored(user._id)).securityInfo?.alternateEmail).toBeUndefined();
  });

  it('stops once an administrator acts on the account meanwhile: back to the password, nothing changed', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    await server.latchkey.accounts.setStatus(user._id, 'disabled');
    await server.latchkey.accounts.setStatus(user._id, 'active');
    const add = formNamed(page, 'add', 'alternateEmail');
    const refused = await browser.post(add.action, { ...add.fields, value: 'late@example.test' });
    expect(refused.status).toBe(303);
    expect(messageIds(await browser.follow(refused))).toContain('security_info.open_again');
    expect((await stored(user._id)).securityInfo?.alternateEmail).toBeUndefined();
  });

  it('lasts 30 minutes: a page left open longer leads back to the password, and its forms change nothing', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    const add = formNamed(page, 'add', 'alternateEmail');
    offset = 29 * 60_000;
    expect((await browser.get(page.url)).status).toBe(200);
    offset = 31 * 60_000;
    const late = await browser.post(add.action, { ...add.fields, value: 'late@example.test' });
    expect(late.status).toBe(303);
    expect(late.headers.get('location')).toBe(`${PATH}?again=1`);
    expect(messageIds(await browser.follow(late))).toContain('security_info.open_again');
    expect((await stored(user._id)).securityInfo?.alternateEmail).toBeUndefined();
    const reopened = await browser.get(page.url);
    expect(reopened.status).toBe(303);
    expect(reopened.headers.get('location')).toBe(`${PATH}?again=1`);
  });

  it('is off while the policy says so: no link on the home page, and the page, even a step begun before, answers 404', async () => {
    const user = await createUser(server);
    const { browser, page } = await openPage(user);
    await server.latchkey.policy.save({ registration: { atSignIn: false, reconfirmDays: 180, selfService: false } });
    const home = await new Browser().get(`${server.origin}/`);
    expect(messageIds(home)).not.toContain('home.security_info');
    const form = await new Browser().get(`${server.origin}${PATH}`);
    expect(form.status).toBe(404);
    expect(messageIds(form)).toContain('security_info.off');
    expect((await browser.get(page.url)).status).toBe(404);
    const add = formNamed(page, 'add', 'alternateEmail');
    const typed = await browser.post(add.action, { ...add.fields, value: 'while-off@example.test' });
    expect(typed.status).toBe(404);
    expect((await stored(user._id)).securityInfo?.alternateEmail).toBeUndefined();
  });

  it("asks for the CAPTCHA once the address is past the sign-in's failures, and checks it before the password", async () => {
    const user = await createUser(server);
    await server.latchkey.policy.save({ limits: { perIpHour: 1000, perAccountHour: 100, signInFailuresPerIpHour: 1 } });
    await open(user, 'a wrong guess at the password');
    const { browser, refusal: challenged } = await open(user, 'another wrong guess');
    expect(messageIds(challenged!)).toEqual(expect.arrayContaining(['account.open_captcha_intro', 'captcha.picture']));
    const failures = (await server.latchkey.accounts.lockoutState(user._id)).failures;
    const fields = findForm(challenged!, PATH).fields;
    const wrongAnswer = await browser.post(`${server.origin}${PATH}`, { ...fields, login: user.username, current: PASSWORD, captcha: 'WRONG1' });
    expect(wrongAnswer.headers.getSetCookie().some((c) => c.includes('lk_account_security_info'))).toBe(false);
    const refused = await browser.follow(wrongAnswer);
    expect(messageIds(refused)).toContain('login.captcha_wrong');
    expect((await server.latchkey.accounts.lockoutState(user._id)).failures).toBe(failures);
    const accepted = await browser.post(`${server.origin}${PATH}`, { ...findForm(refused, PATH).fields, login: user.username, current: PASSWORD, captcha: CAPTCHA_ANSWER });
    expect(accepted.status).toBe(303);
    expect(messageIds(await browser.follow(accepted))).toContain('security_info.heading_manage');
  });
});
