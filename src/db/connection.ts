// One mongoose connection per process; everything else receives it as an argument.
import mongoose, { type Connection } from 'mongoose';

export interface ConnectOptions {
  /** Report every command sent to the server (driver command monitoring), e.g. for tests and benchmarks. */
  onCommand?: (event: { commandName: string; collection: string | undefined; command: Record<string, unknown> }) => void;
}

export async function connectDatabase(uri: string, options: ConnectOptions = {}): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    // While the database is down a request waits this long for it, then gets a 503 page (http/error-page.ts):
    // short enough that a person is told within seconds, long enough to ride out a restart's first moments.
    serverSelectionTimeoutMS: 2000,
    // Mongoose would otherwise queue commands for 10 s while disconnected; fail at once like the driver does.
    bufferCommands: false,
    // Every read from the primary, whatever MONGODB_URI asks: single-use claims, limits and the caches' epoch polls
    // must see the latest writes (a poll answered by a lagging secondary would report no change when there was one).
    readPreference: 'primary',
    monitorCommands: Boolean(options.onCommand),
    // Indexes are created explicitly at start (oidc/adapter.ts, db/expiry.ts), never lazily on the request path.
    autoIndex: false,
    autoCreate: false,
  });
  if (options.onCommand) {
    const report = options.onCommand;
    connection.getClient().on('commandStarted', (event) => {
      const collectionName = event.command[event.commandName];
      report({
        commandName: event.commandName,
        collection: typeof collectionName === 'string' ? collectionName : undefined,
        command: event.command,
      });
    });
  }
  await connection.asPromise();
  return connection;
}

/** True when the database answers a ping (for /readyz). */
export async function isDatabaseReachable(connection: Connection): Promise<boolean> {
  try {
    if (connection.readyState !== 1 || !connection.db) return false;
    await connection.db.admin().ping();
    return true;
  } catch {
    return false;
  }
}
