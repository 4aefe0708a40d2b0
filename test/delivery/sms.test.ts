// Text-message providers against a real local HTTP endpoint: the signed webhook (and how a gateway verifies it)
// and the Twilio-compatible API.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../config/index.ts';
import { createDelivery } from '../../src/delivery/index.ts';
import { OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { signWebhook, verifyWebhookSignature } from '../../src/delivery/sms.ts';
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
afterEach(() => {
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

function smsDelivery(env: Record<string, string>) {
  const config = loadConfig({ NODE_ENV: 'test', MONGODB_URI: db.uri, ...env });
  return createDelivery({ connection: db.connection, config, log: captureLog().log });
}
const webhookDelivery = () => smsDelivery({ SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: `${origin}/sms`, SMS_WEBHOOK_SECRET: SECRET });

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
