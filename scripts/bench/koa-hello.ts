// Benchmark child: a bare Koa hello-world, the ceiling for any Koa app's requests per second on this machine. The
// discovery and JWKS figures are read against it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { runChild } from './ipc.ts';
import { cpuMicros, type ServerCounters } from './target.ts';

await runChild(async () => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = { hello: 'world' };
  });
  const server = createServer(app.callback());
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
