// Text-message providers against a real local HTTP endpoint: the signed webhook (and how a gateway verifies it)
// and the Twilio-compatible API; and how the sender treats texts: retried for as long as their window lasts, and
// never held up by a hung mail server.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { loadConfig } from '../../config/index.ts';
import { createDelivery, type Delivery, type DeliveryDeps } from '../../src/delivery/index.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { DeliveryError } from '../../src/delivery/channel.ts';
import { signWebhook, twilioSmsProvider, verifyWebhookSignature, webhookSmsProvider } from '../../src/delivery/sms.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { captureLog } from './capture-log.ts';

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Exactly the bytes that arrived. */
  body: Buffer;
}

let db: Awaited<ReturnType<typeof openTestDatabase>>;
let endpoint: Server;
let origin: string;
const received: Received[] = [];
let answerStatus = 200;
const started: Delivery[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  endpoint = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(answerStatus, { 'content-type': 'application/json' });
      res.end('{"echo":"providers echo the request in errors"}');
    });
  });
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((delivery) => delivery.stop()));
  await outbox().deleteMany({});
  received.length = 0;
  answerStatus = 200;
});
afterAll(async () => {
  endpoint.closeAllConnections();
  await new Promise<void>((resolve) => endpoint.close(() => resolve()));
  await db.drop();
});

const SECRET = 'webhook-secret-for-tests-only-0123456789';
const outbox = () => db.connection.db!.collection<OutboxMessage>(OUTBOX_COLLECTION);

function smsDelivery(env: Record<string, string>, options: Pick<DeliveryDeps, 'clock' | 'sender'> = {}) {
  const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: db.uri, ...env });
  return createDelivery({ connection: db.connection, config, log: captureLog().log, ...options });
}
const webhookEnv = () => ({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${origin}/sms`, SMS_WEBHOOK_SECRET: SECRET });
const webhookDelivery = (options: Parameters<typeof smsDelivery>[1] = {}) => smsDelivery(webhookEnv(), options);

describe('the signed webhook', () => {
  it('posts {to, text, id} as JSON with a signature the gateway can verify over the exact body it received', async () => {
    const delivery = webhookDelivery();
    const text = 'Your Latchkey code is 123456\n\n@id.example.test #123456';
    const id = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text });
    expect(await delivery.sender.runOnce()).toMatchObject({ sent: 1 });

    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/sms');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body.toString())).toEqual({ to: '+33612345678', text, id });

    const timestamp = request.headers['x-latchkey-timestamp'] as string;
    const signature = request.headers['x-latchkey-signature'] as string;
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    expect(signature).toMatch(/^v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(SECRET, timestamp, request.body, signature, Date.now())).toBe(true);

    // Whatever was changed, verification fails: the body (even one digit), the timestamp, the secret.
    const tampered = Buffer.from(request.body.toString().replace('123456', '123457'));
    expect(verifyWebhookSignature(SECRET, timestamp, tampered, signature, Date.now())).toBe(false);
    expect(verifyWebhookSignature(SECRET, String(Number(timestamp) + 1), request.body, signature, Date.now())).toBe(false);
    expect(verifyWebhookSignature(`${SECRET}x`, timestamp, request.body, signature, Date.now())).toBe(false);
    // A re-serialised body is not the body that was signed.
    expect(verifyWebhookSignature(SECRET, timestamp, JSON.stringify(JSON.parse(request.body.toString()), null, 1), signature, Date.now())).toBe(false);
  });

  it('refuses a correctly signed request whose timestamp is more than 5 minutes away', () => {
    const body = JSON.stringify({ to: '+33612345678', text: 'x', id: 'm1' });
    const now = Date.parse('2030-01-01T12:00:00Z');
    const signedAt = (offsetSeconds: number) => String(now / 1000 + offsetSeconds);
    const check = (offsetSeconds: number) => {
      const timestamp = signedAt(offsetSeconds);
      return verifyWebhookSignature(SECRET, timestamp, body, signWebhook(SECRET, timestamp, body), now);
    };
    expect(check(-300)).toBe(true);
    expect(check(300)).toBe(true);
    expect(check(-301)).toBe(false); // a replay of an old request
    expect(check(301)).toBe(false);
    expect(verifyWebhookSignature(SECRET, undefined, body, signWebhook(SECRET, signedAt(0), body), now)).toBe(false);
    expect(verifyWebhookSignature(SECRET, '1e9', body, signWebhook(SECRET, '1e9', body), 1e12)).toBe(false);
  });

  it('retries when the gateway answers 503, and records a 400 as a failure without retrying', async () => {
    const delivery = webhookDelivery();
    answerStatus = 503;
    const retried = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'code 1' });
    expect(await delivery.sender.runOnce()).toMatchObject({ retrying: 1 });
    expect(await outbox().findOne({ _id: retried })).toMatchObject({ status: 'pending', attempts: 1, lastError: { code: 'HTTP_503' } });

    answerStatus = 400;
    await outbox().deleteMany({});
    const refused = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'code 2' });
    expect(await delivery.sender.runOnce()).toMatchObject({ failed: 1 });
    const failed = await outbox().findOne({ _id: refused });
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'HTTP_400', message: 'SMS webhook answered 400' } });
  });
});

describe('the Twilio-compatible provider', () => {
  it('posts To, From and Body as a form to the account’s Messages resource with HTTP Basic auth', async () => {
    const delivery = smsDelivery({
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: 'AC0123456789abcdef',
      TWILIO_AUTH_TOKEN: 'auth-token-for-tests',
      TWILIO_FROM: '+15550001111',
      TWILIO_API_BASE: `${origin}/`,
    });
    answerStatus = 201;
    const text = 'Your code is 654321\n\n@id.example.test #654321';
    const id = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text });
    expect(await delivery.sender.runOnce()).toMatchObject({ sent: 1 });

    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.method).toBe('POST');
    expect(request.url).toBe('/2010-04-01/Accounts/AC0123456789abcdef/Messages.json');
    expect(request.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(request.headers.authorization).toBe(`Basic ${Buffer.from('AC0123456789abcdef:auth-token-for-tests').toString('base64')}`);
    const form = new URLSearchParams(request.body.toString());
    expect([...form.keys()].sort()).toEqual(['Body', 'From', 'To']);
    expect(Object.fromEntries(form)).toEqual({ To: '+33612345678', From: '+15550001111', Body: text });
    expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('treats 401 as a permanent refusal and 429 as a reason to retry', async () => {
    const delivery = smsDelivery({
      SMS_PROVIDER: 'twilio',
      TWILIO_ACCOUNT_SID: 'AC1',
      TWILIO_AUTH_TOKEN: 'wrong',
      TWILIO_FROM: '+15550001111',
      TWILIO_API_BASE: origin,
    });
    answerStatus = 429;
    await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'x' });
    expect(await delivery.sender.runOnce()).toMatchObject({ retrying: 1 });
    await outbox().deleteMany({});
    answerStatus = 401;
    await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'y' });
    expect(await delivery.sender.runOnce()).toMatchObject({ failed: 1 });
  });
});

describe('a URL fetch refuses to post to', () => {
  // config refuses these at start; a provider built by hand may still be given one.
  const credentialed = () => origin.replace('http://', 'http://gw:hunter2@');

  it.each([
    ['the webhook', () => webhookSmsProvider({ url: `${credentialed()}/sms`, secret: SECRET }), 'SMS webhook'],
    ['the Twilio-compatible API', () => twilioSmsProvider({ accountSid: 'AC1', authToken: 't', from: '+15550001111', apiBase: credentialed() }), 'SMS API'],
  ])('fails %s for good, naming the URL and not quoting it, instead of as unreachable', async (_label, provider, what) => {
    const error = await provider().send({ id: 'm1', to: '+33612345678', text: 'code 5', createdAt: new Date() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ code: 'EREQUEST', permanent: true, message: `${what} request refused before sending: its URL carries a user name or password` });
    expect(received).toHaveLength(0);
  });

  it('records the text as failed after one attempt, not retried', async () => {
    const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: db.uri, ...webhookEnv() });
    config.delivery.sms = { provider: 'webhook', url: `${credentialed()}/sms`, secret: SECRET };
    const delivery = createDelivery({ connection: db.connection, config, log: captureLog().log });
    const id = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'code 6' });
    expect(await delivery.sender.runOnce()).toMatchObject({ failed: 1, retrying: 0 });
    expect(await outbox().findOne({ _id: id })).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'EREQUEST' } });
    expect(received).toHaveLength(0);
  });
});

describe('the sender, for texts', () => {
  it('retries a failing gateway until the send window closes, at most a minute apart, and fails it then', async () => {
    const start = Date.parse('2030-01-01T00:00:00Z');
    let now = start;
    const delivery = webhookDelivery({ clock: () => now });
    answerStatus = 503;
    const sendBefore = new Date(start + 10 * 60_000); // a recovery code's window
    const id = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'code 3', sendBefore });
    const stored = async () => (await outbox().findOne({ _id: id }))!;

    // Each attempt runs when it is due, until the message is no longer pending (bounded, should it never stop).
    const attemptedAt: number[] = [];
    for (let pass = 0; pass < 100 && (await stored()).status === 'pending'; pass += 1) {
      attemptedAt.push((now - start) / 1000);
      await delivery.sender.runOnce();
      now = (await stored()).nextAttemptAt.getTime();
    }

    // 2 s doubling up to the one-minute cap, for the whole window instead of five attempts in 30 s; then none:
    // at 542 s the next attempt (602 s) would be after the window, so the message fails then, not later in vain.
    expect(attemptedAt).toEqual([0, 2, 6, 14, 30, 62, 122, 182, 242, 302, 362, 422, 482, 542]);
    expect(received).toHaveLength(attemptedAt.length);
    const failed = await stored();
    expect(failed).toMatchObject({ status: 'failed', attempts: 14, lastError: { code: 'EEXPIRED', message: expect.stringContaining('HTTP_503') } });
    expect(failed.text).toBeUndefined();

    // The gateway recovers: a failed message stays failed.
    answerStatus = 200;
    now = sendBefore.getTime() - 1;
    expect(await delivery.sender.runOnce()).toEqual({ sent: 0, retrying: 0, failed: 0, skipped: 0 });
    expect(received).toHaveLength(attemptedAt.length);
  });

  it('sends a text at once while the mail server holds every email attempt of the pass', async () => {
    // A mail server that accepts connections and never greets: each email attempt hangs until nodemailer's
    // greeting timeout (15 s, email.ts), longer than a code should wait.
    const held: Socket[] = [];
    const silent = createTcpServer((socket) => held.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const smtpUrl = `smtp://127.0.0.1:${(silent.address() as AddressInfo).port}/?ignoreTLS=true`;
      const delivery = smsDelivery({ ...webhookEnv(), SMTP_URL: smtpUrl }, { sender: { intervalMs: 60_000, concurrency: 4 } });
      started.push(delivery);
      const emails = [];
      for (let n = 0; n < 4; n += 1) emails.push(await delivery.enqueue({ channel: 'email', to: `user${n}@example.test`, subject: 'Code', text: `code ${n}` }));
      await delivery.start();
      await waitFor(() => held.length === 4); // every email attempt is connected and waiting for a greeting

      const text = await delivery.enqueue({ channel: 'sms', to: '+33612345678', text: 'code 4' });
      // Generous: the assertion is what had happened by the time the text was recorded as sent, not how fast.
      await waitFor(async () => (await outbox().findOne({ _id: text }))?.status === 'sent', 30_000);

      expect(received).toHaveLength(1);
      expect(await outbox().findOne({ _id: text })).toMatchObject({ status: 'sent', attempts: 1 });
      // The emails' attempts have not ended: no outcome recorded, their connections still open and unanswered.
      const stuck = await outbox().find({ _id: { $in: emails } }).toArray();
      expect(stuck.map((m) => [m.status, m.attempts, m.lastError])).toEqual(emails.map(() => ['pending', 0, undefined]));
      expect(held.filter((socket) => !socket.destroyed)).toHaveLength(4);
    } finally {
      // Ends the hung attempts (a closed connection is a failure to retry), so stopping the sender does not wait 15 s.
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
