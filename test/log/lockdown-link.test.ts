// A "This wasn't me" link's token locks an account down for whoever holds it: no log line may show it, however its
// path is spelled (percent-encoded letters or slash, a doubled slash, capitals), whether the page is served or
// answers 404; the request line and a refusal's detail show the path without it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Browser } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { createLockdowns, LOCKDOWN_PATH_PREFIX } from '../../src/flows/recovery/lockdown.ts';
import { pathForLogs } from '../../src/http/request-context.ts';

const spellings = (token: string) => [
  `/recover/lockdown/${token}`,
  `/Recover/LOCKDOWN/${token}`,
  `/recover/%6Cockdown/${token}`,
  `/recover//lockdown/${token}`,
  `/recover/lockdown%2F${token}`,
  `/recover/lockdown%2f${token}/more`,
  `/recover%2Flockdown%252F${token}`,
];

describe('a running server', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('logs no spelling of a lockdown link with its token, in the request line or a refusal', async () => {
    const token = await createLockdowns(server.connection).issue((await createUser(server))._id);
    const before = server.logs.length;
    const statuses = [];
    for (const path of spellings(token)) statuses.push((await new Browser().get(`${server.origin}${path}`)).status);
    expect(statuses).toContain(200); // the link as sent, served
    expect(statuses).toContain(404); // a spelling no route serves
    const lines = server.logs.slice(before);
    expect(lines.filter((line) => line.includes(token))).toEqual([]);
    const requestLines = lines.map((line) => JSON.parse(line) as { msg: string; path?: string }).filter((line) => line.msg === 'request');
    expect(requestLines.map((line) => line.path)).toEqual(spellings(token).map(() => `${LOCKDOWN_PATH_PREFIX}…`));
    expect(lines.some((line) => line.includes('request refused') && line.includes(`${LOCKDOWN_PATH_PREFIX}…`))).toBe(true);
  });
});

describe('pathForLogs', () => {
  it('keeps other paths as they are, and reads a malformed percent sequence without throwing', () => {
    for (const path of ['/recover', '/recover/abc123', '/recover/lockdownish/x', '/oidc/auth', '/recover/%E0%A4%A', '/%', '/recover/lock%down/x']) {
      expect(pathForLogs(path, [LOCKDOWN_PATH_PREFIX])).toBeUndefined();
    }
  });
});
