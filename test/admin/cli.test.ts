// The admin CLI as an operator runs it: a real child process (`node scripts/admin.ts …`) on the database of a
// running Latchkey, whose provider and pages then show what the command changed — without a restart.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, openedHash, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent, submitLogin } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { runAdmin, type AdminRun, type AdminRunOptions } from '../helpers/admin-cli.ts';
import { createKeyStore, type KeyInfo } from '../../src/oidc/keys.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { UserView } from '../../src/admin/user-admin.ts';
import { createPolicyStore } from '../../src/policy/store.ts';
import { outbox, waitFor } from '../helpers/recovery.ts';
import { hostname, userInfo } from 'node:os';


let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

/** What opens the keys the server stored: its DATA_ENCRYPTION_KEY. */
const serversBox = () => configuredSecretBox(server.config);

type Run = AdminRun;

/** `npm run admin -- <args>` with MONGODB_URI set to the test server's database. */
function admin(args: string[], options: AdminRunOptions = {}): Promise<Run> {
  return runAdmin(server.dbUri, args, options);
}

/** Runs a command with --json, expects success and returns the parsed output. */
async function adminJson<T>(args: string[], options?: AdminRunOptions): Promise<T> {
  const run = await admin([...args, '--json'], options);
  if (run.code !== 0) throw new Error(`admin ${args.join(' ')} exited with ${run.code}:\n${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

/** An audit event as `audit list --json` prints it. */
interface AuditRow {
  type: string;
  reason?: string;
  method?: string;
  actor?: string;
  target?: string;
  accountId?: string;
}

function createUserWithCli(username: string): Promise<UserView> {
  const args = ['users', 'create', '--username', username, '--email', `${username}@example.test`, '--name', `${username} Test`];
  // As documented: the password on stdin, with the newline `echo` adds; the user's own from the start, so that the
  // tests sign in with it (a temporary one: test/interactions/temporary-password.test.ts).
  return adminJson<UserView>([...args, '--password-stdin', '--permanent'], { input: `${PASSWORD}\n` });
}

describe('help and setup', () => {
  it.each([[['--help']], [['clients', '--help']], [['users', '-h']], [['keys', 'help']], [['clients', 'create', '--help']], [['users', 'set-role', '--help']]])(
    'answers %j without a database',
    async (args) => {
      const run = await admin(args, { env: { MONGODB_URI: undefined } });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('Usage: npm run admin --');
    },
  );

  it('lists every command of an area in its help', async () => {
    const run = await admin(['users', '--help']);
    // A summary's second line lines up under its first ("disable" has two).
    const lines = run.stdout.split('\n');
    const disable = lines.findIndex((line) => line.startsWith('  disable '));
    expect(lines[disable + 1]!.search(/\S/)).toBe(lines[disable]!.indexOf('Disables'));
    for (const command of ['create', 'list', 'show', 'disable', 'enable', 'unlock', 'set-role']) expect(run.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('refuses an unknown command or option with exit code 2 and points at --help', async () => {
    const unknownCommand = await admin(['clients', 'destroy']);
    expect(unknownCommand.code).toBe(2);
    expect(unknownCommand.stderr).toContain("unknown command 'clients destroy'");
    const unknownOption = await admin(['clients', 'list', '--all']);
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toContain('npm run admin -- clients list --help');
    const typo = await admin(['clients', 'create', '--nmae', 'Typo', '--redirect-uri', 'https://typo.example/cb']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('unknown option --nmae (did you mean --name?)');
    const areaTypo = await admin(['user', 'list']);
    expect(areaTypo.code).toBe(2);
    expect(areaTypo.stderr).toContain("unknown area 'user' (did you mean users?)");
    const commandTypo = await admin(['clients', 'lst']);
    expect(commandTypo.code).toBe(2);
    expect(commandTypo.stderr).toContain("unknown command 'clients lst' (did you mean list?)");
  });

  it('takes a password only on standard input, never as an argument (it would sit in shell history and ps)', async () => {
    const run = await admin(['users', 'create', '--username', 'argv-password', '--email', 'argv-password@example.test', '--password', PASSWORD]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('unknown option --password');
    expect(run.stdout).not.toContain('argv-password');
    const listed = await admin(['users', 'list']);
    expect(listed.stdout).not.toContain('argv-password');
  });

  it('explains where a database comes from when MONGODB_URI is missing', async () => {
    const run = await admin(['clients', 'list'], { env: { MONGODB_URI: undefined } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('MONGODB_URI is not set');
    expect(run.stderr).toContain('npm run db');
    expect(run.stderr).toContain('npm run demo'); // the newcomer's first command runs one too
  });
});

describe('clients', () => {
  it('registers a client that the running provider accepts at once, for a user created with the CLI', async () => {
    const user = await createUserWithCli('ada');
    const redirectUri = `${server.origin}/cb`;
    const registered = await admin(['clients', 'create', '--name', 'CLI App', '--redirect-uri', redirectUri, '--json']);
    expect(registered.code).toBe(0);
    expect(registered.stderr).toContain('not shown again');
    const rp = JSON.parse(registered.stdout) as ClientMetadata;

    const config = await discover(server, rp);
    const start = await authorizationUrl(config, redirectUri);
    const callback = await signInAndConsent(new Browser(), start, 'ada', redirectUri);
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: start.verifier,
      expectedState: start.state,
      expectedNonce: start.nonce,
    });
    expect(tokens.claims()).toMatchObject({ sub: user.id, aud: rp.client_id, iss: server.issuer });
  });

  it('prints the secret when it is created and never again', async () => {
    const created = await admin(['clients', 'create', '--name', 'Shown Once', '--redirect-uri', 'https://app.example.com/cb']);
    expect(created.code).toBe(0);
    const clientId = /^client id\s+(\S+)$/m.exec(created.stdout)?.[1];
    const secret = /^client secret\s+(\S+)$/m.exec(created.stdout)?.[1];
    expect(clientId).toBeTruthy();
    expect(secret).toMatch(/^[\w-]{40,}$/);
    expect(created.stderr).toContain('not shown again');

    for (const args of [['clients', 'show', clientId!], ['clients', 'show', clientId!, '--json'], ['clients', 'list'], ['clients', 'list', '--json']]) {
      const run = await admin(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(clientId!);
      expect(run.stdout).not.toContain(secret!);
    }
  });

  it.each([
    ['http on a host that is not loopback', 'http://app.example.com/cb', 'must use https'],
    ['a fragment', 'https://app.example.com/cb#done', 'must not contain a fragment'],
    ['something that is not a URL', 'app.example.com/cb', 'is not an absolute URL'],
  ])('refuses a redirect URI with %s, and stores nothing', async (_case, uri, reason) => {
    const before = await adminJson<ClientMetadata[]>(['clients', 'list']);
    const run = await admin(['clients', 'create', '--name', 'Refused', '--redirect-uri', 'https://ok.example.com/cb', '--redirect-uri', uri]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(uri);
    expect(run.stderr).toContain(reason);
    expect(run.stdout).toBe('');
    expect(await adminJson<ClientMetadata[]>(['clients', 'list'])).toEqual(before);
  });

  it('refuses an invalid redirect URI on update too, leaving the client as it was', async () => {
    const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Kept', '--redirect-uri', 'https://kept.example.com/cb']);
    const run = await admin(['clients', 'update', created.client_id, '--name', 'Renamed', '--redirect-uri', 'http://kept.example.com/cb']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('must use https');
    const shown = await adminJson<ClientMetadata>(['clients', 'show', created.client_id]);
    expect(shown).toMatchObject({ client_name: 'Kept', redirect_uris: ['https://kept.example.com/cb'] });
  });

  it('rotate-secret: the old secret stops working at the token endpoint and the new one works', async () => {
    const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Service', '--grant-type', 'client_credentials']);
    const withSecret = (secret: string | undefined) => discover(server, { ...created, client_secret: secret });
    const oldSecret = await withSecret(created.client_secret);
    await expect(client.clientCredentialsGrant(oldSecret)).resolves.toMatchObject({ access_token: expect.any(String) });

    const rotated = await adminJson<ClientMetadata>(['clients', 'rotate-secret', created.client_id]);
    expect(rotated.client_secret).toBeTruthy();
    expect(rotated.client_secret).not.toBe(created.client_secret);

    await expect(client.clientCredentialsGrant(oldSecret)).rejects.toMatchObject({ error: 'invalid_client' });
    await expect(client.clientCredentialsGrant(await withSecret(rotated.client_secret))).resolves.toMatchObject({ access_token: expect.any(String) });
  });

  it('delete: the provider no longer knows the client', async () => {
    const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Gone', '--grant-type', 'client_credentials']);
    const config = await discover(server, created);
    expect((await admin(['clients', 'delete', created.client_id])).code).toBe(0);
    await expect(client.clientCredentialsGrant(config)).rejects.toMatchObject({ error: 'invalid_client' });
    const again = await admin(['clients', 'show', created.client_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no such client: '${created.client_id}'`); // said once, not "no such client: no client …"
  });

  it('says PKCE does not apply to a client that never gets an authorization code', async () => {
    const service = await admin(['clients', 'create', '--name', 'Machine', '--grant-type', 'client_credentials']);
    expect(service.stdout).toMatch(/PKCE required\s+not applicable \(no authorization code\)/);
  });
});

describe('users', () => {
  const redirectUri = () => `${server.origin}/cb`;
  let user: UserView;
  let config: client.Configuration;

  beforeAll(async () => {
    user = await createUserWithCli('grace');
    config = await discover(server, await createClient(server));
  });

  async function submitPassword(password: string): Promise<Page> {
    const browser = new Browser();
    const start = await authorizationUrl(config, redirectUri());
    return submitLogin(browser, await openLoginPage(browser, start.url), 'grace', password);
  }

  async function signIn() {
    const start = await authorizationUrl(config, redirectUri());
    const callback = await signInAndConsent(new Browser(), start, 'grace', redirectUri());
    return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  }

  const alertText = (page: Page) => /id="login-error"[^>]*>([^<]*)</.exec(page.body)?.[1];

  it('disable: the right password gets the same answer as a wrong one and issued tokens stop working; enable restores sign-in', async () => {
    const tokens = await signIn();
    const wrong = await submitPassword('not the password');
    expect(messageIds(wrong)).toContain('login.invalid');

    expect((await admin(['users', 'disable', 'grace'])).code).toBe(0);
    const again = await admin(['users', 'disable', 'grace']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was already disabled; nothing changed');
    const refused = await submitPassword(PASSWORD);
    expect(refused.status).toBe(wrong.status);
    expect(messageIds(refused)).toEqual(messageIds(wrong));
    expect(alertText(refused)).toBe(alertText(wrong));
    // Refused as a bearer token (RFC 6750 §3.1: 401, invalid_token), not by some other failure.
    await expect(client.fetchUserInfo(config, tokens.access_token, user.id)).rejects.toMatchObject({
      code: 'OAUTH_WWW_AUTHENTICATE_CHALLENGE',
      status: 401,
      cause: [expect.objectContaining({ scheme: 'bearer', parameters: expect.objectContaining({ error: 'invalid_token' }) })],
    });
    expect((await adminJson<UserView>(['users', 'show', user.id])).status).toBe('disabled');

    expect((await admin(['users', 'enable', user.id])).code).toBe(0);
    expect((await signIn()).claims()?.sub).toBe(user.id);
  });

  it('set-role admin shows in users show --json, and --role none removes it', async () => {
    expect((await admin(['users', 'set-role', 'grace@example.test', '--role', 'admin'])).code).toBe(0);
    expect((await adminJson<UserView>(['users', 'show', 'grace'])).roles).toEqual(['admin']);
    expect((await admin(['users', 'set-role', 'grace', '--role', 'none'])).code).toBe(0);
    expect((await adminJson<UserView>(['users', 'show', 'grace'])).roles).toEqual([]);
    const invalid = await admin(['users', 'set-role', 'grace', '--role', 'root']);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('--role must be one of admin, none');
  });

  it('set-methods registers what users show then lists, and none clears one', async () => {
    const set = await admin(['users', 'set-methods', 'grace', '--alternate-email', 'grace@home.example', '--mobile-phone', '+1 415 555 0123']);
    expect(set.code).toBe(0);
    const shown = await admin(['users', 'show', 'grace']);
    expect(shown.stdout).toMatch(/alternate email\s+grace@home\.example/);
    expect(shown.stdout).toMatch(/mobile phone\s+\+14155550123/);
    expect(shown.stdout).toMatch(/authenticator\s+\(none\)/);
    expect((await admin(['users', 'set-methods', 'grace', '--mobile-phone', 'none'])).code).toBe(0);
    const json = await adminJson<UserView & { methods: Record<string, unknown> }>(['users', 'show', 'grace']);
    expect(json.methods).toEqual({ alternateEmail: 'grace@home.example', mobilePhone: null, officePhone: null, authenticator: false, appDevice: null });
    const refused = await admin(['users', 'set-methods', 'grace', '--mobile-phone', '12']);
    expect(refused.code).toBe(1); // a refused value, not a wrong command line
    expect(refused.stderr).toContain("invalid phone number: --mobile-phone '12'");
  });

  it('set-methods and enrol-authenticator tell the owner on the contacts registered before, with the lockdown link and only hints of the new values', async () => {
    await createUserWithCli('lena');
    /** The `count` notices a change sent, once the `before` of earlier changes and they are all in the outbox. */
    const notices = (count: number, before = 0) =>
      waitFor(async () => {
        const all = (await outbox(server)).filter((m) => (m.subject === 'The ways to verify your identity were changed' || m.channel === 'sms') && /account lena\b/.test(m.text));
        return all.length === before + count ? all.slice(0, count) : undefined; // newest first
      }, 'the notices of a change of methods');

    // First methods: only the primary address existed before, so only it is told (no text: there was no phone).
    const first = await adminJson<{ notified: number }>(['users', 'set-methods', 'lena', '--alternate-email', 'lena@old.example', '--mobile-phone', '+14155550177']);
    expect(first.notified).toBe(1);
    const firstNotices = await notices(1);
    expect(firstNotices.map((m) => m.to)).toEqual(['lena@example.test']);
    expect(firstNotices[0]!.text).toContain('alternate email set to l*****@o*****');
    expect(firstNotices[0]!.text).toContain('An administrator changed the ways to verify your identity');
    expect(firstNotices[0]!.text).not.toContain('lena@old.example');

    // Replaced: the old alternate address and the old phone hear of it, the new ones do not, and none shows in full.
    const replaced = await admin(['users', 'set-methods', 'lena', '--alternate-email', 'attacker@evil.example', '--mobile-phone', '+14155550999']);
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toContain('The owner is told on 3 contact(s) registered before the change.');
    const told = await notices(3, 1);
    expect(told.map((m) => `${m.channel}:${m.to}`).sort()).toEqual(['email:lena@example.test', 'email:lena@old.example', 'sms:+14155550177']);
    for (const notice of told) {
      expect(notice.text).toMatch(/\/recover\/lockdown\/[\w-]{43}/);
      expect(notice.text).not.toContain('attacker@evil.example');
      expect(notice.text).not.toContain('5550999');
    }
    const email = told.find((m) => m.to === 'lena@old.example')!;
    expect(email.text).toContain('alternate email set to a*****@e*****');
    expect(email.text).toContain('mobile phone set to *****99');

    // A new authenticator: told on the addresses registered then (the attacker's included: it was the alternate one).
    // The app lists the account under the service's name, as the sign-in page's enrolment does: the running server's
    // (its BRAND_NAME), whatever this shell's environment says.
    const enrolled = await adminJson<{ notified: number; otpauthUri: string }>(['users', 'enrol-authenticator', 'lena'], { env: { BRAND_NAME: 'Not The Server ID' } });
    expect(enrolled.notified).toBe(3);
    const serverBrand = server.config.brand.name;
    expect(new URL(enrolled.otpauthUri).searchParams.get('issuer')).toBe(serverBrand);
    expect(decodeURIComponent(new URL(enrolled.otpauthUri).pathname)).toMatch(new RegExp(`^/${serverBrand}:`));
    const enrolNotices = await notices(3, 4);
    expect(enrolNotices.map((m) => m.to).sort()).toEqual(['+14155550999', 'attacker@evil.example', 'lena@example.test']);
    expect(enrolNotices.find((m) => m.to === 'lena@example.test')!.text).toContain('a new authenticator app registered');
  });

  it('never prints a password hash', async () => {
    const stored = await server.connection.db!.collection('users').findOne({ username: 'grace' });
    expect(openedHash(server, stored!.passwordHash as string)).toMatch(/^\$argon2id\$/);
    for (const args of [['users', 'list'], ['users', 'list', '--json'], ['users', 'show', 'grace'], ['users', 'show', 'grace', '--json']]) {
      const run = await admin(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('grace');
      expect(run.stdout).not.toMatch(/argon2|passwordHash/);
    }
  });

  it('refuses a second account with the same email, and a short password, with a message', async () => {
    const taken = await admin(['users', 'create', '--username', 'grace2', '--email', 'GRACE@example.test', '--password-stdin'], { input: PASSWORD });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('already in use');
    // 14 code points: one short of the default minimum of 15.
    const short = await admin(['users', 'create', '--username', 'henry', '--email', 'henry@example.test', '--password-stdin'], { input: 'fourteen chars\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password refused: password must have at least 15 characters');
    expect((await admin(['users', 'show', 'henry'])).code).toBe(1);
    const common = await admin(['users', 'create', '--username', 'henry', '--email', 'henry@example.test', '--password-stdin'], { input: 'passwordpassword\n' });
    expect(common.code).toBe(1);
    expect(common.stderr).toContain('common passwords');
    // The password piped twice, as the terminal's prompt asks for it: one line break is trimmed, not the one between.
    const twice = await admin(['users', 'create', '--username', 'henry', '--email', 'henry@example.test', '--password-stdin'], { input: 'tiger lamp sofa desk\ntiger lamp sofa desk\n' });
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('password refused: password contains a line break');
    expect((await admin(['users', 'show', 'henry'])).code).toBe(1);
  });

  it('unlock ends a lockout at once and keeps the password', async () => {
    for (let i = 0; i < 10; i += 1) await server.latchkey.accounts.signIn('grace', `not grace's password ${i}`);
    expect(await server.latchkey.accounts.isLocked(user.id)).toBe(true);
    expect((await submitPassword(PASSWORD)).status).toBe(200);
    // The helpdesk can see it without changing anything.
    const shown = await admin(['users', 'show', 'grace']);
    expect(shown.stdout).toMatch(/sign-in +locked until \d{4}-\d\d-\d\dT[\d:.]+Z after 10 wrong passwords/);
    expect(await adminJson<{ signIn: object }>(['users', 'show', 'grace'])).toMatchObject({ signIn: { locked: true, lockedUntil: expect.any(String), turnedOff: false } });
    const run = await admin(['users', 'unlock', 'grace']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('was locked until');
    expect(run.stdout).toContain('They are told on'); // as after an unlock by recovery (policy notify.onUnlock)
    expect(await server.latchkey.accounts.isLocked(user.id)).toBe(false);
    expect((await submitPassword(PASSWORD)).status).toBe(303);
    expect((await admin(['users', 'show', 'grace'])).stdout).toMatch(/sign-in +not locked \(0 of 10 wrong passwords counted\)/);
  });

  it('enable of an account locked down while disabled says that sign-in is still refused, and that its owner was not told', async () => {
    const hedy = await createUserWithCli('hedy');
    expect((await admin(['users', 'disable', 'hedy'])).code).toBe(0);
    const lockedDown = await admin(['users', 'lock-down', 'hedy']);
    expect(lockedDown.code).toBe(0);
    expect(lockedDown.stdout).toContain('they are not told');
    const run = await admin(['users', 'enable', 'hedy']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is now active, but still locked down');
    expect(run.stdout).toContain('its owner was not told: tell them, or run set-password');
    expect((await server.latchkey.accounts.signIn('hedy', PASSWORD)).ok).toBe(false);
    expect((await server.latchkey.accounts.findById(hedy.id))!.status).toBe('active');
  });

  it("unlock also ends a \"This wasn't me\" lockdown, and says so", async () => {
    const judy = await createUserWithCli('judy');
    await server.latchkey.accounts.lockDown(judy.id);
    const run = await admin(['users', 'unlock', 'judy']);
    expect(run.code).toBe(0);
    // Not "was not locked", which a locked-down account is: no lockout from wrong passwords, and the lockdown is over.
    expect(run.stdout).toContain('judy had no lockout from wrong passwords');
    expect(run.stdout).not.toContain('was not locked');
    expect(run.stdout).toContain('"This wasn\'t me" lockdown since');
    expect((await server.latchkey.accounts.findById(judy.id))!.lockedDownAt).toBeUndefined();
    // The password stays, so the owner who pressed "This wasn't me" hears that it was undone, with the link again.
    // The link is on the running server's origin, though this command ran without its ISSUER (the default would be
    // http://localhost:3000).
    expect(run.stdout).toContain('They are told on 1 contact(s)');
    const [notice] = await waitFor(async () => {
      const found = (await outbox(server)).filter((m) => m.to === 'judy@example.test' && m.subject === 'Your account was unlocked');
      return found.length ? found : undefined;
    }, 'the unlock notice');
    expect(notice!.text).toContain(`${server.origin}/recover/lockdown/`);
  });

  it("records every administrator's change to an account in the audit log", async () => {
    await createUserWithCli('kim');
    for (const args of [['disable'], ['enable'], ['set-role', '--role', 'admin'], ['set-methods', '--mobile-phone', '+14155550124'], ['enrol-authenticator'], ['unlock']]) {
      expect((await admin(['users', args[0]!, 'kim', ...args.slice(1)])).code).toBe(0);
    }
    const events = await adminJson<Array<{ type: string; reason?: string; method?: string }>>(['audit', 'list', '--account', 'kim']);
    expect(events.map((e) => e.type).reverse()).toEqual([
      'account.created',
      'account.disabled',
      'account.enabled',
      'account.roles_changed',
      'security_info.changed',
      'security_info.changed',
      'account.unlocked',
    ]);
    expect(events.every((e) => e.reason === 'admin')).toBe(true);
    expect(events.filter((e) => e.type === 'security_info.changed').map((e) => e.method)).toEqual(['authenticator', 'mobilePhone']);
  });

  it('applies the minimum of the policy stored in the database: 16 refused under 17, accepted at 16', async () => {
    const policies = createPolicyStore(server.connection);
    await policies.save({ passwordMinLength: 17 });
    try {
      const sixteen = 'sixteen chars ok';
      const run = (username: string) =>
        admin(['users', 'create', '--username', username, '--email', `${username}@example.test`, '--password-stdin'], { input: `${sixteen}\n` });
      const refused = await run('ivan');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('at least 17 characters');
      await policies.save({ passwordMinLength: 16 });
      expect((await run('ivan')).code).toBe(0);
    } finally {
      await policies.save({});
    }
  });

  it("set-password: the new password works at once, the old one and every token issued before stop, and it is audited", async () => {
    const tokens = await signIn();
    const newPassword = 'a new passphrase from the helpdesk';
    const short = await admin(['users', 'set-password', 'grace', '--password-stdin'], { input: 'fourteen chars\n' });
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('at least 15 characters');
    expect((await server.latchkey.accounts.signIn('grace', PASSWORD)).ok).toBe(true); // refused: nothing changed

    const run = await admin(['users', 'set-password', 'grace', '--password-stdin', '--permanent'], { input: `${newPassword}\n` });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('The password of grace is set');
    // The owner is told on every address they registered (the running server's sender delivers it), as after a reset.
    expect(run.stdout).toContain('They are told on 2 contact(s)');
    const told = await waitFor(async () => {
      const notices = (await outbox(server)).filter((m) => m.subject === 'Your password was reset' && (m.to === 'grace@example.test' || m.to === 'grace@home.example'));
      return notices.length === 2 ? notices : undefined;
    }, 'the reset notices');
    for (const notice of told) expect(notice.text).toMatch(/\/recover\/lockdown\/[\w-]{43}/);
    expect(messageIds(await submitPassword(PASSWORD))).toContain('login.invalid');
    expect((await submitPassword(newPassword)).status).toBe(303);
    await expect(client.fetchUserInfo(config, tokens.access_token, user.id)).rejects.toMatchObject({ status: 401 });
    const events = await adminJson<Array<{ type: string; reason?: string }>>(['audit', 'list', '--account', 'grace', '--type', 'password.reset']);
    expect(events[0]).toMatchObject({ type: 'password.reset', reason: 'admin' });
    // Back to the file's password for whatever runs next.
    expect((await admin(['users', 'set-password', 'grace', '--password-stdin', '--permanent'], { input: `${PASSWORD}\n` })).code).toBe(0);
  });
});

describe('keys', () => {
  /** The kids the running server publishes at <issuer>/jwks, fetched until `done` holds or `ms` have passed. */
  async function servedKids(done: (kids: string[]) => boolean, ms = 2000): Promise<string[]> {
    const deadline = Date.now() + ms;
    for (;;) {
      const jwks = (await (await fetch(`${server.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      const kids = jwks.keys.map((k) => k.kid);
      if (done(kids) || Date.now() > deadline) return kids;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const withStatus = (keys: KeyInfo[], status: string) => keys.filter((k) => k.status === status);

  it('rotate: the published next pair starts signing, the active pair retires and stays published for the longest token lifetime plus a day', async () => {
    const before = await adminJson<KeyInfo[]>(['keys', 'list']);
    expect(before.map((k) => `${k.alg}:${k.status}`).sort()).toEqual(['ES256:active', 'ES256:next', 'RS256:active', 'RS256:next']);
    // The table says what each pair's publication lasts: the next pair's is not "while active".
    const table = (await admin(['keys', 'list'])).stdout.split('\n');
    const rows = (status: string) => table.filter((line) => new RegExp(` ${status} `).test(line));
    expect(rows('next').map((line) => line.includes('(published; signs after rotate)'))).toEqual([true, true]);
    expect(rows('active').map((line) => line.includes('(while active)'))).toEqual([true, true]);
    const kidOf = (keys: KeyInfo[], alg: string, status: string) => keys.find((k) => k.alg === alg && k.status === status)!.kid;

    const rotatedAt = Date.now();
    const rotation = await admin(['keys', 'rotate'], { env: { TTL_ACCESS_TOKEN: '7200', TTL_ID_TOKEN: '5400', TTL_SESSION: '36000' } });
    expect(rotation.code).toBe(0);
    expect(rotation.stderr).toContain('pick up new signing keys on restart');

    const after = await adminJson<KeyInfo[]>(['keys', 'list']);
    for (const alg of ['ES256', 'RS256']) {
      // What was next (and already published by every instance) now signs; what signed is retired.
      expect(kidOf(after, alg, 'active')).toBe(kidOf(before, alg, 'next'));
      expect(kidOf(after, alg, 'retired')).toBe(kidOf(before, alg, 'active'));
      expect(before.map((k) => k.kid)).not.toContain(kidOf(after, alg, 'next'));
    }
    // Retained for max(TTL_ACCESS_TOKEN, TTL_ID_TOKEN, TTL_SESSION) = 36000 s plus a day, from the rotation: an ID
    // token it signed is still a logout's id_token_hint while its session lasts.
    const retired = after.filter((k) => k.status === 'retired');
    for (const key of retired) {
      const retainedMs = new Date(key.expiresAt!).getTime() - rotatedAt;
      expect(retainedMs).toBeGreaterThanOrEqual((36000 + 86400) * 1000);
      expect(retainedMs).toBeLessThan((36000 + 86400) * 1000 + 30_000);
    }

    // What a server starting now loads: oidc-provider signs with the first key of each algorithm.
    const loaded = (await createKeyStore(server.connection, { box: serversBox() }).loadJwks()).keys;
    expect(loaded.find((k) => k.alg === 'ES256')?.kid).toBe(kidOf(after, 'ES256', 'active'));
    expect(loaded.find((k) => k.alg === 'RS256')?.kid).toBe(kidOf(after, 'RS256', 'active'));
    expect(loaded.map((k) => k.kid).sort()).toEqual(after.map((k) => k.kid).sort());

    // The running server keeps signing with the keys it loaded at start, but publishes what the database holds
    // within a second: the retired pair it still signs with, the pair that now signs elsewhere, the new next pair.
    const published = await servedKids((kids) => kids.length === after.length);
    expect(published.sort()).toEqual(after.map((k) => k.kid).sort());

    // Once the retention has passed, a starting server neither uses nor publishes the retired keys.
    const retiredUntil = Math.max(...retired.map((k) => new Date(k.expiresAt!).getTime()));
    const justBefore = await createKeyStore(server.connection, { box: serversBox() }, () => new Date(retiredUntil - 1000)).loadJwks();
    expect(justBefore.keys).toHaveLength(6);
    const afterwards = await createKeyStore(server.connection, { box: serversBox() }, () => new Date(retiredUntil + 1000)).loadJwks();
    expect(afterwards.keys.map((k) => k.kid).sort()).toEqual(after.filter((k) => k.status !== 'retired').map((k) => k.kid).sort());

    // In the audit log: which keys now sign, and who rotated them.
    const [event] = await adminJson<AuditRow[]>(['audit', 'list', '--type', 'keys.rotated', '--limit', '1']);
    expect(event).toMatchObject({ reason: 'admin', actor: expect.any(String) });
    expect(event!.target!.split(',').sort()).toEqual([kidOf(after, 'ES256', 'active'), kidOf(after, 'RS256', 'active')].sort());
  });
  it('rotate interrupted after each of its writes, then run again: exactly one active pair, published by the running server', async () => {
    const recorded: string[] = [];
    await createKeyStore(server.connection, { box: serversBox(), afterStep: (step) => void recorded.push(step) }).rotate(3600);
    // Each kind of write (generation numbers aside), in order: the switch, expiry marks, the new next pair.
    const kinds = [...new Set(recorded.map((step) => step.replace(/(activate-|g)\d+/g, '$1N')))];
    expect(kinds[0]).toBe('insert activate-N');
    expect(kinds.at(-1)).toBe('insert gN-RS256');
    for (const kind of kinds) {
      const interrupted = createKeyStore(server.connection, { box: serversBox(),
        afterStep: (step) => {
          if (step.replace(/(activate-|g)\d+/g, '$1N') === kind) throw new Error(`interrupted after ${step}`);
        },
      });
      await expect(interrupted.rotate(3600)).rejects.toThrow('interrupted after');
      const meanwhile = await createKeyStore(server.connection, { box: serversBox() }).list();
      expect(withStatus(meanwhile, 'active').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);

      const rerun = await admin(['keys', 'rotate']);
      expect(rerun.code).toBe(0);
      // The rerun switches only to a next pair the interrupted run had completed (and so published); otherwise it
      // completes that pair and leaves the active one.
      const nextWasComplete = withStatus(meanwhile, 'next').length === 2;
      expect(nextWasComplete).toBe(kind === kinds.at(-1));
      expect(rerun.stdout).toContain(nextWasComplete ? 'Signing keys rotated' : 'No switch');
      const keys = await adminJson<KeyInfo[]>(['keys', 'list']);
      expect(withStatus(keys, 'active').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      expect(withStatus(keys, 'next').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
      const loaded = (await createKeyStore(server.connection, { box: serversBox() }).loadJwks()).keys;
      const active = withStatus(keys, 'active').map((k) => k.kid);
      expect(active).toEqual(withStatus(meanwhile, nextWasComplete ? 'next' : 'active').map((k) => k.kid));
      expect([loaded.find((k) => k.alg === 'ES256')!.kid, loaded.find((k) => k.alg === 'RS256')!.kid]).toEqual(active);
      expect(await servedKids((kids) => active.every((kid) => kids.includes(kid)))).toEqual(expect.arrayContaining(active));
    }
  });

  it('revoke: an active key leaves the running server\'s JWKS within a second; the next pair signs; every instance must restart', async () => {
    const before = await adminJson<KeyInfo[]>(['keys', 'list']);
    const victim = withStatus(before, 'active').find((k) => k.alg === 'ES256')!.kid;
    expect(await servedKids((kids) => kids.includes(victim))).toContain(victim);

    const run = await admin(['keys', 'revoke', victim]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Key ${victim} revoked`);
    expect(run.stderr).toContain('RESTART EVERY INSTANCE NOW');
    expect(run.stderr).not.toContain('a new next pair is published in its place');
    const revokedAt = Date.now();
    expect(await servedKids((kids) => !kids.includes(victim), 5000)).not.toContain(victim);
    expect(Date.now() - revokedAt).toBeLessThan(5000); // seconds, without a restart

    const after = await adminJson<KeyInfo[]>(['keys', 'list']);
    expect(after.map((k) => k.kid)).not.toContain(victim);
    expect(withStatus(after, 'active').map((k) => k.kid)).toEqual(withStatus(before, 'next').map((k) => k.kid));
    expect((await createKeyStore(server.connection, { box: serversBox() }).loadJwks()).keys.map((k) => k.kid)).not.toContain(victim);
  });

  it('revoke: a next key just leaves publication (a new next pair replaces it); an unknown kid is refused', async () => {
    const before = await adminJson<KeyInfo[]>(['keys', 'list']);
    const victim = withStatus(before, 'next').find((k) => k.alg === 'RS256')!.kid;
    const run = await admin(['keys', 'revoke', victim, '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ kid: victim, rotated: false, nextReplaced: true });
    expect(run.stderr).not.toContain('RESTART');
    expect(run.stderr).toContain('a new next pair is published in its place');
    expect(await servedKids((kids) => !kids.includes(victim))).not.toContain(victim);
    const after = await adminJson<KeyInfo[]>(['keys', 'list']);
    expect(withStatus(after, 'active').map((k) => k.kid)).toEqual(withStatus(before, 'active').map((k) => k.kid));
    expect(withStatus(after, 'next').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(after.map((k) => k.kid)).not.toContain(victim);

    const unknown = await admin(['keys', 'revoke', 'no-such-kid']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("no signing key with kid 'no-such-kid'");
    expect(await adminJson<KeyInfo[]>(['keys', 'list'])).toEqual(after);
  });

  it('the served JWKS holds no private member of any key and carries a short Cache-Control', async () => {
    const response = await fetch(`${server.issuer}/jwks`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('public, max-age=60, must-revalidate');
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const key of keys) {
      expect(key.kty).toMatch(/^(EC|RSA)$/);
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(member);
    }
  });

  it('rotate-cookie: the new key comes first, the previous one is kept, at most three; refused when COOKIE_KEYS is set', async () => {
    const secrets = server.connection.db!.collection<{ _id: string; keys?: string[]; sealed: string }>('secrets');
    // Kept sealed with DATA_ENCRYPTION_KEY: the database alone does not hold them.
    const stored = async () => {
      const doc = (await secrets.findOne({ _id: 'cookie-keys' }))!;
      expect(doc.keys).toBeUndefined();
      return JSON.parse(serversBox().open(doc.sealed)) as string[];
    };
    const initial = await stored();
    expect(initial).toHaveLength(1); // created by the server at start

    const run = await admin(['keys', 'rotate-cookie']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('once each instance restarts');
    const once = await stored();
    expect(once).toHaveLength(2);
    expect(once[1]).toBe(initial[0]);
    expect(initial).not.toContain(once[0]);
    for (const key of once) expect(run.stdout + run.stderr).not.toContain(key);

    for (let i = 0; i < 2; i += 1) expect((await admin(['keys', 'rotate-cookie'])).code).toBe(0);
    const thrice = await stored();
    expect(thrice).toHaveLength(3);
    expect(thrice.slice(1)).toEqual([expect.any(String), once[0]]);
    expect(thrice).not.toContain(initial[0]);

    const refused = await admin(['keys', 'rotate-cookie'], { env: { COOKIE_KEYS: 'k'.repeat(40) } });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('change COOKIE_KEYS instead');
    expect(await stored()).toEqual(thrice);
  });
});

describe("the audit log of administrators' changes", () => {
  it('records who created, changed, rotated the secret of and deleted a client, and changed the policy, and what, never a secret', async () => {
    const asAlice = { env: { LATCHKEY_ADMIN: 'alice (ops)' } };
    const created = await adminJson<ClientMetadata>(['clients', 'create', '--name', 'Audited', '--redirect-uri', 'http://localhost/cb'], asAlice);
    expect((await admin(['clients', 'update', created.client_id, '--name', 'Audited again', '--first-party'], asAlice)).code).toBe(0);
    const rotated = await adminJson<ClientMetadata>(['clients', 'rotate-secret', created.client_id], asAlice);
    expect((await admin(['clients', 'delete', created.client_id], asAlice)).code).toBe(0);
    try {
      expect((await admin(['policy', 'set', 'lockout.threshold=7', 'codes.maxTries=4'], asAlice)).code).toBe(0);
    } finally {
      expect((await admin(['policy', 'set', 'lockout.threshold=null', 'codes.maxTries=null'], asAlice)).code).toBe(0);
    }

    const events = await adminJson<AuditRow[]>(['audit', 'list', '--limit', '1000']);
    const forClient = events.filter((e) => e.target === created.client_id).reverse();
    expect(forClient.map((e) => e.type)).toEqual(['client.created', 'client.updated', 'client.secret_rotated', 'client.deleted']);
    expect(forClient.every((e) => e.reason === 'admin' && e.actor === 'alice (ops)')).toBe(true);
    // Which settings an update changed, not their values.
    expect(forClient[1]!.method!.split(',').sort()).toEqual(['client_name', 'first_party']);
    const policyChanges = events.filter((e) => e.type === 'policy.changed').slice(0, 2).reverse();
    expect(policyChanges.map((e) => e.target)).toEqual(['lockout.threshold,codes.maxTries', 'lockout.threshold,codes.maxTries']);
    expect(policyChanges.every((e) => e.actor === 'alice (ops)')).toBe(true);

    const stored = JSON.stringify(await server.connection.db!.collection('audit_events').find({}).toArray());
    for (const secret of [created.client_secret!, rotated.client_secret!]) expect(stored).not.toContain(secret);
    // The table shows them too.
    const listed = (await admin(['audit', 'list', '--type', 'client.deleted', '--limit', '1'])).stdout;
    expect(listed).toContain(created.client_id);
    expect(listed).toContain('alice (ops)');
  });

  it('names the operating-system account and host when LATCHKEY_ADMIN is not set, for accounts too', async () => {
    await createUserWithCli('audit-lena');
    expect((await admin(['users', 'disable', 'audit-lena'], { env: { LATCHKEY_ADMIN: undefined } })).code).toBe(0);
    const [event] = await adminJson<AuditRow[]>(['audit', 'list', '--account', 'audit-lena', '--type', 'account.disabled']);
    expect(event).toMatchObject({ reason: 'admin', actor: `${userInfo().username}@${hostname()}` });
  });
});
