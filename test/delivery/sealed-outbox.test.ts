// A message's words wait in the outbox sealed with DATA_ENCRYPTION_KEY: a copy of the database taken while a provider
// is down gives away no code and no "This wasn't me" link. The sender opens them (a message an earlier release stored
// in clear too); one that no configured key opens is retried within its window (a key change under way), unsent,
// and the server says why. Admin commands
// seal the notices they leave for the servers with the servers' key, and refuse another before changing anything.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../config/index.ts';
import { createDelivery } from '../../src/delivery/index.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { createSecretBox, isSealed } from '../../src/security/encryption.ts';
import type { User } from '../../src/accounts/user-model.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createUser } from '../helpers/factories.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { captureLog } from './capture-log.ts';
import { useDatabaseAndSink } from './database-and-sink.ts';

const SERVERS_KEY = 'a7'.repeat(32);
const OTHER_KEY = 'b8'.repeat(32);

const opened = useDatabaseAndSink();

const outbox = () => opened.db.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);

function delivery({ log = captureLog().log, env = {}, clock }: { log?: ReturnType<typeof captureLog>['log']; env?: Record<string, string>; clock?: () => number } = {}) {
  const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: opened.db.uri, SMTP_URL: opened.sink.url, MAIL_FROM: 'Latchkey <no-reply@id.example.test>', DATA_ENCRYPTION_KEY: SERVERS_KEY, ...env });
  return createDelivery({ connection: opened.db.connection, config, log, ...(clock && { clock }) });
}

const mailTo = (to: string) => opened.sink.received.find((mail) => JSON.stringify(mail.to).includes(to));

describe('the outbox', () => {
  it('keeps a waiting message sealed, and sends its words in clear', async () => {
    const sending = delivery();
    const to = `sealed-${randomUUID()}@example.test`;
    const id = await sending.enqueue({ channel: 'email', to, subject: 'Your code', text: 'Your verification code is 271828.', html: '<p>Your code is <b>271828</b></p>' });
    const waiting = (await outbox().findOne({ _id: id }))!;
    for (const words of [waiting.text!, waiting.html!]) {
      expect(isSealed(words)).toBe(true);
      expect(words).not.toContain('271828');
    }
    expect(createSecretBox(Buffer.from(SERVERS_KEY, 'hex')).open(waiting.text!)).toBe('Your verification code is 271828.');

    await sending.sender.runOnce();
    const mail = mailTo(to)!;
    expect(mail.text?.trim()).toBe('Your verification code is 271828.');
    expect(mail.html).toContain('<b>271828</b>');
    expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'sent' });
  });

  it('still sends a message an earlier release stored in clear', async () => {
    const to = `clear-${randomUUID()}@example.test`;
    const now = new Date();
    await outbox().insertOne({
      _id: randomUUID(), channel: 'email', to, subject: 'Your code', text: 'Your verification code is 161803.', createdAt: now, attempts: 0,
      nextAttemptAt: now, status: 'pending', sendBefore: new Date(now.getTime() + 600_000), expiresAt: new Date(now.getTime() + 86_400_000),
    });
    await delivery().sender.runOnce();
    expect(mailTo(to)?.text?.trim()).toBe('Your verification code is 161803.');
  });

  it('retries a message no configured key opens, unsent, logs why without its words, and sends it from an instance that has the key', async () => {
    // A key change in progress: an instance with the new key sealed it; one not yet given that key meets it first.
    const to = `unreadable-${randomUUID()}@example.test`;
    const sealedElsewhere = createSecretBox(Buffer.from(OTHER_KEY, 'hex')).seal('Your verification code is 141421.');
    const now = new Date();
    const id = randomUUID();
    await outbox().insertOne({
      _id: id, channel: 'email', to, subject: 'Your code', text: sealedElsewhere, createdAt: now, attempts: 0,
      nextAttemptAt: now, status: 'pending', sendBefore: new Date(now.getTime() + 600_000), expiresAt: new Date(now.getTime() + 86_400_000),
    });
    const { log, lines } = captureLog();
    await delivery({ log }).sender.runOnce();
    expect(mailTo(to)).toBeUndefined();
    const waiting = (await outbox().findOne({ _id: id }))!;
    expect(waiting).toMatchObject({ status: 'pending', attempts: 1, lastError: { code: 'EUNREADABLE' } });
    const logged = lines.filter((line) => line.includes(id));
    expect(logged.some((line) => line.includes('"event":"secret_unreadable"'))).toBe(true);
    expect(logged.join('\n')).not.toContain('141421');

    // Its next attempt, on an instance that has the key (here among the previous ones): sent.
    const later = Date.now() + 60_000;
    await delivery({ env: { DATA_ENCRYPTION_KEY: 'c9'.repeat(32), DATA_ENCRYPTION_KEY_PREVIOUS: OTHER_KEY }, clock: () => later }).sender.runOnce();
    expect(mailTo(to)?.text?.trim()).toBe('Your verification code is 141421.');
    expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'sent' });
  });

  it('fails such a message for good once its send window has closed', async () => {
    const to = `expired-${randomUUID()}@example.test`;
    const now = new Date();
    const id = randomUUID();
    await outbox().insertOne({
      _id: id, channel: 'email', to, subject: 'Your code', text: createSecretBox(Buffer.from(OTHER_KEY, 'hex')).seal('Your code is 173205.'), createdAt: now, attempts: 0,
      nextAttemptAt: now, status: 'pending', sendBefore: new Date(now.getTime() + 1000), expiresAt: new Date(now.getTime() + 86_400_000),
    });
    await delivery({ clock: () => now.getTime() }).sender.runOnce(); // within the window, however slow the machine
    const failed = (await outbox().findOne({ _id: id }))!;
    expect(failed).toMatchObject({ status: 'failed', lastError: { code: 'EEXPIRED', message: expect.stringContaining('EUNREADABLE') } });
    expect(failed.text).toBeUndefined();
    expect(mailTo(to)).toBeUndefined();
  });
});

describe('admin commands that tell the owner', () => {
  let server: TestServer;
  let user: User;

  beforeAll(async () => {
    server = await startTestServer({ DATA_ENCRYPTION_KEY: SERVERS_KEY });
    user = await createUser(server);
  });
  afterAll(() => server.close());

  const stored = async () => (await server.connection.db!.collection<User>('users').findOne({ _id: user._id }))!;
  const waitingFor = (to: string) => server.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION).find({ to }).toArray();

  it.each([
    [['users', 'lock-down']],
    [['users', 'set-methods', '--alternate-email', 'owner@home.example']],
  ])('refuse %j in a shell with another key before changing anything', async ([area, command, ...options]) => {
    const run = await runAdmin(server.dbUri, [area!, command!, user.username, ...options], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OTHER_KEY } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('DATA_ENCRYPTION_KEY is not the one the servers use');
    const now = await stored();
    expect(now.lockedDownAt).toBeUndefined();
    expect(now.securityInfo?.alternateEmail).toBeUndefined();
    expect(await waitingFor(user.email)).toEqual([]);
  });

  it("ask for the servers' key only when a notice goes: unlocking an account with nothing to end, unlock notices off", async () => {
    await server.latchkey.policy.save({ notify: { onReset: true, onUnlock: false, onLockout: true } });
    try {
      const run = await runAdmin(server.dbUri, ['users', 'unlock', user.username], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OTHER_KEY } });
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('was not locked');
      expect(await waitingFor(user.email)).toEqual([]);
      // With a notice to send (a lockdown to end), the same shell is refused before anything changes.
      await server.latchkey.accounts.lockDown(user._id);
      const refused = await runAdmin(server.dbUri, ['users', 'unlock', user.username], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OTHER_KEY } });
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('DATA_ENCRYPTION_KEY is not the one the servers use');
      expect((await stored()).lockedDownAt).toBeInstanceOf(Date);
    } finally {
      await server.connection.db!.collection('users').updateOne({ _id: user._id } as never, { $unset: { lockedDownAt: '' } });
      await server.latchkey.policy.save({});
    }
  });

  it("seal the notice with the servers' key in a shell that has it, for the servers' sender to open", async () => {
    // The server's sender stopped (as at a shutdown), so that the notice is seen as it waits.
    await server.latchkey.beginShutdown();
    const run = await runAdmin(server.dbUri, ['users', 'lock-down', user.username], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: SERVERS_KEY } });
    expect(run.code).toBe(0);
    expect((await stored()).lockedDownAt).toBeInstanceOf(Date);
    const [notice] = await waitingFor(user.email);
    expect(notice).toMatchObject({ status: 'pending', subject: 'Your account was locked by an administrator' });
    expect(isSealed(notice!.text!)).toBe(true);
    expect(createSecretBox(Buffer.from(SERVERS_KEY, 'hex')).open(notice!.text!)).toContain(user.username);
  });
});
