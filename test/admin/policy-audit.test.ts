// `npm run admin -- policy …` and `audit list`, run as real processes against a running server's database: a policy
// change applies to the running server without a restart; a bad one is refused and changes nothing.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createUser } from '../helpers/factories.ts';
import { registerMethods } from '../helpers/recovery.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { AUDIT_COLLECTION, createAuditLog } from '../../src/audit/audit.ts';
import { createPolicyStore } from '../../src/policy/store.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

const admin = (args: string[]) => runAdmin(server.dbUri, args);

it('sets, shows and resets policy values; the running server applies them', async () => {
  const set = await admin(['policy', 'set', 'lockout.threshold=4', 'methodsRequired=2', 'helpdesk.url=https://help.example.com', 'allowedCountryCodes=["1","33"]']);
  expect(set.code).toBe(0);
  const shown = JSON.parse((await admin(['policy', 'show', '--json'])).stdout) as { policy: { lockout: { threshold: number; initialSeconds: number }; methodsRequired: number; allowedCountryCodes: string[] } };
  expect(shown.policy).toMatchObject({ methodsRequired: 2, allowedCountryCodes: ['1', '33'], lockout: { threshold: 4, initialSeconds: 60 } });
  await new Promise((resolve) => setTimeout(resolve, 5100)); // the server's policy cache
  expect((await server.latchkey.policy.current()).lockout.threshold).toBe(4);

  expect((await admin(['policy', 'set', 'lockout.threshold=null'])).code).toBe(0);
  expect(JSON.parse((await admin(['policy', 'show', '--json'])).stdout).policy.lockout.threshold).toBe(10);
});

it('refuses an invalid value or an unknown setting and changes nothing', async () => {
  const before = (await admin(['policy', 'show', '--json'])).stdout;
  // The helpdesk link is put on every recovery page as it is: only a web address may be one.
  const links = ['helpdesk.url=javascript:alert(1)', 'helpdesk.url=data:text/html,hi', 'helpdesk.url=file:///etc/passwd'];
  for (const bad of ['methodsRequired=3', 'codes.lifetimeSeconds=3600', 'noSuchSetting=1', 'passwordMinLength=abc', ...links]) {
    const run = await admin(['policy', 'set', bad]);
    expect(run.code).toBe(1); // a refused value, not a wrong command line
    expect(run.stderr).toContain('nothing changed');
  }
  expect((await admin(['policy', 'show', '--json'])).stdout).toBe(before);
});

it('refuses an unknown setting inside a section, and keys the database would refuse, in one line', async () => {
  const before = (await admin(['policy', 'show', '--json'])).stdout;
  for (const bad of ['lockout.treshold=5', 'codes.digts=8', 'helpdesk.extra=1', 'limits.perIp=5', 'notify.onSignIn=true', 'lockout={"$x":1}', 'notify={"a.b":1}']) {
    const run = await admin(['policy', 'set', bad]);
    expect({ bad, code: run.code }).toEqual({ bad, code: 1 });
    expect(run.stderr).toMatch(/^error: policy refused, nothing changed: \w+: Unrecognized key/);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  }
  expect((await admin(['policy', 'show', '--json'])).stdout).toBe(before);
});

it('reads a stored setting the rules now refuse as its default, says so, and lets it be cleared', async () => {
  // Stored by a release that dropped unknown nested keys: the server and `policy show` keep working.
  await createPolicyStore(server.connection).save({});
  const policies = server.connection.db!.collection<{ _id: string }>('policy');
  await policies.updateOne({ _id: 'recovery' }, { $set: { version: 1000, overrides: { lockout: { treshold: 5, threshold: 4 } } } });
  expect((await createPolicyStore(server.connection).current()).lockout.threshold).toBe(4);
  const shown = await admin(['policy', 'show', '--json']);
  expect(shown.code).toBe(0);
  expect(JSON.parse(shown.stdout).policy.lockout.threshold).toBe(4);
  expect(shown.stderr).toContain('lockout.treshold');
  expect((await admin(['policy', 'set', 'lockout.threshold=6'])).stderr).toContain('lockout: Unrecognized key: "treshold"');
  expect((await admin(['policy', 'set', 'lockout.treshold=null', 'lockout.threshold=6'])).code).toBe(0);
  await createPolicyStore(server.connection).save({});
});

it('reads settings stored together before the rules on combinations as they were, never weaker', async () => {
  const policies = server.connection.db!.collection<{ _id: string }>('policy');
  const stored = {
    methodsEnabled: ['email'],
    methodsRequired: 2, // no one could recover: read as 1, it would re-open one-method recovery
    lockout: { threshold: 3, initialSeconds: 7200, maxSeconds: 2 ** 40 }, // a first lockout above its (uncapped) longest
    limits: { perDestination10Min: 6, globalPerHour: 50 }, // a 10-minute limit above its hourly one
  };
  try {
    await createPolicyStore(server.connection).save({});
    await policies.updateOne({ _id: 'recovery' }, { $set: { version: 5000, overrides: stored } });
    const read = await createPolicyStore(server.connection).current();
    expect(read).toMatchObject({ methodsEnabled: ['email'], methodsRequired: 2, lockout: { threshold: 3, initialSeconds: 7200, maxSeconds: 365 * 24 * 3600 } });
    expect(read.limits).toMatchObject({ perDestination10Min: 6, globalPerHour: 50 });
    expect((await admin(['policy', 'show'])).stderr).toContain('lockout.maxSeconds (held at a year)');
  } finally {
    await createPolicyStore(server.connection).save({});
  }
});

it('lists audit events newest first, by account and by support code', async () => {
  const user = await createUser(server);
  const audit = createAuditLog(server.connection);
  await audit.record({ type: 'recovery.started', accountId: user._id, supportCode: 'ABCDEF12', reason: 'account' });
  await audit.record({ type: 'password.reset', accountId: user._id, supportCode: 'ZZZZZZ99' });
  const byAccount = JSON.parse((await admin(['audit', 'list', '--account', user.username, '--json'])).stdout) as Array<{ type: string }>;
  expect(byAccount.map((e) => e.type)).toEqual(['password.reset', 'recovery.started']);
  const byCode = JSON.parse((await admin(['audit', 'list', '--support-code', 'abcdef12', '--json'])).stdout) as Array<{ type: string }>;
  expect(byCode.map((e) => e.type)).toEqual(['recovery.started']);
});

it('lists the events one process records in the same millisecond in the order they were recorded', async () => {
  const user = await createUser(server);
  const sameMillisecond = createAuditLog(server.connection, () => Date.UTC(2026, 11, 7, 12, 0, 0, 123));
  const reasons = Array.from({ length: 12 }, (_, i) => `step-${i}`);
  for (const reason of reasons) await sameMillisecond.record({ type: 'recovery.failed', accountId: user._id, reason });
  const listed = await sameMillisecond.list({ accountId: user._id });
  expect(listed.map((event) => event.reason)).toEqual([...reasons].reverse());
});

it('lists the events of one client address within a time range, says how to read on from a full page, and refuses a time it cannot read', async () => {
  const now = Date.now();
  const at = (hoursAgo: number) => createAuditLog(server.connection, () => now - hoursAgo * 3_600_000);
  // The oldest as a dual-stack listener reports an IPv4 client: the same address.
  for (const hoursAgo of [3, 2, 1]) await at(hoursAgo).record({ type: 'signin.failed', ip: hoursAgo === 3 ? '::ffff:203.0.113.77' : '203.0.113.77', reason: `${hoursAgo}h` });
  await at(2).record({ type: 'signin.failed', ip: '198.51.100.4', reason: 'other address' });
  const reasons = async (args: string[]) => {
    const run = await admin(['audit', 'list', '--ip', '203.0.113.77', ...args, '--json']);
    expect(run.code).toBe(0);
    return { reasons: (JSON.parse(run.stdout) as Array<{ reason: string }>).map((e) => e.reason), note: run.stderr };
  };
  expect((await reasons([])).reasons).toEqual(['1h', '2h', '3h']);
  const since = new Date(now - 150 * 60_000).toISOString();
  expect((await reasons(['--since', since])).reasons).toEqual(['1h', '2h']);
  expect((await reasons(['--until', new Date(now - 90 * 60_000).toISOString()])).reasons).toEqual(['2h', '3h']);

  const page = await reasons(['--limit', '2']);
  expect(page.reasons).toEqual(['1h', '2h']);
  const readOn = /--until (\S+)/.exec(page.note)?.[1];
  expect(readOn).toBeDefined();
  expect((await reasons(['--until', readOn!])).reasons).toEqual(['2h', '3h']); // nothing skipped; the oldest shown again

  // Found by either form of an IPv4 address, including an event an earlier release recorded in the mapped form.
  await at(0.5).record({ type: 'signin.failed', ip: '192.0.2.1', reason: 'earlier release' });
  await server.connection.db!.collection(AUDIT_COLLECTION).updateOne({ reason: 'earlier release' }, { $set: { ip: '::ffff:203.0.113.77' } });
  expect((await reasons([])).reasons).toEqual(['earlier release', '1h', '2h', '3h']);
  const mapped = await admin(['audit', 'list', '--ip', '::ffff:203.0.113.77', '--json']);
  expect((JSON.parse(mapped.stdout) as Array<{ reason: string }>).map((e) => e.reason)).toEqual(['earlier release', '1h', '2h', '3h']);

  for (const [flag, value] of [['--since', 'yesterday'], ['--until', '2026-13-45'], ['--since', '2026-02-30'], ['--since', '2026-12-01T09:30']] as const) {
    const refused = await admin(['audit', 'list', flag, value]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${flag} must be a date or a time with its zone`);
  }
  const backwards = await admin(['audit', 'list', '--since', '2026-12-02', '--until', '2026-12-01']);
  expect(backwards.code).toBe(2);
  expect(backwards.stderr).toContain('--since must be earlier than --until');
});

it('deletes the events older than AUDIT_RETENTION_DAYS (a year by default) and keeps the rest', async () => {
  const now = Date.now();
  const daysAgo = (days: number) => createAuditLog(server.connection, () => now - days * 86_400_000);
  await daysAgo(400).record({ type: 'signin.failed', ip: '192.0.2.200', reason: '400 days' });
  await daysAgo(366).record({ type: 'signin.failed', ip: '192.0.2.200', reason: '366 days' });
  await daysAgo(300).record({ type: 'signin.failed', ip: '192.0.2.200', reason: '300 days' });
  expect(await server.latchkey.auditRetention.prune()).toBe(2);
  const kept = JSON.parse((await admin(['audit', 'list', '--ip', '192.0.2.200', '--json'])).stdout) as Array<{ reason: string }>;
  expect(kept.map((e) => e.reason)).toEqual(['300 days']);
});

it('keeps every change when admins save at the same moment: none undoes another', async () => {
  // Five instances' stores, each reading the same policy and saving its own change on top of it. With one document
  // replaced, the last save would win and four changes would be lost without a word.
  const changes: Array<(overrides: Record<string, unknown>) => void> = [
    (o) => (o.passwordMinLength = 17),
    (o) => (o.methodsRequired = 2),
    (o) => (o.lockout = { ...(o.lockout as object), threshold: 7 }),
    (o) => (o.lockout = { ...(o.lockout as object), initialSeconds: 120 }),
    (o) => (o.allowedCountryCodes = ['44']),
  ];
  await server.connection.db!.collection('policy').deleteMany({});
  await Promise.all(
    changes.map((change) =>
      createPolicyStore(server.connection).update((overrides) => {
        change(overrides);
        return overrides;
      }),
    ),
  );
  const shown = JSON.parse((await admin(['policy', 'show', '--json'])).stdout) as { overrides: unknown };
  expect(shown.overrides).toEqual({ passwordMinLength: 17, methodsRequired: 2, lockout: { threshold: 7, initialSeconds: 120 }, allowedCountryCodes: ['44'] });
  await createPolicyStore(server.connection).save({});
});

it('reads a policy stored before versions, and a change keeps what it held', async () => {
  const policies = server.connection.db!.collection<{ _id: string }>('policy');
  await policies.deleteMany({});
  await policies.insertOne({ _id: 'recovery', overrides: { passwordMinLength: 20 }, updatedAt: new Date() } as never);
  expect(JSON.parse((await admin(['policy', 'show', '--json'])).stdout).policy.passwordMinLength).toBe(20);

  expect((await admin(['policy', 'set', 'methodsRequired=2'])).code).toBe(0);
  const shown = JSON.parse((await admin(['policy', 'show', '--json'])).stdout) as { overrides: unknown };
  expect(shown.overrides).toEqual({ passwordMinLength: 20, methodsRequired: 2 });
  await createPolicyStore(server.connection).save({});
});

it('caps a lockout at a year: a longer one is refused, and a year-long one locks the account', async () => {
  // 2^53 seconds made the end of the lockout an invalid date, which read as no lockout at all.
  const huge = await admin(['policy', 'set', 'lockout.initialSeconds=9007199254740991', 'lockout.maxSeconds=9007199254740991']);
  expect(huge.code).toBe(1);
  expect(huge.stderr).toContain('lockout.initialSeconds: at most 31536000 (a year)');
  const year = await admin(['policy', 'set', 'lockout.threshold=2', 'lockout.initialSeconds=31536000', 'lockout.maxSeconds=31536000']);
  expect(year.code).toBe(0);
  await new Promise((resolve) => setTimeout(resolve, 5100)); // the server's policy cache
  const user = await createUser(server);
  for (const attempt of [1, 2]) await server.latchkey.accounts.signIn(user.username, `not the password ${attempt}`);
  expect(await server.latchkey.accounts.isLocked(user._id)).toBe(true);
  await createPolicyStore(server.connection).save({});
});

it('refuses settings that are each valid but together are not, naming them, and stores nothing', async () => {
  const before = (await admin(['policy', 'show', '--json'])).stdout;
  for (const [settings, says] of [
    [['methodsEnabled=["email"]', 'methodsRequired=2'], 'methodsRequired: 2 is more than the 1 different method(s) of methodsEnabled (email; a text and a call to one phone are one): no one could recover'],
    [['lockout.initialSeconds=7200', 'lockout.maxSeconds=60'], 'lockout: initialSeconds (7200) is more than maxSeconds (60)'],
    [['limits.perDestination10Min=50'], 'limits: perDestination10Min (50) is more than perDestinationHour (5)'],
  ] as const) {
    const run = await admin(['policy', 'set', ...settings]);
    expect({ settings, code: run.code }).toEqual({ settings, code: 1 });
    expect(run.stderr).toContain(says);
  }
  expect((await admin(['policy', 'show', '--json'])).stdout).toBe(before);
});

it('warns, naming them, of the active accounts a stricter policy leaves unable to recover by themselves', async () => {
  const oneMethod = await createUser(server);
  await registerMethods(server, oneMethod, { alternateEmail: `alt-${oneMethod.username}@example.net` });
  const twoMethods = await createUser(server);
  await registerMethods(server, twoMethods, { alternateEmail: `alt-${twoMethods.username}@example.net`, authenticator: true });
  // An enrolled app's notifications are a method too.
  const withDevice = await createUser(server);
  await registerMethods(server, withDevice, { alternateEmail: `alt-${withDevice.username}@example.net` });
  await server.latchkey.accounts.setSecurityInfo(withDevice._id, { appDevice: { id: `device-of-${withDevice.username}`, name: 'Phone' } });
  try {
    const loose = await admin(['policy', 'set', 'methodsRequired=1', 'methodsEnabled=["email","sms","totp","app_notification"]']);
    expect(loose.stderr).not.toContain(oneMethod.username);
    const strict = await admin(['policy', 'set', 'methodsRequired=2']);
    expect(strict.code).toBe(0); // a warning, not a refusal: the admin may be about to add the methods
    expect(strict.stderr).toMatch(/warning: \d+ active account\(s\) cannot recover by themselves/);
    expect(strict.stderr).toContain(oneMethod.username);
    expect(strict.stderr).not.toContain(twoMethods.username);
    expect(strict.stderr).not.toContain(withDevice.username);
  } finally {
    expect((await admin(['policy', 'set', 'methodsRequired=null', 'methodsEnabled=null'])).code).toBe(0);
  }
});

it('warns of accounts whose phone is in a country the policy stops texting, when they have no authenticator', async () => {
  const phoneOnly = await createUser(server);
  await registerMethods(server, phoneOnly, { alternateEmail: `alt-${phoneOnly.username}@example.net`, mobilePhone: '+447400123450' });
  const withApp = await createUser(server);
  await registerMethods(server, withApp, { alternateEmail: `alt-${withApp.username}@example.net`, mobilePhone: '+447400123451', authenticator: true });
  try {
    const narrowed = await admin(['policy', 'set', 'allowedCountryCodes=["1"]']);
    expect(narrowed.code).toBe(0);
    // Its mailbox alone is not enough for an account with a phone, and the phone can no longer be texted.
    expect(narrowed.stderr).toContain(phoneOnly.username);
    expect(narrowed.stderr).not.toContain(withApp.username);
  } finally {
    expect((await admin(['policy', 'set', 'allowedCountryCodes=null'])).code).toBe(0);
  }
});

it('audit list says where to look when a support code names no event (a single request, such as the first recovery page)', async () => {
  const run = await admin(['audit', 'list', '--support-code', 'ZZZZ2222']);
  expect(run.code).toBe(0);
  expect(run.stdout).toContain('find it in the server log, as supportCode');
  expect((await admin(['audit', 'list', '--type', 'password.reset', '--since', '2000-01-01', '--until', '2000-01-02'])).stdout.trim()).toBe('(no events)');
  // A type no event has is a mistake to say, not a quiet log.
  expect((await admin(['audit', 'list', '--type', 'no.such.type'])).code).toBe(2);
});
