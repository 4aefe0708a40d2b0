// What the admin CLI refuses or records of what an operator types: each refusal is one message with exit code 1 and
// stores nothing; the audit log records what changed, and prints nothing that could pass for another row.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { PASSWORD } from '../helpers/factories.ts';
import { runAdmin, type AdminRunOptions } from '../helpers/admin-cli.ts';
import { createAuditLog } from '../../src/audit/audit.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
  const created = await admin(['users', 'create', '--username', 'ada', '--email', 'ada@example.test', '--password-stdin'], { input: PASSWORD });
  if (created.code !== 0) throw new Error(created.stderr);
});
afterAll(() => server.close());

const admin = (args: string[], options?: AdminRunOptions) => runAdmin(server.dbUri, args, options);

it('an actor from LATCHKEY_ADMIN with a newline is stored and printed on one line, and so is any stored cell', async () => {
  const forged = 'mallory\n2026-01-01T00:00:00.000Z  account.deleted  uFAKE';
  expect((await admin(['users', 'set-role', 'ada', '--role', 'admin'], { env: { LATCHKEY_ADMIN: forged } })).code).toBe(0);
  // A row stored before actors were escaped (or written by anything else) is escaped when printed.
  await createAuditLog(server.connection).record({ type: 'account.unlocked', reason: 'admin', actor: 'eve\r\n1999-01-01T00:00:00.000Z  x\u202E' });
  const listed = await admin(['audit', 'list', '--limit', '2']);
  expect(listed.code).toBe(0);
  const lines = listed.stdout.trimEnd().split('\n');
  expect(lines).toHaveLength(3); // the header and two rows
  expect(lines.filter((line) => /^\d{4}-/.test(line))).toHaveLength(2);
  expect(listed.stdout).toContain('mallory\\u000a2026-01-01T00:00:00.000Z');
  expect(listed.stdout).toContain('eve\\u000d\\u000a1999-01-01T00:00:00.000Z  x\\u202e');
  const stored = await createAuditLog(server.connection).list({ type: 'account.roles_changed', limit: 1 });
  expect(stored[0]!.actor).not.toMatch(/\n/);
});

it.each(['https://*.example.com/cb', 'https://example.com/*'])('refuses the wildcard redirect URI %s: it would match only itself', async (uri) => {
  const run = await admin(['clients', 'create', '--name', 'Wild', '--client-id', 'wild', '--redirect-uri', uri]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(`${uri} must not contain a wildcard (*)`);
  expect((await admin(['clients', 'show', 'wild'])).code).toBe(1);
});

it.each([' https://app.example/cb', 'https://app.example/cb\n', 'https://app.example/c b', 'https://app.example/cb\u0007'])(
  'refuses the redirect URI %j: the provider would compare it exactly, space or control character included',
  async (uri) => {
    const run = await admin(['clients', 'create', '--name', 'Spaced', '--client-id', 'spaced', '--redirect-uri', 'https://app.example/ok', '--redirect-uri', uri]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`${JSON.stringify(uri)} must not contain spaces or control characters`);
    expect((await admin(['clients', 'show', 'spaced'])).code).toBe(1);
  },
);

it('refuses an email address, a display name or a redirect URI too long to be used, and stores nothing', async () => {
  // A 330-character email could be stored but never found: lookups refuse logins over 320 characters.
  const email = `${'a'.repeat(330)}@example.test`;
  const longEmail = await admin(['users', 'create', '--username', 'eve', '--email', email, '--password-stdin'], { input: PASSWORD });
  expect(longEmail.code).toBe(1);
  expect(longEmail.stderr).toContain('invalid email address: --email has 343 characters; at most 254');
  const longName = await admin(['users', 'create', '--username', 'eve', '--email', 'eve@example.test', '--name', 'n'.repeat(201), '--password-stdin'], { input: PASSWORD });
  expect(longName.code).toBe(1);
  expect(longName.stderr).toContain('invalid name: --name has 201 characters; at most 200');
  expect((await admin(['users', 'show', 'eve'])).code).toBe(1);
  const alternate = await admin(['users', 'set-methods', 'ada', '--alternate-email', `${'b'.repeat(250)}@example.test`]);
  expect(alternate.code).toBe(1);
  expect(alternate.stderr).toContain('--alternate-email has 263 characters; at most 254');

  const longUri = `https://example.com/${'a'.repeat(2000)}`;
  const run = await admin(['clients', 'create', '--name', 'Long', '--client-id', 'long', '--redirect-uri', longUri]);
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('is longer than 2000 characters');
  expect(run.stderr.length).toBeLessThan(300);
  expect((await admin(['clients', 'show', 'long'])).code).toBe(1);
});

it.each([
  [['users', 'set-methods', 'ada', '--alternate-email', 'not-an-address'], "invalid email address: --alternate-email 'not-an-address'"],
  [['users', 'set-methods', 'ada', '--mobile-phone', '+1 555'], "invalid phone number: --mobile-phone '+1 555'"],
  [['policy', 'set', 'notify.onReset=nope'], 'policy refused, nothing changed: notify.onReset'],
  [['policy', 'set', 'helpdesk.url=javascript:alert(1)'], 'policy refused, nothing changed: helpdesk.url'],
])('a refused value is exit code 1 without a pointer to --help: %j', async (args, says) => {
  const run = await admin(args);
  expect(run.code).toBe(1);
  expect(run.stderr).toBe(`error: ${says}${run.stderr.slice(`error: ${says}`.length)}`);
  expect(run.stderr).not.toContain('--help');
});

it("refuses a mobile number in a country the policy never texts, naming the allowed codes", async () => {
  expect((await admin(['policy', 'set', 'allowedCountryCodes=["44","33"]'])).code).toBe(0);
  const us = await admin(['users', 'set-methods', 'ada', '--mobile-phone', '+14155550123']);
  expect(us.code).toBe(1);
  expect(us.stderr).toContain('country not allowed: --mobile-phone +14155550123: text messages go only to +44, +33 (policy allowedCountryCodes)');
  expect(JSON.parse((await admin(['users', 'show', 'ada', '--json'])).stdout).methods.mobilePhone).toBeNull();
  expect((await admin(['users', 'set-methods', 'ada', '--mobile-phone', '+447911123456'])).code).toBe(0);
  expect((await admin(['users', 'set-methods', 'ada', '--mobile-phone', 'none'])).code).toBe(0);
  expect((await admin(['policy', 'set', 'allowedCountryCodes=null'])).code).toBe(0);
});

it("refuses what the owner's own page refuses: the sign-in address as the alternate email, a service number as the mobile, an office phone in a country never called", async () => {
  const methods = async () => JSON.parse((await admin(['users', 'show', 'ada', '--json'])).stdout).methods as Record<string, unknown>;
  const sameMailbox = await admin(['users', 'set-methods', 'ada', '--alternate-email', 'ADA@example.test']);
  expect(sameMailbox.code).toBe(1);
  expect(sameMailbox.stderr).toContain('--alternate-email ada@example.test is the address ada signs in with');
  const premium = await admin(['users', 'set-methods', 'ada', '--mobile-phone', '+19005550123']);
  expect(premium.code).toBe(1);
  expect(premium.stderr).toContain('--mobile-phone +19005550123: a premium-rate, toll-free or other service number cannot receive text messages');
  expect((await admin(['policy', 'set', 'allowedCountryCodes=["44"]'])).code).toBe(0);
  try {
    const office = await admin(['users', 'set-methods', 'ada', '--office-phone', '+14155550188']);
    expect(office.code).toBe(1);
    expect(office.stderr).toContain('--office-phone +14155550188: calls go only to +44 (policy allowedCountryCodes)');
  } finally {
    expect((await admin(['policy', 'set', 'allowedCountryCodes=null'])).code).toBe(0);
  }
  expect(await methods()).toMatchObject({ alternateEmail: null, mobilePhone: null, officePhone: null });
});

it.each([
  [['users', 'list', '--skip', '100000000000000000000'], '--skip must be a whole number of at least 0'],
  // A page larger than one list returns is refused rather than quietly cut to it.
  [['users', 'list', '--limit', '100000'], '--limit must be a whole number from 1 to 500'],
  [['audit', 'list', '--limit', '1001'], '--limit must be a whole number from 1 to 1000'],
  [['audit', 'list', '--limit', '9007199254740993'], '--limit must be a whole number from 1 to 1000'],
  // A range would list nothing, and look like a quiet log.
  [['audit', 'list', '--ip', '203.0.113.0/24'], "--ip takes one IPv4 or IPv6 address, as the server saw it (no range, no host name; got '203.0.113.0/24')"],
])('refuses a --skip or --limit out of range, or an --ip that is no address, as a wrong command line: %j', async (args, says) => {
  const run = await admin(args);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(says);
  expect(run.stdout).toBe('');
});

it.each([
  // The last would win: the role the first one names removed.
  [['users', 'set-role', 'ada', '--role', 'admin', '--role', 'none'], "--role was given twice ('admin', then 'none'): give it once"],
  [['users', 'create', '--username', 'twice', '--email', 'a@example.test', '--email', 'b@example.test', '--password-stdin'], "--email was given twice ('a@example.test', then 'b@example.test')"],
  // An unset shell variable: all events, not none; a random client id, not the one meant.
  [['audit', 'list', '--account', ''], '--account must not be empty'],
  [['audit', 'list', '--ip='], '--ip must not be empty'],
  [['clients', 'create', '--name', 'Empty', '--client-id', ' ', '--redirect-uri', 'https://a.example/cb'], '--client-id must not be empty'],
])('refuses an option given twice or empty, and changes nothing: %j', async (args, says) => {
  const before = (await admin(['audit', 'list', '--json', '--limit', '1000'])).stdout;
  const run = await admin(args, { input: PASSWORD });
  expect(run.code).toBe(2);
  expect(run.stderr).toContain(says);
  expect(run.stdout).toBe('');
  expect((await admin(['audit', 'list', '--json', '--limit', '1000'])).stdout).toBe(before);
});

it('asks for no password before it has checked the username and email address of a new account', async () => {
  // No standard input at all: a command that read it first would fail on the missing password instead.
  const run = await admin(['users', 'create', '--username', 'bad name!', '--email', 'bad@example.test', '--password-stdin'], { input: '' });
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('2 to 63 characters');
  expect(run.stderr).not.toContain('password');
  const email = await admin(['users', 'create', '--username', 'fine', '--email', 'not an address', '--password-stdin'], { input: '' });
  expect(email.code).toBe(1);
  expect(email.stderr).toContain('email address is not valid');
});

it('refuses a display name or client name with a control character (or a blank one), and prints one stored before on its own line', async () => {
  const name = await admin(['users', 'create', '--username', 'eve', '--email', 'eve@example.test', '--name', 'Eve\nstatus    disabled', '--password-stdin'], { input: PASSWORD });
  expect(name.code).toBe(1);
  expect(name.stderr).toContain('--name must not contain control characters');
  const client = await admin(['clients', 'create', '--name', 'Wiki\tEdit', '--client-id', 'tabbed', '--redirect-uri', 'https://a.example/cb']);
  expect(client.code).toBe(1);
  expect(client.stderr).toContain('client_name: must not contain control characters');
  const blank = await admin(['clients', 'create', '--name', '   ', '--client-id', 'blank', '--redirect-uri', 'https://a.example/cb']);
  expect(blank.code).toBe(2);
  expect(blank.stderr).toContain('--name must not be empty');
  expect((await admin(['users', 'show', 'eve'])).code).toBe(1);

  // A name stored by anything else is printed with its control characters escaped.
  await server.connection.db!.collection('users').updateOne({ username: 'ada' }, { $set: { name: 'Ada\nstatus    disabled' } });
  try {
    const shown = await admin(['users', 'show', 'ada']);
    expect(shown.stdout).toContain('Ada\\u000astatus    disabled');
    expect(shown.stdout.split('\n').filter((line) => line.startsWith('status'))).toEqual([expect.stringMatching(/^status +active$/)]);
  } finally {
    await server.connection.db!.collection('users').updateOne({ username: 'ada' }, { $unset: { name: '' } });
  }
});

it('refuses an office phone that is the mobile phone: one phone cannot count as two ways to verify', async () => {
  expect((await admin(['users', 'set-methods', 'ada', '--mobile-phone', '+14155550177'])).code).toBe(0);
  const same = await admin(['users', 'set-methods', 'ada', '--office-phone', '+1 415 555 0177']);
  expect(same.code).toBe(1);
  expect(same.stderr).toContain('one phone, two methods: +14155550177 is both the mobile and the office phone');
  expect(JSON.parse((await admin(['users', 'show', 'ada', '--json'])).stdout).methods.officePhone).toBeNull();
  expect((await admin(['users', 'set-methods', 'ada', '--mobile-phone', 'none'])).code).toBe(0);
});

it('records a change only when something changed', async () => {
  const audit = createAuditLog(server.connection);
  const count = async (type: string) => (await audit.list({ type, limit: 1000 })).length;
  expect((await admin(['clients', 'create', '--name', 'Same', '--client-id', 'same', '--redirect-uri', 'https://a.example/cb'])).code).toBe(0);
  expect((await admin(['users', 'set-methods', 'ada', '--alternate-email', 'ada@home.example'])).code).toBe(0);
  expect((await admin(['users', 'set-role', 'ada', '--role', 'admin'])).code).toBe(0);
  const before = { client: await count('client.updated'), methods: await count('security_info.changed'), roles: await count('account.roles_changed') };

  const client = await admin(['clients', 'update', 'same', '--name', 'Same']);
  expect(client.code).toBe(0);
  expect(client.stdout).toContain('Nothing changed');
  const methods = await admin(['users', 'set-methods', 'ada', '--alternate-email', 'ada@home.example']);
  expect(methods.stdout).toContain('Nothing changed');
  const role = await admin(['users', 'set-role', 'ada', '--role', 'admin']);
  expect(role.code).toBe(0);
  expect(role.stdout).toContain('nothing changed');
  expect({ client: await count('client.updated'), methods: await count('security_info.changed'), roles: await count('account.roles_changed') }).toEqual(before);

  // A real change still is recorded, naming only the settings that changed.
  expect((await admin(['clients', 'update', 'same', '--name', 'Same', '--first-party'])).code).toBe(0);
  expect((await audit.list({ type: 'client.updated', limit: 1 }))[0]!.method).toBe('first_party');
});

it('warns while texts and calls may go to every country, and not once the countries are listed or no phone method is on', async () => {
  const everywhere = await admin(['policy', 'show']);
  expect(everywhere.code).toBe(0);
  expect(everywhere.stderr).toContain('warning: sms may text or call every country (allowedCountryCodes is empty)');
  const listed = await admin(['policy', 'set', 'allowedCountryCodes=["1","44"]']);
  expect(listed.code).toBe(0);
  expect(listed.stderr).not.toContain('every country');
  const emailOnly = await admin(['policy', 'set', 'allowedCountryCodes=null', 'methodsEnabled=["email","totp"]']);
  expect(emailOnly.stderr).not.toContain('every country');
  const back = await admin(['policy', 'set', 'methodsEnabled=null']);
  expect(back.stderr).toContain('warning: sms may text or call every country');
});

it('warns when passwordMinLength goes below the 15 NIST SP 800-63B-4 asks of a password used alone, and not at 15', async () => {
  const lowered = await admin(['policy', 'set', 'passwordMinLength=12']);
  expect(lowered.code).toBe(0);
  expect(lowered.stderr).toContain('warning: passwordMinLength 12 is below 15');
  const restored = await admin(['policy', 'set', 'passwordMinLength=null']);
  expect(restored.code).toBe(0);
  expect(restored.stderr).not.toContain('passwordMinLength');
});

it('refuses what it cannot use and says what it takes: an event type no event has, a methodsRequired other than 1 or 2, a calling code no country has, a username', async () => {
  const typo = await admin(['audit', 'list', '--type', 'password.rest']);
  expect(typo.code).toBe(2);
  expect(typo.stderr).toContain('no event has the type password.rest; the types are recovery.started,');
  expect(typo.stderr).toContain('password.reset');
  const required = await admin(['policy', 'set', 'methodsRequired=3']);
  expect(required.code).toBe(1);
  expect(required.stderr).toContain('methodsRequired: must be 1 or 2');
  const country = await admin(['policy', 'set', 'allowedCountryCodes=["44","999"]']);
  expect(country.code).toBe(1);
  expect(country.stderr).toContain('allowedCountryCodes: 999: no country has this calling code');
  expect(JSON.parse((await admin(['policy', 'show', '--json'])).stdout).policy.allowedCountryCodes).toEqual([]);
  // A non-geographic code (satellite phones, +881) is a calling code all the same.
  expect((await admin(['policy', 'set', 'allowedCountryCodes=["44","881"]'])).code).toBe(0);
  expect((await admin(['policy', 'set', 'allowedCountryCodes=null'])).code).toBe(0);
  const username = await admin(['users', 'create', '--username', '_ada', '--email', 'dash@example.test', '--password-stdin'], { input: PASSWORD });
  expect(username.code).toBe(1);
  expect(username.stderr).toContain('invalid username: 2 to 63 characters, each a-z, 0-9, dot, underscore or hyphen, starting with a letter or a digit');
});

it('says that --password-stdin read nothing, or far more than a password, rather than that the password is short or long, and changes nothing', async () => {
  const storedHash = async () => (await server.connection.db!.collection('users').findOne({ username: 'ada' }))!.passwordHash as string;
  const hashBefore = await storedHash();
  const empty = await admin(['users', 'set-password', 'ada', '--password-stdin'], { input: '' });
  expect(empty.code).toBe(2);
  expect(empty.stderr).toContain('--password-stdin read no password from standard input; nothing was changed');
  // A file piped in by mistake is not read whole.
  const file = await admin(['users', 'set-password', 'ada', '--password-stdin'], { input: 'x'.repeat(200_000) });
  expect(file.code).toBe(2);
  expect(file.stderr).toContain('--password-stdin read more than 64 KiB, more than any password (a file piped in by mistake?); nothing was changed');
  expect(await storedHash()).toBe(hashBefore);
});

it('warns when a change of methods or of role leaves an account that could recover by itself unable to', async () => {
  expect((await admin(['users', 'create', '--username', 'bo', '--email', 'bo@example.test', '--password-stdin'], { input: PASSWORD })).code).toBe(0);
  const stranded = 'bo can no longer get back in by themselves';
  const methods = await admin(['users', 'set-methods', 'bo', '--alternate-email', 'bo.home@example.net', '--mobile-phone', '+14155550177']);
  expect(methods.code).toBe(0);
  expect(methods.stderr).not.toContain(stranded); // it could not before either
  const promoted = await admin(['users', 'set-role', 'bo', '--role', 'admin']);
  expect(promoted.code).toBe(0);
  expect(promoted.stderr).not.toContain(stranded); // two methods: enough for an administrator
  const fewer = await admin(['users', 'set-methods', 'bo', '--mobile-phone', 'none']);
  expect(fewer.code).toBe(0);
  expect(fewer.stderr).toContain(stranded);
});
