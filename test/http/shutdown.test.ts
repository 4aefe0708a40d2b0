// Graceful shutdown: readiness drops, a request already in flight still gets its answer, then the server and
// the database connection close.
import { expect, it } from '@jest/globals';
import { request } from 'node:http';
import { loadConfig } from '../../config/index.ts';
import { createLogger } from '../../src/log.ts';
import { startServer } from '../../src/main.ts';
import { testDatabaseUri } from '../helpers/database.ts';
import { startTestServer } from '../helpers/server.ts';

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
    server.latchkey.beginShutdown();
    const ready = await fetch(`${server.origin}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'unavailable' });
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  } finally {
    await server.close();
  }
});
