// argon2id password hashing. Passwords are NFKC-normalised (so the same text typed on different keyboards
// matches) and checked in full; the cost parameters live in config and rise over time (needsRehash).
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';

export interface Argon2Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

/** Longer inputs are refused before hashing, so a megabyte "password" cannot burn CPU. */
export const MAX_PASSWORD_CODE_POINTS = 1024;

export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

export function isTooLong(password: string): boolean {
  return [...password].length > MAX_PASSWORD_CODE_POINTS;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  needsRehash(hash: string): boolean;
  /** Spends the same time as a real verification, for accounts that do not exist. */
  verifyDummy(password: string): Promise<void>;
}

export async function createPasswordHasher(params: Argon2Params): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, ...params } as const;
  const dummyHash = await argon2.hash(randomBytes(16).toString('hex'), options);

  async function verify(hash: string, password: string): Promise<boolean> {
    if (isTooLong(password)) return false;
    try {
      return await argon2.verify(hash, normalizePassword(password));
    } catch {
      return false;
    }
  }

  return {
    hash: (password) => argon2.hash(normalizePassword(password), options),
    verify,
    needsRehash: (hash) => argon2.needsRehash(hash, options),
    async verifyDummy(password) {
      await verify(dummyHash, password);
    },
  };
}
