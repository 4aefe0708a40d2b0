// argon2id password hashing. Passwords are NFKC-normalised (so the same text typed on different keyboards
// matches) and checked in full; the cost parameters live in config and rise over time (`rehash`).
//
// Each hash is stored sealed with DATA_ENCRYPTION_KEY (security/encryption.ts), the keyed step NIST SP 800-63B-4
// §3.1.1.2 asks of verifiers, with a key kept outside the database: a copy of the database alone gives nothing to
// guess passwords against offline. Unlike a pepper mixed into argon2, a sealed hash can be sealed again under a new
// key without its password (`keys reseal-secrets`). A hash an earlier release stored in clear still verifies, until
// `keys reseal-secrets` seals it. A sign-in never moves a hash to another key: during a key change (or an upgrade)
// some instances may not have the new key yet, and only the administrator knows when all of them do.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { ServiceUnavailableError } from '../errors.ts';
import { boxWhenNeeded, isSealed, type SecretBoxSource } from '../security/encryption.ts';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** The longest password, in code points once normalised (as the rules measure it: password-rules.ts). */
export const MAX_PASSWORD_CODE_POINTS = 1024;

/**
 * Longer input (UTF-16 units, as typed) is refused before it is even normalised, so a megabyte "password" cannot
 * burn CPU. Far above the longest password: the same text typed decomposed (NFD: a letter and its accent apart) or
 * in characters outside the BMP takes several units per code point. The forms take no more.
 */
export const MAX_PASSWORD_INPUT_LENGTH = 4 * MAX_PASSWORD_CODE_POINTS;

export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * The password as hashed, or undefined when it is too long: measured after normalising, as the rules did when it was
 * set, so that a password they accepted signs in however it is typed (é as one code point or as e and an accent).
 */
function normalizedWithinLimits(password: string): string | undefined {
  if (password.length > MAX_PASSWORD_INPUT_LENGTH) return undefined;
  const normalized = normalizePassword(password);
  return [...normalized].length > MAX_PASSWORD_CODE_POINTS ? undefined : normalized;
}

/**
 * How much argon2 work may run at once. Each operation holds about `memoryCost` KiB (19 MiB by default) while it
 * runs, so a flood of password posts must queue instead of exhausting memory; past the queue they are refused.
 */
export interface PasswordWorkLimit {
  maxConcurrent: number;
  maxQueued: number;
}

export interface PasswordWorkStats {
  running: number;
  queued: number;
  /** The most operations that ever ran at once. */
  peakRunning: number;
  refused: number;
}

export interface PasswordHasher {
  /** What the work limit has seen (for tests and benchmarks). */
  stats(): PasswordWorkStats;
  /** The password's argon2id hash, sealed: what an account stores. */
  hash(password: string): Promise<string>;
  /** Whether `password` is the one `stored` was made from; UnreadableSecretError when no configured key opens it. */
  verify(stored: string, password: string): Promise<boolean>;
  /**
   * What to store in place of `stored` now that `password` was verified against it: a new hash when the argon2 cost
   * has risen since; undefined otherwise.
   */
  rehash(stored: string, password: string): Promise<string | undefined>;
  /** Spends the same time as a real verification, for accounts that do not exist. */
  verifyDummy(password: string): Promise<void>;
}

/** A counting semaphore with a bounded queue: at most `maxConcurrent` tasks run; the rest wait their turn. */
function workLimiter({ maxConcurrent, maxQueued }: PasswordWorkLimit) {
  const waiting: Array<() => void> = [];
  const stats: PasswordWorkStats = { running: 0, queued: 0, peakRunning: 0, refused: 0 };

  async function run<T>(task: () => Promise<T>): Promise<T> {
    if (stats.running < maxConcurrent) {
      stats.running += 1;
    } else {
      if (waiting.length >= maxQueued) {
        stats.refused += 1;
        throw new ServiceUnavailableError('password work queue is full');
      }
      // The task that finishes hands its place straight to us (see below): `running` already counts us.
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
    stats.peakRunning = Math.max(stats.peakRunning, stats.running);
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else stats.running -= 1;
    }
  }

  return { run, stats: () => ({ ...stats, queued: waiting.length }) };
}

export interface PasswordHasherOptions {
  /** Seals the hashes (configuredSecretBox); a function for the admin CLI, which reads the server's key when needed. */
  box: SecretBoxSource;
  limit?: PasswordWorkLimit;
}

export async function createPasswordHasher(
  params: Argon2Params,
  { box, limit = { maxConcurrent: availableParallelism(), maxQueued: 64 } }: PasswordHasherOptions,
): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, ...params } as const;
  const dummyHash = await argon2.hash(randomBytes(16).toString('hex'), options);
  const limiter = workLimiter(limit);
  const boxed = boxWhenNeeded(box);
  let sealedDummy: string | undefined; // sealed at first need, as the box may be

  const opened = async (stored: string) => (isSealed(stored) ? (await boxed()).open(stored) : stored);
  const hash = async (password: string) => {
    const plain = await limiter.run(() => argon2.hash(normalizePassword(password), options));
    return (await boxed()).seal(plain);
  };

  async function verify(stored: string, password: string): Promise<boolean> {
    const plain = await opened(stored); // an unreadable hash is the configuration's fault, not a wrong password
    const normalized = normalizedWithinLimits(password);
    if (normalized === undefined) return false;
    return limiter.run(async () => {
      try {
        return await argon2.verify(plain, normalized);
      } catch {
        return false;
      }
    });
  }

  return {
    stats: limiter.stats,
    hash,
    verify,
    rehash: async (stored, password) => (argon2.needsRehash(await opened(stored), options) ? hash(password) : undefined),
    async verifyDummy(password) {
      sealedDummy ??= (await boxed()).seal(dummyHash);
      await verify(sealedDummy, password);
    },
  };
}
