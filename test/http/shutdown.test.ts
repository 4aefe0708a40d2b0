// Graceful shutdown: readiness drops (and, with SHUTDOWN_DRAIN_MS, the server keeps answering while balancers notice),
// a request already in flight still gets its answer, a message being sent is recorded, then the server and the
// database connection close.
import { expect, it } from '@jest/globals';
import { request } from 'node:http';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/main.ts';
import { testDatabaseUri } from '../helpers/database.ts';
import { startTestServer } from '../helpers/server.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createOutbox, OUTBOX_COLLECTION, type OutboxMessage } from '../../src/delivery/outbox.ts';
import { startSmtpSink } from '../delivery/smtp-sink.ts';

it('finishes in-flight requests, then closes the server and the database', async () => {
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', MONGODB_URI: testDatabaseUri(), LOG_LEVEL: 'silent' });
  const running = await startServer(config, createLogger('silent'));
  const { port } = running.server.address() as { port: number };
  expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);

  // A form post whose body is still arriving when shutdown begins.
  // The token endpoint reads the whole body before it answers, so the answer cannot come before the body ends.
  const body = 'grant_type=client_credentials&client_id=nobody';
  let stopBegan = false;
  const answer = new Promise<{ status: number; afterStop: boolean }>((resolve, reject) => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'content-length': body.length };
    const req = request({ port, host: '127.0.0.1', method: 'POST', path: '/oidc/token', headers }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, afterStop: stopBegan });
    });
    req.on('error', reject);
    req.write(body.slice(0, 5));
    setTimeout(() => req.end(body.slice(5)), 300);
  });
  await new Promise((r) => setTimeout(r, 100));
  const stopped = running.stop();
  stopBegan = true;
  // An unknown client is refused; what matters is that the answer came, after shutdown had begun.
  expect(await answer).toEqual({ status: 401, afterStop: true });
  await stopped;
  expect(running.server.listening).toBe(false);
  expect(running.connection.readyState).toBe(0);
  // Nobody listens on the port any more: the connection itself is refused.
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toMatchObject({ name: 'TypeError', cause: { code: 'ECONNREFUSED' } });
});

it('answers /readyz with 503 once shutdown has begun, so the load balancer stops sending traffic', async () => {
  const server = await startTestServer();
  try {
    expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
    void server.latchkey.beginShutdown();
    const ready = await fetch(`${server.origin}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable' });
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  } finally {
    await server.close();
  }
});

it('keeps answering, and sending, for SHUTDOWN_DRAIN_MS while /readyz says 503, so the load balancer can stop routing first', async () => {
  const sink = await startSmtpSink();
  const env = { NODE_ENV: 'test', PORT: '0', MONGODB_URI: testDatabaseUri(), LOG_LEVEL: 'silent', SHUTDOWN_DRAIN_MS: '3000' };
  const config = loadConfig({ ...env, SMTP_URL: sink.url, MAIL_FROM: 'Latchkey <no-reply@id.example.test>' });
  const running = await startServer(config, createLogger('silent'));
  try {
    const { port } = running.server.address() as { port: number };
    const stopped = running.stop();
    // Not "connection refused": a balancer still routing here during its detection window gets answers.
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    // A code asked for meanwhile still goes out from here.
    await createOutbox(running.connection, { clock: Date.now, onEnqueued: () => {}, box: configuredSecretBox(config) }).enqueue({ channel: 'email', to: 'ada@example.test', subject: 'Your code', text: 'Code 271828' });
    await stopped;
    expect(sink.received.map((mail) => mail.text?.trim())).toEqual(['Code 271828']);
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  } finally {
    await sink.close();
  }
});

it('records a message being sent when the stop comes, before the database connection closes', async () => {
  const sink = await startSmtpSink();
  const uri = testDatabaseUri();
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', MONGODB_URI: uri, LOG_LEVEL: 'silent', SMTP_URL: sink.url, MAIL_FROM: 'Latchkey <no-reply@id.example.test>' });
  const running = await startServer(config, createLogger('silent'));
  const reader = await connectDatabase(uri);
  try {
    sink.replyDelayMs = 1500;
    const outbox = createOutbox(running.connection, { clock: Date.now, onEnqueued: () => {}, box: configuredSecretBox(config) });
    const id = await outbox.enqueue({ channel: 'email', to: 'ada@example.test', subject: 'Your code', text: 'Your verification code is 314159.' });
    while (sink.received.length === 0) await new Promise((resolve) => setTimeout(resolve, 20)); // the server has it; its reply is pending
    await running.stop();
    // Recorded as sent: left pending, another instance would send the code again once the attempt's lease ran out.
    expect(await reader.db!.collection<OutboxMessage>(OUTBOX_COLLECTION).findOne({ _id: id })).toMatchObject({ status: 'sent', attempts: 1 });
  } finally {
    await reader.close();
    await sink.close();
  }
});
