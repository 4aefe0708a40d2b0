// The logger redacts secrets wherever they sit: under any key spelling (accessToken, refresh_token, Password), at
// any depth, in arrays, inside URLs in field values and in the message. It keeps what an operator needs: an
// error's message, stack and code, and fields that only look alike (tokenEndpointAuthMethod).
import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log.ts';

/** A logger at debug level and the JSON lines it wrote. */
function capture(): { log: Logger; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger('debug', sink);
  return { log, lines, entries: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** Asserts none of `secrets` appears anywhere in `lines`, naming the ones that do. */
function expectNoneOf(lines: string[], secrets: string[]) {
  const all = lines.join('\n');
  expect(lines.length).toBeGreaterThan(0);
  expect(secrets.filter((secret) => all.includes(secret))).toEqual([]);
}

describe('secret keys', () => {
  it('are redacted in any case and spelling, at any depth and inside arrays', () => {
    const { log, lines, entries } = capture();
    log.info(
      {
        accessToken: 'secret-access-token-1',
        Password: 'secret-password-2',
        refresh_token: 'secret-refresh-token-3',
        'ID-Token': 'secret-id-token-4',
        a: { b: { c: { clientSecret: 'secret-client-secret-5', kept: 'visible-5' } } },
        body: { form: { fields: { newPassword: 'secret-new-password-6', _csrf: 'secret-csrf-7' } } },
        grants: [{ code: 'secret-code-8', codeVerifier: 'secret-verifier-9' }, { tokens: ['secret-token-10', 'secret-token-11'] }],
        headers: { Authorization: 'Bearer secret-bearer-12', Cookie: 'session=secret-cookie-13', 'Set-Cookie': ['x=secret-cookie-14'] },
        user: { totpSecret: 'secret-totp-15', otp: 'secret-otp-18', apiKey: 'secret-api-key-16', privateKey: 'secret-private-key-17' },
        tokenEndpointAuthMethod: 'client_secret_basic',
        username: 'alice',
      },
      'signing in',
    );
    expectNoneOf(lines, [
      'secret-access-token-1',
      'secret-password-2',
      'secret-refresh-token-3',
      'secret-id-token-4',
      'secret-client-secret-5',
      'secret-new-password-6',
      'secret-csrf-7',
      'secret-code-8',
      'secret-verifier-9',
      'secret-token-10',
      'secret-token-11',
      'secret-bearer-12',
      'secret-cookie-13',
      'secret-cookie-14',
      'secret-totp-15',
      'secret-otp-18',
      'secret-api-key-16',
      'secret-private-key-17',
    ]);
    const [entry] = entries();
    expect(entry).toMatchObject({
      accessToken: '[redacted]',
      Password: '[redacted]',
      refresh_token: '[redacted]',
      a: { b: { c: { clientSecret: '[redacted]', kept: 'visible-5' } } },
      grants: [{ code: '[redacted]', codeVerifier: '[redacted]' }, { tokens: '[redacted]' }],
      tokenEndpointAuthMethod: 'client_secret_basic',
      username: 'alice',
      msg: 'signing in',
    });
  });

  it('are redacted in a child logger\'s bindings and through several levels of children', () => {
    const { log, lines, entries } = capture();
    log.child({ requestId: 'R1', session: { cookie: 'secret-binding-cookie' } }).child({ refreshToken: 'secret-binding-token' }).info('hello');
    expectNoneOf(lines, ['secret-binding-cookie', 'secret-binding-token']);
    expect(entries()[0]).toMatchObject({ requestId: 'R1', refreshToken: '[redacted]', msg: 'hello' });
  });

  it('survive cycles and shared objects', () => {
    const { log, lines, entries } = capture();
    const node: Record<string, unknown> = { name: 'loop', password: 'secret-in-cycle' };
    node.self = node;
    const shared = { id: 'shared' };
    log.info({ node, left: shared, right: shared }, 'cyclic');
    expectNoneOf(lines, ['secret-in-cycle']);
    expect(entries()[0]).toMatchObject({ node: { name: 'loop', password: '[redacted]' }, left: { id: 'shared' }, right: { id: 'shared' } });
  });
});

describe('secrets inside URLs', () => {
  it('are redacted in field values at any depth, in the message and in printf arguments', () => {
    const { log, lines, entries } = capture();
    log.info(
      {
        callback: 'https://rp.example/cb?code=secret-url-code-1&iss=https%3A%2F%2Fop&x=1',
        nested: { deeper: { url: 'https://rp.example/cb#access_token=secret-url-token-2&token_type=Bearer&state=secret-state-3' } },
        redirect: 'https://op.example/oidc/auth?client_id=app&redirect_uri=https%3A%2F%2Frp%2Fcb%3Fcode%3Dsecret-encoded-code-4%26y%3D2',
        form: 'grant_type=refresh_token&refresh_token=secret-form-token-5&client_secret=secret-form-secret-6',
      },
      'redirecting to https://rp.example/cb?code=secret-msg-code-7&token=secret-msg-token-8&x=1',
    );
    log.warn('replayed %s', 'https://rp.example/cb?id_token=secret-printf-token-9&x=2');
    expectNoneOf(lines, [
      'secret-url-code-1',
      'secret-url-token-2',
      'secret-state-3',
      'secret-encoded-code-4',
      'secret-form-token-5',
      'secret-form-secret-6',
      'secret-msg-code-7',
      'secret-msg-token-8',
      'secret-printf-token-9',
    ]);
    const [first, second] = entries();
    expect(first?.callback).toBe('https://rp.example/cb?code=[redacted]&iss=https%3A%2F%2Fop&x=1');
    expect(first?.msg).toBe('redirecting to https://rp.example/cb?code=[redacted]&token=[redacted]&x=1');
    expect(first?.form).toBe('grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]');
    expect(second?.msg).toBe('replayed https://rp.example/cb?id_token=[redacted]&x=2');
  });

  it('are redacted in an error\'s message and stack, and in the message pino takes from the error', () => {
    const { log, lines, entries } = capture();
    const error = new Error('fetch https://rp.example/cb?code=secret-error-code failed');
    log.error(error);
    log.error({ err: error });
    expectNoneOf(lines, ['secret-error-code']);
    for (const entry of entries()) expect(entry.msg).toBe('fetch https://rp.example/cb?code=[redacted] failed');
  });

  it('hide bearer credentials and compact JWTs in free text', () => {
    const { log, lines } = capture();
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNlY3JldA';
    log.info({ note: `sent Authorization: Bearer abcdefghijklmnop0123456789 and ${jwt}` }, 'upstream');
    expectNoneOf(lines, ['abcdefghijklmnop0123456789', jwt, 'c2lnbmF0dXJlLXNlY3JldA']);
  });
});

describe('errors', () => {
  it('keep their code, message, stack and type, with their secrets redacted', () => {
    const { log, entries } = capture();
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:27017'), { code: 'ECONNREFUSED', password: 'secret-on-error' });
    const duplicate = Object.assign(new Error('E11000 duplicate key error'), {
      code: 11000,
      errorResponse: { code: 11000, codeName: 'DuplicateKey' },
    });
    log.error({ err: refused }, 'database unreachable');
    log.error({ err: duplicate, attempt: 2 }, 'insert failed');
    log.warn(refused);
    const [first, second, third] = entries() as { err: Record<string, unknown>; attempt?: number; msg: string }[];
    expect(first?.err).toMatchObject({ type: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:27017', password: '[redacted]' });
    expect(first?.err.stack).toEqual(expect.stringContaining('Error: connect ECONNREFUSED'));
    expect(second).toMatchObject({ err: { code: 11000, errorResponse: { code: 11000, codeName: 'DuplicateKey' } }, attempt: 2, msg: 'insert failed' });
    expect(third).toMatchObject({ err: { code: 'ECONNREFUSED' }, msg: 'connect ECONNREFUSED 127.0.0.1:27017' });
  });

  it('keep a plain error object\'s code, while a code elsewhere is an authorization code', () => {
    const { log, lines, entries } = capture();
    log.info({ err: { code: 'ETIMEDOUT', message: 'timed out' }, callback: { code: 'secret-auth-code' } }, 'token exchange');
    expectNoneOf(lines, ['secret-auth-code']);
    expect(entries()[0]).toMatchObject({ err: { code: 'ETIMEDOUT' }, callback: { code: '[redacted]' } });
  });
});

describe('HTTP headers from pino\'s request and response serializers', () => {
  it('hide the cookie, authorization and set-cookie headers', () => {
    const { log, lines, entries } = capture();
    log.info(
      {
        req: { method: 'GET', url: '/me', headers: { cookie: 'latchkey.session=secret-req-cookie', authorization: 'Bearer secret-req-bearer', accept: 'text/html' } },
        res: { statusCode: 200, headers: { 'set-cookie': ['latchkey.session=secret-res-cookie; HttpOnly'], 'content-type': 'text/html' } },
      },
      'served',
    );
    expectNoneOf(lines, ['secret-req-cookie', 'secret-req-bearer', 'secret-res-cookie']);
    expect(entries()[0]).toMatchObject({
      req: { headers: { cookie: '[redacted]', authorization: '[redacted]', accept: 'text/html' } },
      res: { statusCode: 200, headers: { 'set-cookie': '[redacted]', 'content-type': 'text/html' } },
    });
  });
});
