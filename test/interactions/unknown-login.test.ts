// A sign-in attempt for a login that does not exist does the same argon2 work as a wrong password for one that
// does, so neither its timing nor the server's load tells an attacker which logins exist. A coarse check: the
// exact timing comparison is `npm run bench:enumeration`.
//
// It compares CPU time rather than wall time: argon2 runs on libuv's thread pool inside this process, so
// process.cpuUsage() counts it, while a busy machine (other test files, other processes) mostly stretches wall
// time, and a failed sign-in's minimum answer time (SIGNIN_FAILURE_MIN_MS) hides everything from wall time anyway.
// Without the dummy verification an unknown login costs a small fraction of a known one.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as client from 'openid-client';
import { Browser, findForm, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, backToSignIn, discover, openLoginPage } from '../helpers/rp.ts';
import { allowManyFailedSignIns, startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

const ROUNDS = 15;

let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;
let user: User;

beforeAll(async () => {
  // A higher argon2 cost than the default, so the hashing clearly outweighs the rest of a request's CPU time
  // (rendering, cookies, the database driver, the test's own HTTP client).
  server = await startTestServer({ ARGON2_TIME_COST: '6' });
  await allowManyFailedSignIns(server);
  rp = await createClient(server);
  config = await discover(server, rp);
  user = await createUser(server);
});
afterAll(() => server.close());

/** One browser on one login page, posting failed attempts to it again and again (each answer is the form again). */
class Attempts {
  private page!: Page;
  readonly cpu: number[] = [];
  readonly wall: number[] = [];
  readonly answers: string[][] = [];

  private readonly browser = new Browser();
  private readonly login: string;

  constructor(login: string) {
    this.login = login;
  }

  async open() {
    const start = await authorizationUrl(config, rp.redirect_uris[0]!);
    this.page = await openLoginPage(this.browser, start.url);
  }

  async post() {
    const form = findForm(this.page, '/login');
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const posted = await this.browser.post(form.action, { ...form.fields, login: this.login, password: 'not the password, not at all' });
    const cpu = process.cpuUsage(cpuBefore);
    this.wall.push(performance.now() - wallBefore);
    this.cpu.push((cpu.user + cpu.system) / 1000);
    // The refusal itself is the redirect back (timed above); the page it leads to says why.
    expect(posted.status).toBe(303);
    const answer = await backToSignIn(this.browser, posted);
    expect(answer.status).toBe(200);
    this.answers.push(messageIds(answer));
    this.page = answer;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

describe('a sign-in attempt for an unknown login', () => {
  it('does about as much password-hashing work as a wrong password for a real account', async () => {
    const unknown = new Attempts('no-such-person@example.test');
    const known = new Attempts(user.username);
    await unknown.open();
    await known.open();
    // Warm up both paths (template cache, connection pool, JIT), then interleave so any load hits both alike.
    await unknown.post();
    await known.post();
    unknown.cpu.length = known.cpu.length = unknown.wall.length = known.wall.length = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      await unknown.post();
      await known.post();
    }

    for (const answer of [...unknown.answers, ...known.answers]) expect(answer).toContain('login.invalid');
    const ratio = median(unknown.cpu) / median(known.cpu);
    const report = {
      ratio: Math.round(ratio * 100) / 100,
      cpuMs: { unknown: median(unknown.cpu), known: median(known.cpu) },
      wallMs: { unknown: median(unknown.wall), known: median(known.wall) },
    };
    // Coarse on purpose: with the dummy check the ratio is about 1; without it, well under a half. (The whole
    // report is compared so that a failure prints the measurements.)
    expect({ ...report, atLeastHalf: ratio >= 0.5 }).toEqual({ ...report, atLeastHalf: true });
  });
});
