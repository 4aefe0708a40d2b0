// What Node's HTTP parser refuses before a request reaches the app (a header too large, a malformed header, a
// request too slow to arrive) is answered with Node's status but with the security headers every response carries,
// `Connection: close` and a support code, which the warning logged for it carries too; what the client sent is not
// logged.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { PassThrough } from 'node:stream';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { captureLog } from '../delivery/capture-log.ts';
import { waitFor } from '../helpers/recovery.ts';
import { clientErrorHandler } from '../../src/http/client-error.ts';
import { securityHeaderFields } from '../../src/http/security-headers.ts';

interface RawResponse {
  statusLine: string;
  headers: Map<string, string>;
  body: string;
}

function parse(raw: string): RawResponse {
  const [head = '', body = ''] = raw.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { statusLine, headers, body };
}

/** The security headers of a response, with the CSP's nonce blanked (it changes with every response). */
const securityHeadersOf = (headers: Map<string, string>) =>
  Object.fromEntries(
    ['content-security-policy', 'x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'permissions-policy', 'strict-transport-security']
      .filter((name) => headers.has(name))
      .map((name) => [name, headers.get(name)!.replace(/'nonce-[^']*'/g, "'nonce-…'")]),
  );

describe('a running server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  /** Writes `request` on a new connection and reads until the server closes it. */
  const rawResponse = (request: string) =>
    new Promise<RawResponse>((resolve, reject) => {
      const socket = connect(Number(new URL(server.origin).port), '127.0.0.1', () => socket.write(request));
      let data = '';
      socket.on('data', (chunk) => (data += chunk.toString()));
      socket.on('close', () => resolve(parse(data)));
      socket.on('error', reject);
      socket.setTimeout(5000, () => socket.destroy(new Error('the server did not close the connection')));
    });

  it.each([
    ['a header too large', 'HTTP/1.1 431 Request Header Fields Too Large', (secret: string) => `GET /recover HTTP/1.1\r\nHost: x\r\nCookie: s=${secret}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['a malformed header line', 'HTTP/1.1 400 Bad Request', (secret: string) => `GET /recover/lockdown/${secret} HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`],
  ])('answers %s with the security headers and a support code, also logged', async (_, statusLine, request) => {
    const secret = 'Zq1xSecretTokenThatMustNotBeLogged0123456789';
    const before = server.logs.length;
    const answer = await rawResponse(request(secret));
    expect(answer.statusLine).toBe(statusLine);
    const page = parse(`HTTP/1.1 200 OK\r\n${[...(await fetch(`${server.origin}/recover`)).headers].map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`);
    expect(securityHeadersOf(answer.headers)).toEqual(securityHeadersOf(page.headers));
    expect(answer.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(answer.headers.get('connection')).toBe('close');
    const supportCode = answer.headers.get('x-request-id')!;
    expect(supportCode).toMatch(/^[A-Z0-9]{8}$/);
    expect(answer.body).toContain(`Support code: ${supportCode}`);
    const lines = server.logs.slice(before);
    const warning = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.supportCode === supportCode);
    expect(warning).toMatchObject({ level: 40, status: Number(statusLine.split(' ')[1]), msg: 'request refused by the HTTP parser' });
    expect(lines.filter((line) => line.includes(secret))).toEqual([]);
  });

  it('logs a form whose sender went away before its body ended as refused (400), not as a server error', async () => {
    const before = server.logs.length;
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(new URL(server.origin).port), '127.0.0.1', () => {
        socket.write('POST /recover HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ncsrf=x');
        setTimeout(() => socket.destroy(), 500); // time for the server to begin reading the body
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    const requestLine = () => server.logs.slice(before).map((entry) => JSON.parse(entry) as Record<string, unknown>).find((entry) => entry.method === 'POST' && entry.status !== undefined);
    const line = await waitFor(requestLine, 'the request line');
    expect(line.status).toBe(400);
    expect(server.logs.slice(before).filter((entry) => entry.includes('"level":50'))).toEqual([]);
  });
});

describe('the handler', () => {
  const captured = captureLog();
  const handle = clientErrorHandler(securityHeaderFields({ hsts: true }), captured.log);
  const failure = (code: string) => Object.assign(new Error(code), { code });

  it('answers a request that took too long with 408', async () => {
    const socket = new PassThrough();
    handle(failure('ERR_HTTP_REQUEST_TIMEOUT'), socket);
    const answer = parse(String(socket.read()));
    expect(answer.statusLine).toBe('HTTP/1.1 408 Request Timeout');
    expect(answer.headers.get('strict-transport-security')).toContain('max-age=');
  });

  it('warns of a request that began and stalled, but not of a connection a browser opened ahead and never used', () => {
    const levels = (bytesRead: number) => {
      const before = captured.lines.length;
      handle(failure('ERR_HTTP_REQUEST_TIMEOUT'), Object.assign(new PassThrough(), { bytesRead }));
      return captured.lines.slice(before).map((line) => (JSON.parse(line) as { level: number }).level);
    };
    expect(levels(0)).toEqual([20]);
    expect(levels(12)).toEqual([40]);
  });

  it('writes nothing to a client that is gone, or to a socket that takes no more', () => {
    const reset = new PassThrough();
    handle(failure('ECONNRESET'), reset);
    const ended = new PassThrough();
    ended.end();
    handle(failure('HPE_INVALID_HEADER_TOKEN'), ended);
    expect([reset.read(), ended.read()]).toEqual([null, null]);
    expect([reset.destroyed, ended.destroyed]).toEqual([true, true]);
  });
});
