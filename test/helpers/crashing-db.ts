// Two instances of one deployment on a local database that a test can kill at a chosen command, as a crash would:
// the command is sent, the database dies under it, the request in flight fails, and the supervisor starts the
// database again (same port, same data). The request that meets the crash goes to `a`; a retry can go to `b`.
import { expect } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './server.ts';
import { waitFor } from './recovery.ts';
import { startLocalDb } from '../../scripts/local-db.ts';

export interface CrashingDeployment {
  a: TestServer;
  b: TestServer;
  /** Moves both instances' clock (ms from now). */
  setOffset(ms: number): void;
  /** Runs `request` on `a` with the database killed as `command` is sent; resolves once the database is back. */
  crashDuring<T>(command: { commandName: string; collection: string }, request: () => Promise<T>): Promise<T>;
  stop(): Promise<void>;
}

export async function startCrashingDeployment(env: Record<string, string> = {}): Promise<CrashingDeployment> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
  const said: string[] = [];
  // Long enough for the request in flight to fail before the database is back.
  const db = await startLocalDb({ dataDir, restartDelayMs: 3000, log: (line) => void said.push(line) });
  const uri = `${db.uri}/latchkey_crash`;
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  let killOn: ((command: { commandName: string; collection: string | undefined }) => boolean) | undefined;
  const a = await startTestServer(env, {
    sharedDatabase: uri,
    clock,
    onCommand: (command) => {
      if (!killOn?.(command)) return;
      killOn = undefined;
      db.kill!();
    },
  });
  const b = await startTestServer(env, { sharedDatabase: uri, clock });
  const comebacks = () => said.filter((line) => line === 'local database is back').length;

  return {
    a,
    b,
    setOffset(ms) {
      offsetMs = ms;
    },
    async crashDuring(command, request) {
      const before = comebacks();
      killOn = (sent) => sent.commandName === command.commandName && sent.collection === command.collection;
      const answer = await request();
      expect(killOn).toBeUndefined(); // the command was sent, and the database killed under it
      await waitFor(() => (comebacks() > before ? true : undefined), 'the database to come back', 30_000);
      return answer;
    },
    async stop() {
      await b.close();
      await a.close();
      await db.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
