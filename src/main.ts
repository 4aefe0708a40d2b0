// Process entry: configuration → database → app → listen; on SIGTERM/SIGINT, finish in-flight requests, then
// close the server and the database.
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { loadConfig, type Config } from '../config/index.ts';
import { createLogger, type Logger } from './log.ts';
import { connectDatabase } from './db/connection.ts';
import { createLatchkey, type Latchkey } from './app.ts';
import type { Connection } from 'mongoose';

export interface Running {
  server: Server;
  latchkey: Latchkey;
  connection: Connection;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(config: Config, log: Logger): Promise<Running> {
  if (!config.mongodbUri) throw new Error('MONGODB_URI is not set (npm start sets up a local database when it is missing)');
  const connection = await connectDatabase(config.mongodbUri);
  const latchkey = await createLatchkey({ config, connection, log });
  const server = createServer(latchkey.app.callback());
  server.on('clientError', latchkey.clientError);
  server.requestTimeout = 30_000;
  server.headersTimeout = 15_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject); // e.g. EADDRINUSE: fail the start instead of crashing later
      server.listen(config.port, config.host, resolve);
    });
  } catch (error) {
    await latchkey.beginShutdown();
    await connection.close();
    throw error;
  }
  // Every open connection, so that a stop can close those that have not sent a byte: browsers open them ahead of
  // need (preconnect), and Node counts them neither as idle nor as done, so a stop waited the whole grace period.
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host}:${port}`;
  // The socket's address, not a link: pages and cookies belong to the issuer's host (localhost in development).
  log.info({ listen: `${config.host}:${port}`, issuer: config.issuer }, 'latchkey listening');

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const graceEnds = Date.now() + config.shutdownDrainMs + config.shutdownGraceMs;
      // Still answering while load balancers notice that /readyz now says 503 and stop sending new requests, and still
      // sending what those requests enqueue (a code asked for now must not wait for another instance).
      latchkey.markShuttingDown();
      if (config.shutdownDrainMs > 0) await delay(config.shutdownDrainMs);
      const senderStopped = latchkey.beginShutdown();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections become idle as their last request finishes: close each as soon as it does.
      const sweepIdle = setInterval(() => server.closeIdleConnections(), 50);
      const deadline = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      server.closeIdleConnections();
      for (const socket of sockets) if (socket.bytesRead === 0) socket.destroy(); // a request arriving is left to finish
      await closed;
      clearInterval(sweepIdle);
      clearTimeout(deadline);
      // A message being handed to its provider right now is recorded as sent (or not) before the connection closes:
      // otherwise it stays pending, and another instance sends it again once the attempt's lease runs out.
      await Promise.race([senderStopped, delay(Math.max(0, graceEnds - Date.now()))]);
      await connection.close();
      log.info('latchkey stopped');
    })());
  return { server, latchkey, connection, url, stop };
}

export function stopOnSignals(running: Running, log: Logger): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      running.stop().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.main) {
  const config = loadConfig();
  const log = createLogger(config.logLevel, undefined, config.logFormat);
  const running = await startServer(config, log);
  stopOnSignals(running, log);
}
