// Starts one local database for the whole run (unless MONGODB_URI names one); each test file then works in its
// own database on it (helpers/database.ts). Plain JS: Jest loads global hooks natively (Node strips the types
// of the imported .ts module).
import { LocalDbUnavailable, startLocalDb } from '../scripts/local-db.ts';

export default async function globalSetup() {
  if (process.env.MONGODB_URI) {
    // Each test file replaces the database name (test/helpers/database.ts).
    process.env.LATCHKEY_TEST_MONGODB = process.env.MONGODB_URI;
    return;
  }
  const db = await startLocalDb({ log: (line) => process.stderr.write(line + '\n') }).catch((error) => {
    // Jest prints a setup error's stack: what the person can fix (no Go, a failed build) is said alone.
    if (error instanceof LocalDbUnavailable) error.stack = error.message;
    throw error;
  });
  process.env.LATCHKEY_TEST_MONGODB = db.uri;
  globalThis.__latchkeyTestDb = db;
}
