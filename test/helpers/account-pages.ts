// The account's own security info page (/account/security-info) as a browser walks it: the current password, then
// the page, its forms by name.
import { expect } from '@jest/globals';
import { allForms, Browser, findForm, type Page } from './browser.ts';
import { PASSWORD } from './factories.ts';
import type { TestServer } from './server.ts';
import type { User } from '../../src/accounts/user-model.ts';

export const SECURITY_INFO_PATH = '/account/security-info';

/**
 * The password form, its answer to `login` and `current`, and the page that answer leads to: a refusal is a redirect
 * to the form (so that a reload posts no password again), which then says why.
 */
export async function openSecurityInfo(server: TestServer, user: Pick<User, 'username'>, current = PASSWORD, browser = new Browser()) {
  const form = await browser.get(`${server.origin}${SECURITY_INFO_PATH}`);
  expect(form.status).toBe(200);
  const fields = findForm(form, SECURITY_INFO_PATH).fields;
  const answer = await browser.post(`${server.origin}${SECURITY_INFO_PATH}`, { ...fields, login: user.username, current });
  const refused = answer.status === 303 && answer.headers.get('location') === SECURITY_INFO_PATH;
  return { browser, form, answer, refusal: refused ? await browser.follow(answer) : undefined };
}

/** The page of a right password, followed. */
export async function openSecurityInfoPage(server: TestServer, user: User, browser = new Browser()): Promise<{ browser: Browser; page: Page }> {
  const { answer } = await openSecurityInfo(server, user, PASSWORD, browser);
  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toMatch(/^\/account\/security-info\/[A-Za-z0-9_-]{22}$/);
  return { browser, page: await browser.follow(answer) };
}

/** Posts `form` with `fields` over its own, and follows the answer. */
export const postForm = async (browser: Browser, form: { action: string; fields: Record<string, string> }, fields: Record<string, string> = {}) =>
  browser.follow(await browser.post(form.action, { ...form.fields, ...fields }));

/** The page's form posting to `…/<name>` (for a method's row, `kind`'s). */
export function formNamed(page: Page, name: string, kind?: string) {
  const form = allForms(page).find((f) => f.action.endsWith(`/${name}`) && (kind === undefined || f.fields.kind === kind));
  if (!form) throw new Error(`no ${name} form${kind ? ` for ${kind}` : ''}:\n${page.body.slice(0, 3000)}`);
  return form;
}
