// MongoDB connection strings: naming the database in one, and hiding its credentials in messages.
// `npm run db` prints the local server's address without a database name (`mongodb://127.0.0.1:PORT`); the driver
// would then silently use a database called `test`, so Latchkey names its own.

export const DEFAULT_DATABASE = 'latchkey';

// scheme://[credentials@]hosts  /database  ?options — credentials and hosts never hold a raw `/` or `?`.
const MONGODB_URI = /^(mongodb(?:\+srv)?:\/\/[^/?]*)(\/[^?]*)?(\?.*)?$/;

/** The same server(s) and options, with `database` as the database (replacing any named one). */
export function withDatabase(uri: string, database: string): string {
  const match = MONGODB_URI.exec(uri);
  if (!match) throw new Error(`not a mongodb:// URI: ${redactUri(uri)}`);
  const [, hosts, , query = ''] = match;
  return `${hosts}/${database}${query}`;
}

/** The URI with `/<database>` added when it names no database; any other URI is returned unchanged. */
export function withDefaultDatabase(uri: string, database: string = DEFAULT_DATABASE): string {
  const match = MONGODB_URI.exec(uri);
  if (!match) return uri; // not a MongoDB URI: the driver's own error explains it better
  const path = match[2] ?? '';
  return path.length > 1 ? uri : withDatabase(uri, database);
}

/**
 * The URI with its credentials masked, for messages. Everything up to its last `@` goes: the URIs these messages are
 * about are often malformed ones, with a raw `/` or `@` in the password, and hiding a host too is the safe mistake.
 */
export function redactUri(uri: string): string {
  // A MongoDB URI that parses without credentials has none to hide (an `@` in its options, `appName=ops@corp`, stays).
  if (/^mongodb(\+srv)?:\/\//i.test(uri) && URL.canParse(uri) && !new URL(uri).username && !new URL(uri).password) return uri;
  return uri.replace(/^([a-z][a-z\d+.-]*:\/\/)?[\s\S]*@/i, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
}
