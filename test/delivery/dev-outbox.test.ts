// The development outbox: with nothing real configured, messages land where a developer (or a script) can read
// them, at /dev/outbox and /dev/outbox.json; production has neither.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { loadConfig } from '../../config/index.ts';
import { createDelivery } from '../../src/delivery/index.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/main.ts';
import { testDatabaseUri } from '../helpers/database.ts';
import { PRODUCTION_ENV, startTestServer, type TestServer } from '../helpers/server.ts';
import { captureLog } from './capture-log.ts';

interface OutboxJson {
  to: string;
  channel: string;
  subject: string | null;
  text: string;
  createdAt: string;
}

describe('in development and tests', () => {
  let server: TestServer;
  // In the past, so the server's sender (on the real clock) finds them due; sendBefore keeps them sendable.
  const t0 = Date.parse('2020-01-01T09:00:00.000Z');
  const sendBefore = new Date(Date.now() + 3600_000);

  beforeAll(async () => {
    server = await startTestServer();
    // Enqueued by another instance on the same database, each a second apart; the server's own sender (started by
    // the app) delivers them into the development outbox.
    let now = t0;
    const other = createDelivery({ connection: server.connection, config: server.config, log: captureLog().log, clock: () => now });
    await other.enqueue({ channel: 'email', to: 'ada@example.test', subject: 'Your code', text: 'Code: 111111', html: '<p>Code: 111111</p>', sendBefore });
    now += 1000;
    await other.enqueue({ channel: 'sms', to: '+33612345678', text: 'Code 222222\n\n@localhost #222222', sendBefore });
    now += 1000;
    await other.enqueue({ channel: 'email', to: 'eve@example.test', subject: '<b>Hi</b> & bye', text: '<script>alert("333333")</script>', sendBefore });
    const deadline = Date.now() + 10_000;
    while (((await (await fetch(`${server.origin}/dev/outbox.json`)).json()) as unknown[]).length < 3) {
      if (Date.now() > deadline) throw new Error('the server’s sender did not deliver the messages');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  afterAll(() => server.close());

  it('/dev/outbox.json lists the messages newest first, with exactly to, channel, subject, text and createdAt', async () => {
    const response = await fetch(`${server.origin}/dev/outbox.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const messages = (await response.json()) as OutboxJson[];
    for (const message of messages) expect(Object.keys(message).sort()).toEqual(['channel', 'createdAt', 'subject', 'text', 'to']);
    expect(messages).toEqual([
      { to: 'eve@example.test', channel: 'email', subject: '<b>Hi</b> & bye', text: '<script>alert("333333")</script>', createdAt: '2020-01-01T09:00:02.000Z' },
      { to: '+33612345678', channel: 'sms', subject: null, text: 'Code 222222\n\n@localhost #222222', createdAt: '2020-01-01T09:00:01.000Z' },
      { to: 'ada@example.test', channel: 'email', subject: 'Your code', text: 'Code: 111111', createdAt: '2020-01-01T09:00:00.000Z' },
    ]);
  });

  it('/dev/outbox shows them newest first, escaped: markup in a message is text, never markup', async () => {
    const response = await fetch(`${server.origin}/dev/outbox`);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain('<title>Development outbox');
    expect(html).toContain('&lt;script&gt;alert(&#34;333333&#34;)&lt;/script&gt;');
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('&lt;b&gt;Hi&lt;/b&gt; &amp; bye');
    expect(html).not.toContain('<b>Hi</b>');
    expect(html).toContain('+33612345678');
    expect(html).toContain('2020-01-01T09:00:01.000Z');
    const order = ['333333', '222222', '111111'].map((code) => html.indexOf(code));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('/dev/outbox speaks French to a French browser', async () => {
    const html = await (await fetch(`${server.origin}/dev/outbox`, { headers: { 'accept-language': 'fr' } })).text();
    expect(html).toContain('Boîte d’envoi de développement');
  });

  it("answers a request from this machine addressed to another site's name (DNS rebinding) with 404, and by the names of this machine", async () => {
    const { port } = new URL(server.origin);
    for (const path of ['/dev/outbox', '/dev/outbox.json']) {
      const rebound = await getWithHost(`${server.origin}${path}`, `attacker.example:${port}`);
      expect(rebound.status).toBe(404);
      expect(rebound.body).not.toContain('222222');
      expect((await getWithHost(`${server.origin}${path}`, `localhost:${port}`)).status).toBe(200);
    }
  });
});

/** A GET with the Host header a browser sends for a page of that name (fetch does not let a caller set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk)).on('end', () => resolve({ status: response.statusCode!, body }));
    })
      .on('error', reject)
      .end();
  });
}

describe('a development server listening on every interface (HOST=0.0.0.0)', () => {
  it('shows the outbox on this machine only: from another address, both answer 404', async () => {
    // This machine's own address on its network: a request to it comes from that address, not from loopback.
    const outside = Object.values(networkInterfaces()).flat().find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
    expect(outside).toBeDefined(); // a machine without a network would prove nothing here
    const config = loadConfig({ NODE_ENV: 'test', HOST: '0.0.0.0', PORT: '0', MONGODB_URI: testDatabaseUri(), LOG_LEVEL: 'silent' });
    const running = await startServer(config, createLogger('silent'));
    try {
      const { port } = running.server.address() as { port: number };
      for (const path of ['/dev/outbox', '/dev/outbox.json']) {
        expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
        const fromNetwork = await fetch(`http://${outside}:${port}${path}`);
        expect(fromNetwork.status).toBe(404);
        expect(await fromNetwork.text()).not.toContain('Development outbox');
      }
    } finally {
      await running.stop();
    }
  });
});

describe('in production', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ ...PRODUCTION_ENV, ISSUER: 'https://id.example.test/oidc' });
  });
  afterAll(() => server.close());

  it('has no development outbox: both addresses answer 404', async () => {
    const headers = { 'x-forwarded-proto': 'https' };
    for (const path of ['/dev/outbox', '/dev/outbox.json']) {
      const response = await fetch(`${server.origin}${path}`, { headers });
      expect(response.status).toBe(404);
      expect(await response.text()).not.toContain('Development outbox');
    }
  });
});
