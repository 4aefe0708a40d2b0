// The development database folder has one server at a time: starts that race share it, a lock left by a process
// that died does not block the next start, and a lock held by a live process that serves nothing is explained.
import { afterEach, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalDbUnavailable, startLocalDb, type LocalDb } from '../../scripts/local-db.ts';

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

it('explains in one line, within seconds, a lock held by a live process whose database never answers', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  const squatter = spawn('sleep', ['60']);
  try {
    writeFileSync(join(dataDir, 'owner.lock'), String(squatter.pid));
    const started = Date.now();
    const error = await startLocalDb({ dataDir }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(error).toBeInstanceOf(LocalDbUnavailable);
    expect((error as Error).message).toContain(`locked by process ${squatter.pid}`);
    expect((error as Error).message).toContain(`delete ${join(dataDir, 'owner.lock')}`);
    expect((error as Error).message).not.toContain('\n');
  } finally {
    squatter.kill();
  }
}, 60_000);
