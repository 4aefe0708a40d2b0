// argon2 work is bounded: a flood of password posts queues behind a small number of hashes at once (each holds
// about 19 MiB), and past the queue gets a 503 page with a support code instead of exhausting memory.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, submitLogin } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { createSecretBox } from '../../src/security/encryption.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';

async function loginPages(server: TestServer, count: number): Promise<Array<{ browser: Browser; page: Page }>> {
  const config = await discover(server, await createClient(server));
  return Promise.all(
    Array.from({ length: count }, async () => {
      const browser = new Browser();
      return { browser, page: await openLoginPage(browser, (await authorizationUrl(config, `${server.origin}/cb`)).url) };
    }),
  );
}

describe('with the argon2 limit at 2', () => {
  let server: TestServer;
  let users: User[];
  beforeAll(async () => {
    server = await startTestServer({ ARGON2_MAX_CONCURRENT: '2', ARGON2_MAX_QUEUED: '64' });
    await allowManyFailedSignIns(server);
    users = await Promise.all(Array.from({ length: 10 }, () => createUser(server)));
  });
  afterAll(() => server.close());

  it('twenty parallel password posts never run more than 2 hashes at once, and all get an answer', async () => {
    const pages = await loginPages(server, 20);
    // Two tries per account: more tries at once for one account than its lockout threshold would be refused by
    // the lockout (each try takes a slot before its password counts; test/interactions/lockout.test.ts).
    const answers = await Promise.all(
      pages.map(({ browser, page }, i) => submitLogin(browser, page, users[i >> 1]!.username, i % 2 ? PASSWORD : 'a wrong password, not the right one')),
    );
    for (const [i, answer] of answers.entries()) expect(answer.status).toBe(i % 2 ? 303 : 200);
    const work = server.latchkey.passwordWork();
    expect(work.peakRunning).toBe(2);
    expect(work.refused).toBe(0);
    expect(work.running).toBe(0);
  });
});

describe('with no room to queue', () => {
  let server: TestServer;
  let user: User;
  beforeAll(async () => {
    server = await startTestServer({ ARGON2_MAX_CONCURRENT: '1', ARGON2_MAX_QUEUED: '0' });
    await allowManyFailedSignIns(server);
    user = await createUser(server);
  });
  afterAll(() => server.close());

  it('refuses the posts it cannot queue with a 503 page and a support code, and serves the rest', async () => {
    const pages = await loginPages(server, 8);
    const answers = await Promise.all(pages.map(({ browser, page }) => submitLogin(browser, page, user.username, PASSWORD)));
    const refused = answers.filter((a) => a.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status === 303).length).toBeGreaterThan(0);
    for (const page of refused) {
      expect(messageIds(page)).toContain('error.unavailable');
      expect(page.body).toContain(page.headers.get('x-request-id')!);
    }
    expect(server.latchkey.passwordWork().refused).toBe(refused.length);
  });
});

describe('the queue bound itself', () => {
  it('queues exactly ARGON2_MAX_QUEUED waiters behind the running work and refuses the next one', async () => {
    // Cheap parameters: this is about counting places, not about the cost of a hash.
    const hasher = await createPasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { box: createSecretBox(Buffer.alloc(32, 7)), limit: { maxConcurrent: 1, maxQueued: 2 } });
    const results = await Promise.allSettled(Array.from({ length: 4 }, () => hasher.hash('a password long enough')));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((results[3] as PromiseRejectedResult).reason).toBeInstanceOf(ServiceUnavailableError);
    expect(hasher.stats()).toMatchObject({ refused: 1, running: 0, queued: 0, peakRunning: 1 });
  });
});
