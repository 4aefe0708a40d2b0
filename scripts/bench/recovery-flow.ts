// One complete password reset as a person does it: "Get back into your account" (identifier and CAPTCHA), "I forgot
// my password", "Email my alternate email", the code read from the email that arrives over SMTP, a new password,
// and the page that says it is done. Throws, with the step that went wrong, unless that page came. Each flow comes
// from its own address (X-Forwarded-For, which the benchmark's server trusts as it would behind its proxy), as
// people do: the per-address limits then apply as in production instead of stopping one address's flood.
import { randomBytes, randomInt } from 'node:crypto';
import { Browser, formEndingWith, stepLabel, type Page, type RequestObserver } from './browser.ts';
import type { Mailbox } from './mailbox.ts';
import type { RecoveryTarget } from './target.ts';

/** Redirects followed after one form before it counts as a loop. */
const MAX_REDIRECTS = 5;

const shows = (page: Page, messageId: string) => page.body.includes(`data-message-id="${messageId}"`);

async function follow(browser: Browser, first: Page): Promise<Page> {
  let page = first;
  for (let hops = 0; page.status >= 300 && page.status < 400 && page.location; hops += 1) {
    if (hops === MAX_REDIRECTS) throw new Error(`redirect loop at ${stepLabel('GET', page.url)}`);
    page = await browser.request(page.location);
  }
  return page;
}

/** Submits the page's form whose action ends with `suffix`, follows the redirect, and checks where it led. */
async function step(browser: Browser, page: Page, suffix: string, values: Record<string, string>, expected: string): Promise<Page> {
  const next = await follow(browser, await browser.submit(formEndingWith(page, suffix), values));
  if (!shows(next, expected)) {
    const shown = [...next.body.matchAll(/data-message-id="([^"]+)"/g)].map((m) => m[1]).slice(0, 6).join(', ');
    throw new Error(`after ${suffix}: expected ${expected}, got ${next.status} showing ${shown || 'no message'}`);
  }
  return next;
}

export async function runRecoveryFlow(
  recovery: RecoveryTarget,
  account: RecoveryTarget['accounts'][number],
  mailbox: Mailbox,
  signal: AbortSignal,
  observe: RequestObserver,
): Promise<void> {
  const address = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;
  const browser = new Browser(signal, observe, { 'x-forwarded-for': address });
  const start = await follow(browser, await browser.request(recovery.url));
  const goal = await step(browser, start, '/recover', { identifier: account.login, captcha: recovery.captchaAnswer, action: 'next' }, 'recover.goal_heading');
  const methods = await step(browser, goal, '/goal', { goal: 'reset' }, 'recover.method_email');
  const emailPanel = await step(browser, methods, '/method', { method: 'email' }, 'recover.email_intro');

  mailbox.forget(account.alternateEmail);
  const sent = await step(browser, emailPanel, '/send', {}, 'recover.code_sent_email');
  const waitStarted = performance.now();
  const code = await mailbox.takeCode(account.alternateEmail, signal);
  observe('(waiting for the email)', performance.now() - waitStarted);

  const passwordPage = await step(browser, sent, '/code', { code }, 'recover.password_heading');
  const password = `bench ${randomBytes(15).toString('base64url')}`;
  await step(browser, passwordPage, '/password', { password, confirm: password }, 'recover.done_reset');
}
