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
    log.info({ method: 'GET', path: '/interaction/abc', status: 200, ms: 12.3, requestId: 'K3JD9QXA' }, 'request');
    log.info({ password: 'hunter2-secret' }, 'signed in');
    log.info({ method: 'GET', path: '/recover/f', status: 200, ms: 1, requestId: 'K3JD9QXA', supportCode: 'FLOWCODE' }, 'request');
    await settle();
    // With the support code the page showed: the request id, or the recovery flow's code.
    expect(lines[0]).toMatch(/GET \/interaction\/abc 200 12\.3 ms · K3JD9QXA$/);
    expect(lines[2]).toMatch(/GET \/recover\/f 200 1 ms · FLOWCODE$/);
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

it('logs a page request at info; static files, discovery and JWKS (fetched again and again) only at debug', async () => {
  const server = await startTestServer({ LOG_LEVEL: 'debug' });
  try {
    await fetch(`${server.origin}/static/styles.css`);
    await fetch(`${server.origin}/recover`);
    // Twice each: the first discovery request builds the document, the second is answered from memory.
    for (let i = 0; i < 2; i += 1) {
      expect((await fetch(`${server.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      expect((await fetch(`${server.issuer}/jwks`)).status).toBe(200);
    }
    const requests = server.logs.map((line) => JSON.parse(line) as { msg: string; path?: string; level: number }).filter((l) => l.msg === 'request');
    const levels = (path: string) => requests.filter((l) => l.path === path).map((l) => l.level);
    expect(levels('/recover')).toEqual([30]);
    expect(levels('/static/styles.css')).toEqual([20]);
    expect(levels('/oidc/.well-known/openid-configuration')).toEqual([20, 20]);
    expect(levels('/oidc/jwks')).toEqual([20, 20]);
  } finally {
    await server.close();
  }
});
