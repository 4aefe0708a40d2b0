// "This wasn't me" confirmed just as the database dies: the 503 page says "Nothing was changed: try again in a
// moment", so confirming again, on this instance or another, must still lock the account down (a link used up by a
// request that locked nothing would leave whoever is in the account there).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, findForm, messageIds } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startCrashingDeployment, type CrashingDeployment } from '../helpers/crashing-db.ts';
import { createLockdowns } from '../../src/flows/recovery/lockdown.ts';

let deployment: CrashingDeployment;

beforeAll(async () => {
  deployment = await startCrashingDeployment();
}, 120_000);
afterAll(() => deployment.stop());

it('a confirmation the database failed half-way can be made again, and locks the account down', async () => {
  const { a, b, crashDuring } = deployment;
  const user = await createUser(a);
  const token = await createLockdowns(a.connection).issue(user._id);
  const browser = new Browser();
  const form = findForm(await browser.get(`${a.origin}/recover/lockdown/${token}`), '/recover/lockdown/');

  // The database dies as the account is written.
  const failed = await crashDuring({ commandName: 'update', collection: 'users' }, () => browser.post(form.action, form.fields));
  expect(failed.status).toBe(503);
  expect(messageIds(failed)).toContain('error.database_unavailable');

  const retry = await browser.get(`${b.origin}/recover/lockdown/${token}`);
  expect(retry.status).toBe(200);
  const confirmed = await browser.post(findForm(retry, '/recover/lockdown/').action, findForm(retry, '/recover/lockdown/').fields);
  expect(messageIds(confirmed)).toContain('lockdown.done_admin'); // done: an account with no methods is told to ask an administrator
  expect((await b.latchkey.accounts.findById(user._id))!.lockedDownAt).toBeInstanceOf(Date);
  // Used up once it worked.
  expect((await browser.get(`${b.origin}/recover/lockdown/${token}`)).status).toBe(410);
}, 120_000);
