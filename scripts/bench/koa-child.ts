// What the bare Koa children of the benchmark share: their app served on a free port of 127.0.0.1, its URL as the
// child's info, and the child's CPU as its only counter (they have no database).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { runChild } from './ipc.ts';
import { cpuMicros, type ServerCounters } from './target.ts';

export async function runKoaChild(makeApp: () => Promise<Koa>): Promise<void> {
  await runChild(async () => {
    const server = createServer((await makeApp()).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      info: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` },
      handlers: {
        async counters(): Promise<ServerCounters> {
          return { cpuMicros: cpuMicros(), dbCommands: null, dbCommandsByName: {} };
        },
      },
      async stop() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  });
}
