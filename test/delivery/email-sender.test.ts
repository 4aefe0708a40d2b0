// The outbox and its background sender against a real SMTP server: each message sent once however many senders
// run, failures retried with backoff and then recorded, nothing sent after a message has failed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { loadConfig } from '../../config/index.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { createDelivery, type Delivery } from '../../src/delivery/index.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { OUTBOX_CLAIMS_COLLECTION } from '../../src/delivery/sender.ts';
import type { SenderOptions } from '../../src/delivery/sender.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { captureLog } from './capture-log.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let sink: SmtpSink;
const started: Delivery[] = [];
const extraConnections: Connection[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  sink = await startSmtpSink();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((delivery) => delivery.stop()));
  await db.connection.db!.collection(OUTBOX_COLLECTION).deleteMany({});
  sink.received.length = 0;
  sink.recipientsTried = 0;
  sink.refuseWith = undefined;
});
afterAll(async () => {
  await Promise.all(extraConnections.map((c) => c.close()));
  await sink.close();
  await db.drop();
});

function delivery(connection: Connection, options: { clock?: () => number; sender?: SenderOptions; log?: ReturnType<typeof captureLog>['log'] } = {}) {
  const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: db.uri, SMTP_URL: sink.url, MAIL_FROM: 'Latchkey <no-reply@id.example.test>' });
  return createDelivery({ connection, config, log: options.log ?? captureLog().log, ...options });
}

const outbox = () => db.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);
const email = (n: number) => ({ channel: 'email' as const, to: `user${n}@example.test`, subject: `Code ${n}`, text: `Your code is ${100000 + n}`, html: `<p>Your code is <b>${100000 + n}</b></p>` });

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('two senders on one database', () => {
  it('send each message exactly once when their passes race', async () => {
    // A second connection: two instances of Latchkey, as far as the database can tell.
    const other = await connectDatabase(db.uri);
    extraConnections.push(other);
    const a = delivery(db.connection);
    const b = delivery(other);
    const ids = [];
    for (let n = 0; n < 20; n += 1) ids.push(await a.enqueue(email(n)));

    // Both passes read the same 20 due messages, then race for every attempt.
    const [first, second] = await Promise.all([a.sender.runOnce(), b.sender.runOnce()]);

    expect(first.sent + second.sent).toBe(20);
    expect(first.failed + second.failed + first.retrying + second.retrying).toBe(0);
    expect(sink.received).toHaveLength(20);
    expect(new Set(sink.received.map((mail) => mail.messageId)).size).toBe(20);
    expect(sink.received.map((mail) => mail.subject).sort()).toEqual(ids.map((_, n) => `Code ${n}`).sort());
    const stored = await outbox().find({}).toArray();
    expect(stored.every((m) => m.status === 'sent' && m.attempts === 1 && m.sentAt instanceof Date)).toBe(true);
    // Sent messages no longer hold their text (it carries codes).
    expect(stored.some((m) => m.text !== undefined || m.html !== undefined)).toBe(false);
    // Another round finds nothing to do.
    const [third, fourth] = await Promise.all([a.sender.runOnce(), b.sender.runOnce()]);
    expect(third.sent + fourth.sent).toBe(0);
    expect(sink.received).toHaveLength(20);
  });

  it('send each message once while both are running on short intervals', async () => {
    const other = await connectDatabase(db.uri);
    extraConnections.push(other);
    const a = delivery(db.connection, { sender: { intervalMs: 5 } });
    const b = delivery(other, { sender: { intervalMs: 5 } });
    started.push(a, b);
    await Promise.all([a.start(), b.start()]);
    await Promise.all(Array.from({ length: 15 }, (_, n) => (n % 2 ? a : b).enqueue(email(n))));
    await waitFor(() => sink.received.length >= 15);
    await new Promise((resolve) => setTimeout(resolve, 300)); // time for a duplicate to show up, if there were one
    expect(sink.received).toHaveLength(15);
    expect(new Set(sink.received.map((mail) => mail.subject)).size).toBe(15);
  });
});

it('sends text and HTML as multipart/alternative, with the From and a Message-ID of the outbox id', async () => {
  const d = delivery(db.connection);
  const id = await d.enqueue(email(7));
  expect((await d.sender.runOnce()).sent).toBe(1);
  const [mail] = sink.received;
  expect(mail?.text?.trim()).toBe('Your code is 100007');
  expect(mail?.html).toContain('<b>100007</b>');
  expect(mail?.from?.value).toEqual([{ name: 'Latchkey', address: 'no-reply@id.example.test' }]);
  expect(mail?.messageId).toBe(`<${id}@id.example.test>`);
});

it('marks every email Auto-Submitted: auto-generated (RFC 3834), so vacation responders do not answer the no-reply sender', async () => {
  const d = delivery(db.connection);
  await d.enqueue(email(8));
  await d.enqueue({ ...email(9), html: undefined });
  expect((await d.sender.runOnce()).sent).toBe(2);
  for (const mail of sink.received) expect(mail.headerLines.filter((header) => header.key === 'auto-submitted').map((header) => header.line)).toEqual(['Auto-Submitted: auto-generated']);
});

it('sends a newly enqueued message at once when its instance is idle, not at the next poll', async () => {
  const d = delivery(db.connection, { sender: { intervalMs: 60_000 } });
  started.push(d);
  await d.start();
  await new Promise((resolve) => setTimeout(resolve, 100)); // the first pass has run; the next poll is a minute away
  const before = Date.now();
  await d.enqueue(email(1));
  await waitFor(() => sink.received.length === 1, 3000);
  expect(Date.now() - before).toBeLessThan(3000);
});

describe('a failing SMTP server', () => {
  it('is retried after 2 s, then 4 s, then the message is recorded as failed with the error, and never sent later', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    const { log, lines } = captureLog();
    const d = delivery(db.connection, { clock: () => now, log, sender: { maxAttempts: 3, backoffMs: 2000 } });
    sink.refuseWith = 451;
    const id = await d.enqueue(email(42));
    const stored = async () => (await outbox().findOne({ _id: id }))!;

    expect(await d.sender.runOnce()).toMatchObject({ retrying: 1, sent: 0 });
    expect(sink.recipientsTried).toBe(1);
    expect(await stored()).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: new Date(now + 2000), lastError: { code: 'EENVELOPE' } });

    // Not due yet: no attempt at all.
    now += 1999;
    expect(await d.sender.runOnce()).toEqual({ sent: 0, retrying: 0, failed: 0, skipped: 0 });
    expect(sink.recipientsTried).toBe(1);

    now += 1;
    expect(await d.sender.runOnce()).toMatchObject({ retrying: 1 });
    expect(sink.recipientsTried).toBe(2);
    expect(await stored()).toMatchObject({ attempts: 2, nextAttemptAt: new Date(now + 4000) });

    now += 3999;
    await d.sender.runOnce();
    expect(sink.recipientsTried).toBe(2);
    now += 1;
    expect(await d.sender.runOnce()).toMatchObject({ failed: 1 });
    expect(sink.recipientsTried).toBe(3);
    const failed = await stored();
    expect(failed).toMatchObject({ status: 'failed', attempts: 3, lastError: { code: 'EENVELOPE', message: expect.stringContaining('451') } });
    expect(failed.text).toBeUndefined();
    expect(failed.sentAt).toBeUndefined();

    // The server is healthy again, much later: a failed message stays failed.
    sink.refuseWith = undefined;
    now += 3600_000;
    expect(await d.sender.runOnce()).toEqual({ sent: 0, retrying: 0, failed: 0, skipped: 0 });
    expect(sink.recipientsTried).toBe(3);
    expect(sink.received).toHaveLength(0);

    // The operator sees why, by code; the text (and its code) is never logged.
    const logged = lines.map((line) => JSON.parse(line) as { msg: string; messageId?: string; err?: { code?: string } });
    expect(logged.filter((l) => l.msg === 'message not sent; will retry')).toHaveLength(2);
    expect(logged.find((l) => l.msg === 'message not delivered')).toMatchObject({ messageId: id, err: { code: 'EENVELOPE' } });
    expect(lines.join('\n')).not.toContain('100042');
    expect(lines.join('\n')).not.toContain('user42@example.test');
  });

  it('is not retried when it refuses the recipient for good (550)', async () => {
    const d = delivery(db.connection);
    sink.refuseWith = 550;
    const id = await d.enqueue(email(5));
    expect(await d.sender.runOnce()).toMatchObject({ failed: 1, retrying: 0 });
    expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'EENVELOPE' } });
  });

  it('is recorded as a connection error when nothing listens', async () => {
    const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: db.uri, SMTP_URL: 'smtp://127.0.0.1:9/?ignoreTLS=true' });
    const d = createDelivery({ connection: db.connection, config, log: captureLog().log });
    const id = await d.enqueue(email(9));
    expect(await d.sender.runOnce()).toMatchObject({ retrying: 1 });
    expect((await outbox().findOne({ _id: id }))?.lastError?.code).toBe('ESOCKET');
  });
});

it('leaves an attempt claimed by another sender alone, and takes over once that claim outlived the lease', async () => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const d = delivery(db.connection, { clock: () => now, sender: { leaseMs: 60_000 } });
  const id = await d.enqueue(email(3));
  const message = (await outbox().findOne({ _id: id }))!;
  // A sender that claimed attempt 1 and then died before recording anything.
  await db.connection.db!.collection(OUTBOX_CLAIMS_COLLECTION).insertOne({ _id: `${id}:1` as never, expiresAt: message.expiresAt, claimedAt: new Date(now) });

  expect(await d.sender.runOnce()).toMatchObject({ skipped: 1, sent: 0 });
  now += 59_999;
  expect(await d.sender.runOnce()).toMatchObject({ skipped: 1, sent: 0 });
  expect(sink.received).toHaveLength(0);

  now += 1;
  expect(await d.sender.runOnce()).toMatchObject({ sent: 1 });
  expect(sink.received).toHaveLength(1);
  expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'sent', attempts: 2 });
});

it('does not send a message after its send window has closed', async () => {
  let now = Date.parse('2030-01-01T00:00:00Z');
  const d = delivery(db.connection, { clock: () => now });
  const id = await d.enqueue({ ...email(4), sendBefore: new Date(now + 10 * 60_000) });
  now += 10 * 60_000;
  expect(await d.sender.runOnce()).toMatchObject({ failed: 1 });
  expect(sink.recipientsTried).toBe(0);
  expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'failed', attempts: 0, lastError: { code: 'EEXPIRED' } });
});

it('refuses a malformed message when it is enqueued, not later', async () => {
  const d = delivery(db.connection);
  await expect(d.enqueue({ channel: 'email', to: 'a@example.test', text: 'no subject' })).rejects.toThrow(TypeError);
  await expect(d.enqueue({ channel: 'fax' as never, to: '1', text: 'x' })).rejects.toThrow(TypeError);
  await expect(d.enqueue({ channel: 'sms', to: '+33612345678', subject: 'no', text: 'x' })).rejects.toThrow(TypeError);
  await expect(d.enqueue({ channel: 'sms', to: '06 12 34 56 78', text: 'not normalised' })).rejects.toThrow(TypeError);
  await expect(d.enqueue({ channel: 'email', to: 'nobody', subject: 's', text: 'x' })).rejects.toThrow(TypeError);
  expect(await outbox().countDocuments()).toBe(0);
});
