// Development's terminal gets short human lines (one per page request, none for static files); production keeps
// one JSON object per line; LOG_FORMAT overrides either. Redaction applies whatever the format.
import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log.ts';
import { loadConfig } from '../../config/index.ts';
import { startTestServer } from '../helpers/server.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('LOG_FORMAT', () => {
  it('defaults to pretty in development and json elsewhere; the variable overrides', () => {
    const base = { ISSUER: 'http://localhost:3000/oidc', MONGODB_URI: 'mongodb://127.0.0.1:1/x' };
    expect(loadConfig({ ...base, NODE_ENV: 'development' }).logFormat).toBe('pretty');
    expect(loadConfig({ ...base, NODE_ENV: 'test' }).logFormat).toBe('json');
    expect(loadConfig({ ...base, NODE_ENV: 'development', LOG_FORMAT: 'json' }).logFormat).toBe('json');
  });

  it('pretty: a request is one short line, and secrets are still redacted', async () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream, 'pretty');
    log.info({ method: 'GET', path: '/interaction/abc', status: 200, ms: 12.3 }, 'request');
    log.info({ password: 'hunter2-secret' }, 'signed in');
    await settle();
    expect(lines[0]).toMatch(/GET \/interaction\/abc 200 12\.3 ms$/);
    expect(lines[0]).not.toContain('{');
    expect(lines.join('\n')).not.toContain('hunter2-secret');
  });

  it('json: one object per line', async () => {
    const { lines, stream } = capture();
    createLogger('info', stream, 'json').info({ path: '/x' }, 'request');
    await settle();
    expect(JSON.parse(lines[0]!)).toMatchObject({ msg: 'request', path: '/x' });
  });
});

it('logs a page request at info, and static files only at debug', async () => {
  const server = await startTestServer();
  try {
    await fetch(`${server.origin}/static/styles.css`);
    await fetch(`${server.origin}/recover`);
    const requests = server.logs.map((line) => JSON.parse(line) as { msg: string; path?: string; level: number }).filter((l) => l.msg === 'request');
    expect(requests.find((l) => l.path === '/recover')?.level).toBe(30);
    expect(requests.find((l) => l.path === '/static/styles.css')?.level).toBe(20);
  } finally {
    await server.close();
  }
});
