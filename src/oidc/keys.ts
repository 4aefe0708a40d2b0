// Signing keys and cookie keys, generated on first start and kept in MongoDB so every instance uses the same.
//
// Signing keys: one ES256 key (the default ID token algorithm) and one RS256 key (for clients that ask for it)
// sign at a time. Each key goes through three states:
//
//   next ──rotate──▶ active ──rotate──▶ retired ──(retention passed)──▶ removed
//
// Every instance publishes all three in its JWKS (oidc-provider signs with the first key of an algorithm, so
// active keys come first). Because the next pair is published long before it signs, an instance restarted after
// a rotation signs with a key every other instance already publishes; the retired pair stays published until the
// tokens it signed (also by instances not yet restarted) have expired.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { JWK } from 'oidc-provider';
import { claim, isDuplicateKey, type ExpiringDoc } from '../db/atomic.ts';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export type KeyState = 'next' | 'active' | 'retired';

interface KeyDoc {
  _id: string;
  alg: SigningAlg;
  jwk: JWK; // private; jwk.kid is the public key id
  state: KeyState;
  createdAt: Date;
  retiredAt?: Date;
  /** Set when retired: after this the key is neither used nor published. */
  expiresAt?: Date;
}

export interface KeyInfo {
  kid: string;
  alg: SigningAlg;
  createdAt: Date;
  status: KeyState;
  expiresAt?: Date;
}

/** Retired keys carry expiresAt, so the expiry manager removes them once their tokens are gone. */
export const SIGNING_KEYS = 'signing_keys';
const SECRETS = 'secrets';
const NEVER = new Date('9999-12-31T00:00:00Z');
const STATE_ORDER: Record<KeyState, number> = { active: 0, next: 1, retired: 2 };

function generateKey(alg: SigningAlg, state: KeyState, id?: string): KeyDoc {
  const kid = randomBytes(12).toString('base64url');
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { _id: id ?? kid, alg, jwk, state, createdAt: new Date() };
}

export interface KeyStore {
  /** Private JWKs for oidc-provider: active first, then next, then retired; creates the first keys if needed. */
  loadJwks(): Promise<{ keys: JWK[] }>;
  /** next → active, active → retired (kept `retainSeconds`), and a new next pair. */
  rotate(retainSeconds: number): Promise<KeyInfo[]>;
  list(): Promise<KeyInfo[]>;
  /** Cookie signing keys: from config when given, otherwise generated once and shared through MongoDB. */
  cookieKeys(configured: string[] | undefined): Promise<string[]>;
}

export function createKeyStore(connection: Connection, clock: () => Date = () => new Date()): KeyStore {
  const keys = connection.db!.collection<KeyDoc>(SIGNING_KEYS);
  const secrets = connection.db!.collection<ExpiringDoc>(SECRETS);

  // Rare path (start-up, admin): a full read of a collection that holds a handful of documents.
  async function usable(): Promise<KeyDoc[]> {
    const now = clock().getTime();
    const all = await keys.find({}).toArray();
    return all
      .filter((k) => !k.expiresAt || k.expiresAt.getTime() > now)
      .sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || b.createdAt.getTime() - a.createdAt.getTime());
  }

  const complete = (docs: KeyDoc[]) =>
    SIGNING_ALGS.every((alg) => (['active', 'next'] as const).every((state) => docs.some((k) => k.alg === alg && k.state === state)));

  /**
   * First start: the first keys have fixed document ids, so when instances start together the insert itself
   * decides: one inserts them all, the others' inserts fail as duplicates and they read the winner's keys.
   */
  async function createFirstKeys(): Promise<void> {
    const first = SIGNING_ALGS.flatMap((alg) => (['active', 'next'] as const).map((state) => generateKey(alg, state, `first-${alg}-${state}`)));
    try {
      await keys.insertMany(first, { ordered: true });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }

  const info = (k: KeyDoc): KeyInfo => ({
    kid: k.jwk.kid!,
    alg: k.alg,
    createdAt: k.createdAt,
    status: k.state,
    ...(k.expiresAt && { expiresAt: k.expiresAt }),
  });

  return {
    async loadJwks() {
      let current = await usable();
      if (!complete(current)) {
        await createFirstKeys();
        current = await usable();
      }
      // Another instance may be between the first and the last of its inserts: give it a moment.
      for (let waited = 0; !complete(current); waited += 100) {
        if (waited > 10_000) throw new Error('signing keys are incomplete: expected an active and a next key per algorithm');
        await new Promise((r) => setTimeout(r, 100));
        current = await usable();
      }
      return { keys: current.map((k) => k.jwk) };
    },

    async rotate(retainSeconds) {
      const current = await usable();
      if (!complete(current)) throw new Error('no keys to rotate yet: start the server once first');
      const retiredAt = clock();
      const expiresAt = new Date(retiredAt.getTime() + retainSeconds * 1000);
      // The new next pair is written first: if anything below fails, no key has changed its role yet.
      await keys.insertMany(SIGNING_ALGS.map((alg) => generateKey(alg, 'next')));
      for (const k of current.filter((k) => k.state === 'active')) {
        await keys.updateOne({ _id: k._id }, { $set: { state: 'retired', retiredAt, expiresAt } });
      }
      for (const k of current.filter((k) => k.state === 'next')) await keys.updateOne({ _id: k._id }, { $set: { state: 'active' } });
      return (await usable()).map(info);
    },

    async list() {
      return (await usable()).map(info);
    },

    async cookieKeys(configured) {
      if (configured?.length) return configured;
      // Every instance must sign with the same keys: the first to start creates them; the others read them.
      await claim(secrets, 'cookie-keys', NEVER, {
        keys: [randomBytes(32).toString('base64url')],
      });
      const doc = await secrets.findOne({ _id: 'cookie-keys' });
      return doc!.keys as string[];
    },
  };
}
