// `npm run demo` seeds a user whose password is published: it refuses any database but the local development one.
import { expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const DEMO_SCRIPT = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));

it('refuses to run on a database named by MONGODB_URI, before starting anything', () => {
  const run = spawnSync(process.execPath, [DEMO_SCRIPT], {
    env: { ...process.env, NODE_ENV: 'development', MONGODB_URI: 'mongodb://127.0.0.1:1/production' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(run.status).toBe(1);
  expect(run.stderr).toContain('runs only on the local development database');
});
