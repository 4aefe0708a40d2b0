// The demo relying party (scripts/demo-rp.ts) on a free port of 127.0.0.1, registered with a test server, for
// browser tests. The app listens first, so its origin is known when the client is registered.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createDemoRp } from '../../scripts/demo-rp.ts';
import { createClient } from './factories.ts';
import type { TestServer } from './server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

export interface TestRp {
  origin: string;
  client: ClientMetadata;
  close(): Promise<void>;
}

export async function startTestRp(server: TestServer): Promise<TestRp> {
  const rpServer = createServer();
  await new Promise<void>((resolve) => rpServer.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(rpServer.address() as AddressInfo).port}`;
  const client = await createClient(server, {
    client_name: 'Demo App',
    redirect_uris: [`${origin}/callback`],
    post_logout_redirect_uris: [`${origin}/`],
  });
  const rp = await createDemoRp({ issuer: server.issuer, clientId: client.client_id, clientSecret: client.client_secret!, origin });
  rpServer.on('request', rp.app.callback());
  return {
    origin,
    client,
    async close() {
      rpServer.closeAllConnections();
      await new Promise<void>((resolve) => rpServer.close(() => resolve()));
    },
  };
}
