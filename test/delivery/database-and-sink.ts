// A test file's database and SMTP sink: opened before its tests, closed (the database dropped) after them.
import { afterAll, beforeAll } from '@jest/globals';
import { openTestDatabase } from '../helpers/database.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

export interface DatabaseAndSink {
  db: Awaited<ReturnType<typeof openTestDatabase>>;
  sink: SmtpSink;
}

/** Call at the top of a test file; the fields are there once its tests run. */
export function useDatabaseAndSink(): DatabaseAndSink {
  const opened = {} as DatabaseAndSink;
  beforeAll(async () => {
    opened.db = await openTestDatabase();
    opened.sink = await startSmtpSink();
  });
  afterAll(async () => {
    await opened.sink.close();
    await opened.db.drop();
  });
  return opened;
}
