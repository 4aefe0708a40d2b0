// The development database folder has one server at a time: starts that race share it, a lock left by a process
// that died does not block the next start, and a lock held by a live process that serves nothing is explained, as is
// a build that fails.
import { afterEach, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFerretDb, hasGo, LocalDbUnavailable, startLocalDb, type LocalDb } from '../../scripts/local-db.ts';

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

it("finds Go where go.dev's archive puts it (/usr/local/go/bin) though PATH does not name that folder", async () => {
  // This machine's Go is installed that way (as .ci/run expects); a PATH naming only an empty folder finds nothing else.
  expect(existsSync('/usr/local/go/bin/go')).toBe(true);
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  expect(await hasGo({ PATH: dataDir })).toBe(true);
});

it('says what Go printed and what to do when the build fails (a Go too old for the module), without a stack trace', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  // A `go` that answers as an old toolchain does: it is found, and refuses the module.
  writeFileSync(join(dataDir, 'go'), '#!/bin/sh\necho "go: github.com/FerretDB/FerretDB@v1.24.2 requires go >= 1.24 (running go 1.19)" >&2\nexit 1\n', { mode: 0o755 });
  const out = join(dataDir, 'ferretdb');
  const error = await buildFerretDb(out, { ...process.env, PATH: `${dataDir}:${process.env.PATH}` }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalDbUnavailable);
  const message = (error as Error).message;
  expect(message).toContain('requires go >= 1.24 (running go 1.19)');
  expect(message).toContain('Go 1.24+');
  expect(message).toContain('MONGODB_URI');
  expect(message).not.toMatch(/^\s+at /m);
  expect(existsSync(out)).toBe(false);
});

it('says bash is missing, not Go, when the recipe cannot run (Windows outside WSL)', async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'latchkey-db-'));
  const out = join(dataDir, 'ferretdb');
  // A PATH with no bash on it (an empty folder; /usr/local/go/bin, added after it, has none either).
  const error = await buildFerretDb(out, { PATH: dataDir }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LocalDbUnavailable);
  expect((error as Error).message).toContain('needs bash');
  expect((error as Error).message).toContain('WSL 2');
  expect(existsSync(out)).toBe(false);
});
