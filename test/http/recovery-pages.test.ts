// The recovery pages as a keyboard or screen-reader user meets them, checked on the markup: an error takes the focus
// to the field it is about and is announced; a newly shown part of the page takes the focus; each page's title
// names its step (and says "Error" first when the page shows one); every error comes with the flow's support code.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { en } from '../../src/http/messages/en.ts';
import { fr } from '../../src/http/messages/fr.ts';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { createLockdowns } from '../../src/flows/recovery/lockdown.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, registerMethods, sendCode, submit, submitRefused, textedCode } from '../helpers/recovery.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER });
  // Every request comes from 127.0.0.1: the per-address budgets are raised for the file. Text messages may go to +1
  // numbers only, so that another country's number is refused.
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, perIpHour: 1000 }, allowedCountryCodes: ['1'], helpdesk: { url: 'https://help.example.test/' } });
});
afterAll(() => server.close());

let phoneCounter = 0;
/** A user with an alternate email, a mobile phone and an authenticator; `totp()` gives its current code. */
async function person() {
  const user = await createUser(server);
  phoneCounter += 1;
  const mobilePhone = `+1415555${String(2000 + phoneCounter)}`;
  const { totp } = await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net`, mobilePhone, authenticator: true });
  return { user, mobilePhone, totp };
}

/** The opening tag of the element with this id. */
function tagWithId(page: Page, id: string): string {
  const tag = new RegExp(`<[a-z]+\\b[^>]*\\bid="${id}"[^>]*>`, 's').exec(page.body)?.[0];
  if (!tag) throw new Error(`no element with id ${id} in:\n${page.body.slice(0, 3000)}`);
  return tag;
}

const attribute = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
/** The inside of the page's form whose action ends with `actionEnd`. */
const formWith = (page: Page, actionEnd: string) => [...page.body.matchAll(/<form\b[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].find(([, action]) => action!.endsWith(actionEnd))?.[2] ?? '';
const describedBy = (page: Page, id: string) => (attribute(tagWithId(page, id), 'aria-describedby') ?? '').split(/\s+/).filter(Boolean);

/** The controls that take the focus when the page loads, each by its id (or message id, for a button). */
function autofocused(page: Page): string[] {
  return [...page.body.matchAll(/<(?:input|button|select|textarea)\b[^>]*>/gs)]
    .map(([tag]) => tag)
    .filter((tag) => /\sautofocus[\s>=]/.test(tag))
    .map((tag) => attribute(tag, 'id') ?? attribute(tag, 'data-message-id') ?? tag);
}

const title = (page: Page) => /<title>([^<]*)<\/title>/.exec(page.body)?.[1];
const RECOVERY = 'Get back into your account · Latchkey';

/** Posts the form of `page` whose action contains `actionPart` with only its CSRF token (no choice made). */
async function postEmpty(browser: Browser, page: Page, actionPart: string): Promise<Page> {
  const form = findForm(page, actionPart);
  return browser.follow(await browser.post(form.action, { csrf: form.fields.csrf! }));
}

/** Presses Cancel (a button of the form whose action contains `actionPart`, posting to the flow's /cancel). */
async function cancel(browser: Browser, page: Page, actionPart: string): Promise<Page> {
  const form = findForm(page, actionPart);
  return browser.follow(await browser.post(form.action.replace(/\/[a-z]+$/, '/cancel'), { csrf: form.fields.csrf! }));
}

async function atStart() {
  const browser = new Browser();
  return { browser, page: await browser.get(`${server.origin}/recover`) };
}

async function atMethods(goal: 'reset' | 'unlock' = 'reset') {
  const { user, mobilePhone, totp } = await person();
  const browser = new Browser();
  const page = await chooseGoal(browser, await identify(server, browser, user.username), goal);
  return { browser, page, mobilePhone, totp };
}

async function atPassword() {
  const { browser, page, totp } = await atMethods();
  return { browser, page: await enterCode(browser, await chooseMethod(browser, page, 'totp'), totp()) };
}

/** The flow's support code, as the page shows it next to an error. */
function expectSupportCode(page: Page) {
  expect(messageIds(page)).toContain('error.support_code');
  expect(page.body).toMatch(/Support code: [A-Z0-9]{8}/);
}

describe('"Who are you?"', () => {
  it('focuses the identifier when the page opens', async () => {
    const { page } = await atStart();
    expect(autofocused(page)).toEqual(['identifier']);
    expect(attribute(tagWithId(page, 'identifier'), 'aria-invalid')).toBeUndefined();
    expect(messageIds(page)).not.toContain('error.support_code'); // nothing went wrong
  });

  it('marks an empty identifier invalid, described by the announced error, and focuses it', async () => {
    const { browser, page } = await atStart();
    const again = await submit(browser, page, '/recover', { identifier: '', captcha: CAPTCHA_ANSWER, action: 'next' });
    expect(messageIds(again)).toContain('recover.identifier_missing');
    expect(attribute(tagWithId(again, 'form-error'), 'role')).toBe('alert');
    expect(attribute(tagWithId(again, 'identifier'), 'aria-invalid')).toBe('true');
    expect(describedBy(again, 'identifier')).toEqual(expect.arrayContaining(['form-error', 'identifier-hint']));
    expect(autofocused(again)).toEqual(['identifier']);
  });

  it('with the identifier already filled in (a new picture, or handed over by the sign-in page), focuses the CAPTCHA answer', async () => {
    const { browser, page } = await atStart();
    const again = await submit(browser, page, '/recover', { identifier: 'someone', action: 'new-captcha' });
    expect(autofocused(again)).toEqual(['captcha']);
    expect(attribute(tagWithId(again, 'captcha'), 'aria-invalid')).toBeUndefined();
  });

  it('announces a wrong CAPTCHA and focuses the field for the new one; the kept identifier is not marked', async () => {
    const { browser, page } = await atStart();
    const again = await submit(browser, page, '/recover', { identifier: 'someone', captcha: 'WRONG1', action: 'next' });
    expect(messageIds(again)).toContain('recover.captcha_wrong');
    expectSupportCode(again);
    expect(attribute(tagWithId(again, 'captcha-error'), 'role')).toBe('alert');
    expect(autofocused(again)).toEqual(['captcha']);
    expect(attribute(tagWithId(again, 'identifier'), 'aria-invalid')).toBeUndefined();
  });
});

describe('"Why are you having trouble signing in?"', () => {
  it('focuses nothing at first; with no option chosen, describes the options by the error and focuses the first', async () => {
    const browser = new Browser();
    const page = await identify(server, browser, (await person()).user.username);
    expect(autofocused(page)).toEqual([]);
    expect(page.body).not.toMatch(/<fieldset[^>]*aria-describedby/);
    const again = await postEmpty(browser, page, '/goal');
    expect(messageIds(again)).toContain('recover.goal_missing');
    expect(again.body.match(/<fieldset\b[^>]*>/)?.[0]).toContain('aria-describedby="form-error"');
    expect(autofocused(again)).toEqual(['goal-reset']);
  });
});

describe('verification', () => {
  it('with no method chosen, describes the methods by the error and focuses the first', async () => {
    const { browser, page } = await atMethods();
    expect(autofocused(page)).toEqual([]);
    const again = await postEmpty(browser, page, '/method');
    expect(messageIds(again)).toContain('recover.method_missing');
    expect(again.body.match(/<fieldset\b[^>]*>/)?.[0]).toContain('aria-describedby="form-error"');
    expect(autofocused(again)).toEqual(['method-email']);
  });

  it('a missing method while the phone is asked for marks the methods, not the phone field', async () => {
    const { browser, page } = await atMethods();
    const sms = await chooseMethod(browser, page, 'sms');
    const again = await postEmpty(browser, sms, '/method');
    expect(messageIds(again)).toContain('recover.method_missing');
    expect(attribute(tagWithId(again, 'phone'), 'aria-invalid')).toBeUndefined();
    expect(autofocused(again)).toEqual(['method-email']);
  });

  it('focuses the new part once a method is chosen: the phone field, the Email button, the code field', async () => {
    const { browser, page } = await atMethods();
    const phoneStep = await chooseMethod(browser, page, 'sms');
    expect(autofocused(phoneStep)).toEqual(['phone']);
    // The format is told before any error, not only after one.
    expect(messageIds(phoneStep)).toContain('recover.phone_hint');
    expect(describedBy(phoneStep, 'phone')).toEqual(['phone-hint']);
    const email = await chooseMethod(browser, page, 'email');
    expect(autofocused(email)).toEqual(['recover.email_send']);
    expect(autofocused(await sendCode(browser, email))).toEqual(['code']);
    expect(autofocused(await chooseMethod(browser, page, 'totp'))).toEqual(['code']);
  });

  it.each([
    ['an incomplete number', '12345', 'recover.phone_invalid'],
    ['another number', '+1 415 555 0100', 'recover.phone_mismatch'],
    ['a refused country', '+33 6 12 34 56 78', 'recover.phone_country'],
  ])('marks %s invalid, described by the error, and focuses the phone field', async (_label, phone, error) => {
    const { browser, page } = await atMethods();
    const again = await sendCode(browser, await chooseMethod(browser, page, 'sms'), { phone });
    expect(messageIds(again)).toContain(error);
    expect(attribute(tagWithId(again, 'phone'), 'aria-invalid')).toBe('true');
    expect(describedBy(again, 'phone')).toEqual(['form-error', 'phone-hint']);
    expect(autofocused(again)).toEqual(['phone']);
    // Shown beside the field, inside its form, rather than above the list of methods (out of sight when zoomed in).
    expect(formWith(again, '/send')).toMatch(/id="form-error"[\s\S]*id="phone"/);
    expect(formWith(again, '/method')).not.toContain('form-error"');
  });

  it('shows a wrong code\'s message beside the code field, inside its form, with the support code', async () => {
    const { browser, page } = await atMethods();
    const wrong = await enterCode(browser, await chooseMethod(browser, page, 'totp'), '000000');
    expect(messageIds(wrong)).toContain('recover.totp_wrong');
    expect(formWith(wrong, '/code')).toMatch(/id="form-error"[\s\S]*data-message-id="error.support_code"[\s\S]*id="code"/);
    expect(wrong.body.match(/id="form-error"/g)).toHaveLength(1);
    // The field is described by the error and by what to type (the authenticator's or the sent code's line).
    expect(describedBy(wrong, 'code')).toEqual(['form-error', 'code-intro']);
    expect(attribute(tagWithId(wrong, 'code-intro'), 'data-message-id')).toBe('recover.totp_intro');
    const sent = await sendCode(browser, await chooseMethod(browser, wrong, 'email'));
    expect(describedBy(sent, 'code')).toEqual(['code-intro']);
    expect(attribute(tagWithId(sent, 'code-intro'), 'data-message-id')).toBe('recover.code_sent_email');
  });

  it('has one "Next" once a method is shown: the code\'s; the method list\'s button then says it switches methods', async () => {
    const { browser, page } = await atMethods();
    expect(messageIds(page).filter((id) => id === 'recover.next')).toHaveLength(1);
    const codePage = await sendCode(browser, await chooseMethod(browser, page, 'email'));
    expect(messageIds(codePage).filter((id) => id === 'recover.next')).toHaveLength(1);
    expect(formWith(codePage, '/code')).toContain('data-message-id="recover.next"');
    expect(formWith(codePage, '/method')).toContain('data-message-id="recover.use_method"');
  });

  it('lets the server answer an empty or malformed code (the code form does not validate in the browser)', async () => {
    const { browser, page } = await atMethods();
    const code = await chooseMethod(browser, page, 'totp');
    expect(code.body.match(/<form\b[^>]*\/code"[^>]*>/)?.[0]).toMatch(/\snovalidate[\s>]/);
  });

  it('lets the server answer an empty phone number or new password, in the page\'s language (no browser bubble in the browser\'s)', async () => {
    const { browser, page } = await atMethods();
    const phoneStep = await chooseMethod(browser, page, 'sms');
    const { page: passwordPage } = await atPassword();
    for (const [body, action] of [[phoneStep.body, '/send'], [passwordPage.body, '/password']] as const) {
      const form = [...body.matchAll(/<form\b[^>]*>/g)].map(([tag]) => tag).find((tag) => tag.includes(`${action}"`));
      expect(form).toMatch(/\snovalidate[\s>]/);
    }
  });
});

describe('a refused form', () => {
  /** The tries the page says are left, beside a wrong code or number. */
  const triesLeft = (page: Page) => Number(/data-message-id="recover.tries_left">Tries left for this code: (\d+)\./.exec(page.body)?.[1]);

  it('is answered by a redirect to the flow\'s page, which says why once: a reload there posts nothing again and spends no try', async () => {
    const { browser, page, mobilePhone } = await atMethods();
    const sent = await sendCode(browser, await chooseMethod(browser, page, 'sms'), { phone: mobilePhone });
    const notTheCode = String((Number(await textedCode(server, mobilePhone)) + 1) % 1_000_000).padStart(6, '0');
    const wrong = await submitRefused(browser, sent, '/code', { code: notTheCode });
    expect(messageIds(wrong)).toContain('recover.code_wrong');
    const left = triesLeft(wrong);
    expect(left).toBeGreaterThan(1);
    const reloaded = await browser.get(wrong.url);
    expect(reloaded.status).toBe(200);
    expect(messageIds(reloaded)).toContain('recover.code_sent_sms'); // the code's step still
    expect(messageIds(reloaded)).not.toContain('recover.code_wrong');
    expect(messageIds(reloaded)).not.toContain('recover.tries_left');
    expect(triesLeft(await submitRefused(browser, reloaded, '/code', { code: notTheCode }))).toBe(left - 1);
  });

  it('keeps a mismatched number as typed, and is not shown once another step has moved the flow on', async () => {
    const { browser, page } = await atMethods();
    const mismatch = await submitRefused(browser, await chooseMethod(browser, page, 'sms'), '/send', { phone: '+1 415 555 0100' });
    expect(messageIds(mismatch)).toContain('recover.phone_mismatch');
    expect(attribute(tagWithId(mismatch, 'phone'), 'value')).toBe('+1 415 555 0100');
    // A refusal whose page was not opened (a second tab's), then a method chosen here: the method's page, no refusal.
    const form = findForm(mismatch, '/send');
    expect((await browser.post(form.action, { ...form.fields, phone: '+1 415 555 0101' })).status).toBe(303);
    const totpStep = await chooseMethod(browser, mismatch, 'totp');
    expect(messageIds(totpStep)).toContain('recover.totp_intro');
    expect(messageIds(totpStep)).not.toContain('recover.phone_mismatch');
  });
});

describe('the support line beside the code', () => {
  it('speaks of resetting the password on the reset branch', async () => {
    const { browser, page } = await atMethods('reset');
    const code = await chooseMethod(browser, page, 'totp');
    expect(messageIds(code)).toContain('recover.support_hint_before');
    expect(code.body).toContain('If you are unable to reset your password after retrying');
  });

  it('speaks of unlocking the account on the unlock branch', async () => {
    const { browser, page } = await atMethods('unlock');
    const code = await chooseMethod(browser, page, 'totp');
    expect(messageIds(code)).toContain('recover.support_hint_before_unlock');
    expect(messageIds(code)).not.toContain('recover.support_hint_before');
    expect(code.body).toContain('If you are unable to unlock your account after retrying');
    expect(code.body).not.toContain('reset your password');
  });
});

describe('the phone panel', () => {
  it.each([
    ['reset', 'recover.sms_intro', 'recover.sms_intro_unlock', 'reset your password'],
    ['unlock', 'recover.sms_intro_unlock', 'recover.sms_intro', 'unlock your account'],
  ] as const)('on the %s branch, says what the texted code is for', async (goal, shown, notShown, purpose) => {
    const { browser, page } = await atMethods(goal);
    const sms = await chooseMethod(browser, page, 'sms');
    expect(messageIds(sms)).toContain(shown);
    expect(messageIds(sms)).not.toContain(notShown);
    expect(textOf(sms, shown)).toContain(`a verification code which can be used to ${purpose}.`);
  });
});

describe('the support code on every error', () => {
  it('shows it with a missing goal, a missing method and each refused phone number', async () => {
    const browser = new Browser();
    const goal = await identify(server, browser, (await person()).user.username);
    expectSupportCode(await postEmpty(browser, goal, '/goal'));
    const methods = await chooseGoal(browser, goal, 'reset');
    expectSupportCode(await postEmpty(browser, methods, '/method'));
    const sms = await chooseMethod(browser, methods, 'sms');
    for (const phone of ['12345', '+1 415 555 0100', '+33 6 12 34 56 78']) expectSupportCode(await sendCode(browser, sms, { phone }));
  });

  it('accepts the longest new password the rules allow, in characters of four bytes, twice in one form', async () => {
    const { browser, page } = await atPassword();
    // 1024 different ideographs from beyond the Basic Multilingual Plane (CJK Extension B): 12 bytes each once
    // percent-encoded, 24,576 bytes for the password and its confirmation.
    const longest = Array.from({ length: 1024 }, (_, i) => String.fromCodePoint(0x20000 + ((i * 7919) % 40_000))).join('');
    const done = await submit(browser, page, '/password', { password: longest, confirm: longest });
    expect(done.status).toBe(200);
    expect(messageIds(done)).toContain('recover.done_reset');
  });

  it('shows it with every refused new password and with two passwords that differ', async () => {
    const { browser, page } = await atPassword();
    const tries: Array<[string, string, string]> = [
      ['short', 'short', 'password.too_short'],
      ['passwordpassword', 'passwordpassword', 'password.common'],
      ['latchkeylatchkey', 'latchkeylatchkey', 'password.service'],
      ['Password123456789', 'Password123456789', 'password.predictable'],
      ['x'.repeat(1100), 'x'.repeat(1100), 'password.too_long'],
      ['a brand new passphrase for latchkey', 'a different passphrase for latchkey', 'recover.password_mismatch'],
    ];
    for (const [password, confirm, error] of tries) {
      const again = await submitRefused(browser, page, '/password', { password, confirm });
      expect(messageIds(again)).toContain(error);
      expectSupportCode(again);
    }
  });
});

describe('the new password', () => {
  it('with two passwords that differ, marks the confirmation, described by the error; the first field, emptied too, has the focus and names the error first', async () => {
    const { browser, page } = await atPassword();
    const again = await submit(browser, page, '/password', { password: 'a brand new passphrase for latchkey', confirm: 'another passphrase' });
    expect(messageIds(again)).toContain('recover.password_mismatch');
    expect(attribute(tagWithId(again, 'confirm'), 'aria-invalid')).toBe('true');
    expect(describedBy(again, 'confirm')).toContain('form-error');
    expect(attribute(tagWithId(again, 'password'), 'aria-invalid')).toBeUndefined();
    // Focus lands on the first field: a screen reader hears the error there, before the rules.
    expect(describedBy(again, 'password')).toEqual(['form-error', 'password-rules']);
    expect(autofocused(again)).toEqual(['password']);
  });

  it('with a refused password, marks the new password, not the confirmation', async () => {
    const { browser, page } = await atPassword();
    const again = await submit(browser, page, '/password', { password: 'short', confirm: 'short' });
    expect(attribute(tagWithId(again, 'password'), 'aria-invalid')).toBe('true');
    expect(describedBy(again, 'password')).toEqual(['form-error', 'password-rules']);
    expect(attribute(tagWithId(again, 'confirm'), 'aria-invalid')).toBeUndefined();
    expect(autofocused(again)).toEqual(['password']);
  });
});

describe('page titles', () => {
  it('name the step first, and say "Error" first when the page shows one', async () => {
    const { browser, page: start } = await atStart();
    expect(title(start)).toBe(`Who are you? – ${RECOVERY}`);
    const wrong = await submit(browser, start, '/recover', { identifier: '', action: 'next' });
    expect(title(wrong)).toBe(`Error: Who are you? – ${RECOVERY}`);

    const { user, totp } = await person();
    const goal = await identify(server, browser, user.username);
    expect(title(goal)).toBe(`Why are you having trouble signing in? – ${RECOVERY}`);
    expect(title(await postEmpty(browser, goal, '/goal'))).toBe(`Error: Why are you having trouble signing in? – ${RECOVERY}`);
    const methods = await chooseGoal(browser, goal, 'reset');
    expect(title(methods)).toBe(`Verification step 1 – ${RECOVERY}`);
    const code = await chooseMethod(browser, methods, 'totp');
    expect(title(await enterCode(browser, code, '000000'))).toBe(`Error: Verification step 1 – ${RECOVERY}`);
    const password = await enterCode(browser, code, totp());
    expect(title(password)).toBe(`Choose a new password – ${RECOVERY}`);
    expect(title(await submit(browser, password, '/password', { password: 'x', confirm: 'y' }))).toBe(`Error: Choose a new password – ${RECOVERY}`);
    const done = await submit(browser, password, '/password', { password: 'a brand new passphrase for latchkey', confirm: 'a brand new passphrase for latchkey' });
    expect(title(done)).toBe(`Your password has been reset – ${RECOVERY}`);
  });

  it('name the unlock step on the unlock branch, and the end of a cancelled or expired flow', async () => {
    const { browser, page, totp } = await atMethods('unlock');
    const unlock = await enterCode(browser, await chooseMethod(browser, page, 'totp'), totp());
    expect(title(unlock)).toBe(`Unlock your account – ${RECOVERY}`);
    const cancelled = await cancel(browser, unlock, '/unlock');
    expect(title(cancelled)).toBe(`Recovery cancelled – ${RECOVERY}`);
    const expired = await browser.get(findForm(unlock, '/unlock').action.replace(/\/unlock$/, ''));
    expect(expired.status).toBe(410);
    expect(title(expired)).toBe(`Error: Recovery expired – ${RECOVERY}`);
  });

  it('titles the "This wasn\'t me" page with its own heading', async () => {
    const page = await new Browser().get(`${server.origin}/recover/lockdown/${'x'.repeat(43)}`);
    expect(page.status).toBe(410);
    expect(title(page)).toBe('Error: Secure your account · Latchkey');
  });
});

describe('ways on', () => {
  it('after Cancel, makes "Back to sign in" the main button when the flow came from a sign-in', async () => {
    const browser = new Browser();
    const { user } = await person();
    const goal = await identify(server, browser, user.username, '?from=some-interaction-uid');
    const cancelled = await cancel(browser, goal, '/goal');
    expect(messageIds(cancelled)).toContain('recover.cancelled');
    const links = [...cancelled.body.matchAll(/<a\b[^>]*data-message-id="(recover\.back|recover\.start_again)"[^>]*>/g)];
    const classOf = (id: string) => attribute(links.find((l) => l[1] === id)![0], 'class');
    expect(classOf('recover.back')).toBe('button primary');
    expect(classOf('recover.start_again')).toBe('button secondary');
    // The main button comes first.
    expect(links.map((l) => l[1])).toEqual(['recover.back', 'recover.start_again']);
    // A page of the cancelled flow opened again (the Back button) has ended, and still leads back to that sign-in.
    const again = await browser.get(goal.url);
    expect(again.status).toBe(410);
    expect(messageIds(again)).toEqual(expect.arrayContaining(['recover.expired', 'recover.back']));
    expect(again.body).toContain('href="/interaction/some-interaction-uid"');
  });

  it('after Cancel without a sign-in, keeps "Start again" as the main button', async () => {
    const browser = new Browser();
    const goal = await identify(server, browser, (await person()).user.username);
    const cancelled = await cancel(browser, goal, '/goal');
    expect(messageIds(cancelled)).not.toContain('recover.back');
    expect(cancelled.body).toMatch(/<a class="button primary" href="\/recover" data-message-id="recover.start_again">/);
  });

  it.each([
    ['a missing page', (origin: string) => new Browser().get(`${origin}/no-such-page`), 404],
    ['an expired sign-in', (origin: string) => new Browser().get(`${origin}/interaction/no-such-interaction`), 400],
  ])('error pages link home: %s', async (_label, open, status) => {
    const page = await open(server.origin);
    expect(page.status).toBe(status);
    expect(page.body).toMatch(/<a\b[^>]*href="\/"[^>]*data-message-id="error.home"/);
  });
});

describe('the incomplete phone number message', () => {
  it.each([
    ['en', en],
    ['fr', fr],
  ])('in %s, gives an example number that counts as complete and valid', (_locale, catalogue) => {
    const example = /\+[\d ]+\d/.exec(catalogue['recover.phone_invalid'])?.[0];
    expect(example).toBeDefined();
    expect(parsePhoneNumberFromString(example!)?.isValid()).toBe(true);
  });
});

/** The visible text of the element that carries this message id (its first one), tags removed. */
function textOf(page: Page, messageId: string): string {
  const element = new RegExp(`<([a-z0-9]+)\\b[^>]*data-message-id="${messageId.replace(/\./g, '\\.')}"[^>]*>([\\s\\S]*?)</\\1>`).exec(page.body);
  if (!element) throw new Error(`no element with message id ${messageId} in:\n${page.body.slice(0, 3000)}`);
  return element[2]!.replace(/<[^>]+>/g, '').replace(/&#39;/g, "'").replace(/\s+/g, ' ').trim();
}

/** Apostrophes as typed and as typeset read the same. */
const sameApostrophes = (text: string) => text.replace(/’/g, "'");

describe('the link "Can\'t access your account?" where other messages name it', () => {
  it.each(['en', 'fr'])('in %s, the "This wasn\'t me" page names it as its button reads', async (lang) => {
    const { user } = await person(); // two methods and more: enough to recover from a lockdown
    const token = await createLockdowns(server.connection).issue(user._id);
    const browser = new Browser();
    const asked = await browser.get(`${server.origin}/recover/lockdown/${token}?lang=${lang}`);
    const done = await submit(browser, asked, '/lockdown/');
    expect(messageIds(done)).toEqual(expect.arrayContaining(['lockdown.done', 'login.cant_access']));
    // The support code once: in the helpdesk's line, not again below it.
    expect(messageIds(done).filter((id) => ['recover.support_none', 'recover.support_hint_before', 'error.support_code'].includes(id))).toHaveLength(1);
    expect(sameApostrophes(textOf(done, 'lockdown.done'))).toContain(sameApostrophes(textOf(done, 'login.cant_access')));
  });

  it.each(['en', 'fr'])('in %s, the "This wasn\'t me" page of an account with one method sends its owner to the administrator, not into a recovery it cannot finish', async (lang) => {
    const user = await createUser(server);
    await registerMethods(server, user, { alternateEmail: `alt-${user.username}@example.net` }); // enough for the policy's one proof, not a lockdown's two
    const token = await createLockdowns(server.connection).issue(user._id);
    const browser = new Browser();
    const done = await submit(browser, await browser.get(`${server.origin}/recover/lockdown/${token}?lang=${lang}`), '/lockdown/');
    expect(done.status).toBe(200);
    expect(messageIds(done)).toContain('lockdown.done_admin');
    expect(messageIds(done)).not.toContain('lockdown.done');
    expect(messageIds(done)).not.toContain('login.cant_access');
    expect(done.body).toMatch(/class="button primary"[^>]*data-message-id="error.home"/);
    expect(messageIds(done)).toEqual(expect.arrayContaining([expect.stringMatching(/^recover\.(contact_admin|support_none)$/)]));
    expect((await server.latchkey.accounts.findById(user._id))?.lockedDownAt).toBeTruthy(); // locked down all the same
  });

  it.each([
    ['en', en],
    ['fr', fr],
  ])('in %s, every message that quotes a question quotes the link as the sign-in page reads', (_locale, catalogue) => {
    const quoted = Object.values(catalogue).flatMap((text) => [...text.matchAll(/[«“]\s?([^»”]+\?)\s?[»”]/g)].map((m) => m[1]!));
    expect(quoted.length).toBeGreaterThan(0);
    for (const question of quoted) expect(sameApostrophes(question)).toBe(sameApostrophes(catalogue['login.cant_access']));
  });
});

describe('the code sent by text message', () => {
  it.each([
    ['en', 'to your phone'],
    ['fr', 'sur votre téléphone'],
  ])('in %s, says it went to the phone, named by its masked number', async (lang, toThePhone) => {
    const { user, mobilePhone } = await person();
    const browser = new Browser();
    await browser.get(`${server.origin}/recover?lang=${lang}`);
    const methods = await chooseGoal(browser, await identify(server, browser, user.username), 'reset');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'sms'), { phone: mobilePhone });
    expect(textOf(sent, 'recover.code_sent_sms')).toContain(`${toThePhone} (*****${mobilePhone.slice(-2)})`);
  });
});

describe('"Who are you?" example', () => {
  it.each([
    ['en', ' or '],
    ['fr', ' ou '],
  ])('in %s, gives as its second example what the label asks for, the username (a name alone finds no account)', async (lang, or) => {
    const page = await new Browser().get(`${server.origin}/recover?lang=${lang}`);
    const asked = textOf(page, 'recover.identifier').split(or).at(-1)!.toLowerCase();
    const hint = /<p\b[^>]*id="identifier-hint"[^>]*>([^<]*)<\/p>/.exec(page.body)![1]!.replace(/&#39;/g, "'").trim().toLowerCase();
    expect(hint.split(or).at(-1)).toBe(asked);
  });
});

describe('the phone chosen', () => {
  it.each([
    ['en', 'Text me at'],
    ['fr', 'M’envoyer un SMS au'],
  ])('in %s, shows the masked number it will text ("Text me at *****23") before asking for the whole number', async (lang, textMeAt) => {
    const { user, mobilePhone } = await person();
    const browser = new Browser();
    await browser.get(`${server.origin}/recover?lang=${lang}`);
    const sms = await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'sms');
    expect(textOf(sms, 'recover.sms_to')).toBe(`${textMeAt} *****${mobilePhone.slice(-2)}`);
    const ids = messageIds(sms);
    expect(ids.indexOf('recover.sms_to')).toBeLessThan(ids.indexOf('recover.sms_intro'));
  });
});
