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
    // A database that stops answering without closing its connections (a hung host, a network that drops packets)
    // is noticed by the driver's heartbeat: a check is due every 2 s and fails after 4 s of silence, and then the
    // requests waiting on it fail too (a 503 page within about 6 s, instead of the driver defaults' 40 s). 4 s
    // is also the limit for opening a connection: ample for a database in the same region.
    heartbeatFrequencyMS: 2000,
    connectTimeoutMS: 4000,
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
  try {
    await connection.asPromise();
  } catch (error) {
    await connection.close().catch(() => {}); // no driver left polling a database this caller gave up on
    throw error;
  }
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

/**
 * The FerretDB version behind `connection`, or undefined for MongoDB (FerretDB's buildInfo names itself). Production
 * warns on FerretDB: it applies an update as a read and then a write of the whole document, so two changes to one
 * account at the same instant can lose one (README "Production notes").
 */
export async function ferretDbVersion(connection: Connection): Promise<string | undefined> {
  const info = await connection.db!.admin().command({ buildInfo: 1 });
  return typeof info.ferretdbVersion === 'string' ? info.ferretdbVersion : undefined;
}
