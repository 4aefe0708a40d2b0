// Walking the recovery pages as a person does, through HTTP: each helper submits one form of the current page and
// follows the redirect to the next one. Codes are read where the person would read them: the email in a real SMTP
// server started by the test, the text message in the development outbox.
import { expect } from '@jest/globals';
import { Browser, findForm, type Page } from './browser.ts';
import { startSmtpSink, type SmtpSink } from '../delivery/smtp-sink.ts';
import { startTestServer, type TestServer, type TestServerOptions } from './server.ts';
import { generateSecret, generateSync } from 'otplib';
import { createSecretBox } from '../../src/security/encryption.ts';
import type { User } from '../../src/accounts/user-model.ts';

export const CAPTCHA_ANSWER = 'TEST42';

/** A server for walking the recovery pages: the CAPTCHA answer fixed, emails delivered to a real SMTP sink. */
export async function startRecoveryServer(options: TestServerOptions = {}): Promise<{ server: TestServer; sink: SmtpSink; close(): Promise<void> }> {
  const sink = await startSmtpSink();
  const server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, SMTP_URL: sink.url }, options);
  return {
    server,
    sink,
    async close() {
      await server.close();
      await sink.close();
    },
  };
}

export async function waitFor<T>(find: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `count()` once it has reached `expected` (messages leave through the outbox after the answer that sent them) and a
 * little longer, so that a message more than expected shows too. Gives up waiting after 10 s and counts anyway.
 */
export async function settledCount(count: () => Promise<number>, expected: number): Promise<number> {
  await waitFor(async () => ((await count()) >= expected ? true : undefined), `${expected} messages`).catch(() => undefined);
  await new Promise((resolve) => setTimeout(resolve, 300));
  return count();
}

/** Posts `fields` with the form of `page` whose action contains `actionPart`, then follows redirects. */
export async function submit(browser: Browser, page: Page, actionPart: string, fields: Record<string, string> = {}): Promise<Page> {
  const form = findForm(page, actionPart);
  return browser.follow(await browser.post(form.action, { ...form.fields, ...fields }));
}

/**
 * Posts a form that its step refuses (a wrong code, a weak password): the answer is a 303 back to the flow's own page
 * (post, redirect, get: a reload there posts nothing again), which shows the refusal; that page.
 */
export async function submitRefused(browser: Browser, page: Page, actionPart: string, fields: Record<string, string> = {}): Promise<Page> {
  const form = findForm(page, actionPart);
  const answer = await browser.post(form.action, { ...form.fields, ...fields });
  expect(answer.status).toBe(303);
  const flowPage = new URL(form.action, page.url).pathname.replace(/\/[a-z-]+$/, '');
  expect(answer.headers.get('location')).toBe(flowPage);
  return browser.follow(answer);
}

/** "Who are you?": the identifier and the CAPTCHA (fixed by CAPTCHA_TEST_ANSWER); lands on the goal page. */
export async function identify(server: TestServer, browser: Browser, identifier: string, query = ''): Promise<Page> {
  const start = await browser.get(`${server.origin}/recover${query}`);
  return submit(browser, start, '/recover', { identifier, captcha: CAPTCHA_ANSWER, action: 'next' });
}

export const chooseGoal = (browser: Browser, page: Page, goal: 'reset' | 'unlock') => submit(browser, page, '/goal', { goal });
export const chooseMethod = (browser: Browser, page: Page, method: string) => submit(browser, page, '/method', { method });
export const sendCode = (browser: Browser, page: Page, fields: Record<string, string> = {}) => submit(browser, page, '/send', fields);
export const enterCode = (browser: Browser, page: Page, code: string) => submit(browser, page, '/code', { code });

/** The latest code emailed to `to` (after `after` emails were already there). */
export async function emailedCode(sink: SmtpSink, to: string, after = 0): Promise<string> {
  return waitFor(() => {
    const mails = sink.received.filter((m) => JSON.stringify(m.to).includes(to));
    return mails.length > after ? /\b(\d{6})\b/.exec(mails.at(-1)!.text ?? '')?.[1] : undefined;
  }, `an email to ${to}`);
}

interface OutboxMessage {
  to: string;
  channel: string;
  subject?: string;
  text: string;
  createdAt: string;
  /** Calls only. */
  answerUrl?: string;
  answerDigits?: number;
}

export async function outbox(server: TestServer): Promise<OutboxMessage[]> {
  return (await (await fetch(`${server.origin}/dev/outbox.json`)).json()) as OutboxMessage[];
}

/** The latest code texted to `to` (after `after` messages to it), from the SMS line's `#code`. */
export async function textedCode(server: TestServer, to: string, after = 0): Promise<string> {
  return waitFor(async () => {
    const texts = (await outbox(server)).filter((m) => m.channel === 'sms' && m.to === to);
    return texts.length > after ? /#(\d{6})$/.exec(texts[0]!.text)?.[1] : undefined;
  }, `a text message to ${to}`);
}


export interface SecurityInfoInput {
  alternateEmail?: string;
  mobilePhone?: string;
  /** Registers an authenticator; the returned `totp()` gives its current code. */
  authenticator?: boolean;
}

/** Registers verification methods on a user, as the admin CLI does; returns a TOTP generator when asked. */
export async function registerMethods(server: TestServer, user: User, info: SecurityInfoInput): Promise<{ totp: (epochSeconds?: number) => string }> {
  const secret = generateSecret();
  const box = createSecretBox(server.config.dataEncryptionKey);
  const securityInfo = {
    ...(info.alternateEmail && { alternateEmail: info.alternateEmail }),
    ...(info.mobilePhone && { mobilePhone: info.mobilePhone }),
    ...(info.authenticator && { authenticator: { totpSecret: box.seal(secret), registeredAt: new Date() } }),
  };
  await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $set: { securityInfo } });
  return { totp: (epoch = Math.floor(Date.now() / 1000)) => generateSync({ secret, epoch }) };
}
