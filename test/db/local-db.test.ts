// The development database folder has one server at a time: starts that race share it, and a lock left by a
// process that died does not block the next start.
import { afterEach, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDb, type LocalDb } from '../../scripts/local-db.ts';

const started: LocalDb[] = [];
let dataDir = '';
afterEach(async () => {
  for (const db of started.splice(0)) await db.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

it('starts one server when two starts on the same folder race, and both get its URI', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  const [a, b] = await Promise.all([startLocalDb({ dataDir }), startLocalDb({ dataDir })]);
  started.push(a, b);
  expect(a.uri).toBe(b.uri);
  const third = await startLocalDb({ dataDir });
  started.push(third);
  expect(third.uri).toBe(a.uri);
}, 120_000);

it('clears a lock whose owner has died', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  writeFileSync(join(dataDir, 'owner.lock'), '2147483646'); // no such process
  const db = await startLocalDb({ dataDir });
  started.push(db);
  expect(db.uri).toMatch(/^mongodb:\/\/127\.0\.0\.1:\d+$/);
  await db.stop();
  started.splice(0);
  expect(existsSync(join(dataDir, 'owner.lock'))).toBe(false);
}, 120_000);
