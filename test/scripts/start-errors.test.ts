// `npm start` with a MONGODB_URI that cannot work says so in words a person can act on: which setting, what is
// wrong, and the way out, without a driver's stack trace.
import { expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/ports.ts';

const START_SCRIPT = fileURLToPath(new URL('../../scripts/start.ts', import.meta.url));

function start(env: Record<string, string>) {
  const { ISSUER: _issuer, ...rest } = process.env;
  return spawnSync(process.execPath, [START_SCRIPT], { env: { ...rest, NODE_ENV: 'development', PORT: '0', ...env }, encoding: 'utf8', timeout: 30_000 });
}

it('names MONGODB_URI and the way out when its database does not answer', async () => {
  const run = start({ MONGODB_URI: `mongodb://admin:s3cret@127.0.0.1:${await freePort()}/latchkey` });
  expect(run.status).toBe(1);
  expect(run.stderr).toMatch(/the database at MONGODB_URI \(mongodb:\/\/\*\*\*@127\.0\.0\.1:\d+\/latchkey\) did not answer: .*ECONNREFUSED/);
  expect(run.stderr).toContain('unset MONGODB_URI to use the local development database');
  expect(run.stderr).not.toContain('s3cret');
  expect(run.stderr).not.toMatch(/^\s+at /m); // no stack trace
});

it('refuses a MONGODB_URI that is not a MongoDB connection string, with the other settings', () => {
  const run = start({ MONGODB_URI: 'mongo://localhost/latchkey', PORT: 'abc' });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('MONGODB_URI: a MongoDB connection string starts with mongodb:// or mongodb+srv://');
  expect(run.stderr).toContain('PORT');
  expect(run.stderr).not.toMatch(/^\s+at /m);
});
