// Behind the TLS proxy production requires (TRUST_PROXY=true): the client's address is the one the proxy appended
// to X-Forwarded-For, so entries a client writes into the header itself buy it no fresh per-IP budget.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Browser, messageIds } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CAPTCHA_ANSWER, identify } from '../helpers/recovery.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, TRUST_PROXY: 'true' });
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1 } });
});
afterAll(() => server.close());

/** A browser whose requests arrive through the proxy with this X-Forwarded-For (the client's part, then the proxy's). */
const through = (forwardedFor: string) => new Browser({ publicOrigin: server.origin, serverOrigin: server.origin, headers: { 'x-forwarded-for': forwardedFor } });

it('counts recovery starts per address the proxy saw, whatever the client wrote before it', async () => {
  const first = await identify(server, through('198.51.100.1, 192.0.2.10'), 'someone@example.org');
  expect(first.status).toBe(200);
  expect(messageIds(first)).not.toContain('recover.too_many');
  // Same client (the proxy saw 192.0.2.10 again), a different address forged in front: refused.
  const forged = await identify(server, through('198.51.100.2, 192.0.2.10'), 'someone@example.org');
  expect(forged.status).toBe(429);
  expect(messageIds(forged)).toContain('recover.too_many');
  // Another client, as the proxy saw it, has its own budget.
  const other = await identify(server, through('198.51.100.1, 192.0.2.11'), 'someone@example.org');
  expect(other.status).toBe(200);
});
