// Two instances of one deployment on one database, an RP registered at them, and the admin CLI's own connection
// (as `npm run admin` has): for what must hold across instances that cache clients and accounts.
import type { Connection } from 'mongoose';
import { createClient } from './factories.ts';
import { startTestServer, type TestServerOptions, type TestServer } from './server.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

export interface TwoInstances {
  first: TestServer;
  second: TestServer;
  adminConnection: Connection;
  rp: ClientMetadata;
  close(): Promise<void>;
}

export async function startTwoInstances(options: { first?: TestServerOptions; second?: Omit<TestServerOptions, 'sharedDatabase'> } = {}): Promise<TwoInstances> {
  const first = await startTestServer({}, options.first);
  const second = await startTestServer({}, { ...options.second, sharedDatabase: first.dbUri });
  const adminConnection = await connectDatabase(first.dbUri);
  const rp = await createClient(first);
  return {
    first,
    second,
    adminConnection,
    rp,
    async close() {
      await adminConnection.close();
      await second.close();
      await first.close();
    },
  };
}
