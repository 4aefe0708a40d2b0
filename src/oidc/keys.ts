// Signing keys and cookie keys, generated on first start and kept in MongoDB so every instance uses the same.
//
// Signing keys: one ES256 key (the default ID token algorithm) and one RS256 key (for clients that ask for it)
// are active at a time. `rotate` adds a new pair in front (oidc-provider signs with the first key of an
// algorithm) and retires the old pair: it stays published in the JWKS until the tokens it signed have expired.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { JWK } from 'oidc-provider';
import { claim, type ExpiringDoc } from '../db/atomic.ts';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

interface KeyDoc {
  _id: string; // the kid
  alg: SigningAlg;
  jwk: JWK; // private
  createdAt: Date;
  retiredAt?: Date;
  /** Set when retired: after this the key is neither used nor published. */
  expiresAt?: Date;
}

export interface KeyInfo {
  kid: string;
  alg: SigningAlg;
  createdAt: Date;
  status: 'active' | 'retired';
  expiresAt?: Date;
}

/** Retired keys carry expiresAt, so the expiry manager removes them once their tokens are gone. */
export const SIGNING_KEYS = 'signing_keys';
const SECRETS = 'secrets';
const NEVER = new Date('9999-12-31T00:00:00Z');

function generateJwk(alg: SigningAlg): KeyDoc {
  const kid = randomBytes(12).toString('base64url');
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { _id: kid, alg, jwk, createdAt: new Date() };
}

export interface KeyStore {
  /** Private JWKs for oidc-provider, newest active first; creates the first pair when there is none. */
  loadJwks(): Promise<{ keys: JWK[] }>;
  /** Adds a new active pair and retires the current one, kept for `retainSeconds` (the longest token lifetime). */
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
      .sort((a, b) => Number(Boolean(a.retiredAt)) - Number(Boolean(b.retiredAt)) || b.createdAt.getTime() - a.createdAt.getTime());
  }

  async function addPair(): Promise<void> {
    await keys.insertMany(SIGNING_ALGS.map(generateJwk));
  }

  const info = (k: KeyDoc): KeyInfo => ({
    kid: k._id,
    alg: k.alg,
    createdAt: k.createdAt,
    status: k.retiredAt ? 'retired' : 'active',
    ...(k.expiresAt && { expiresAt: k.expiresAt }),
  });

  return {
    async loadJwks() {
      const complete = (docs: KeyDoc[]) => SIGNING_ALGS.every((alg) => docs.some((k) => k.alg === alg && !k.retiredAt));
      let current = await usable();
      if (complete(current)) return { keys: current.map((k) => k.jwk) };
      // First start: instances starting together must not each create a pair (each would then publish a JWKS
      // without the others' keys). One wins the claim and creates it; the rest wait for it.
      if (await claim(secrets, 'signing-keys-created', NEVER)) await addPair();
      current = await usable();
      for (let waited = 0; !complete(current); waited += 100) {
        if (waited > 10_000) throw new Error('signing keys were not created by the instance that claimed it');
        await new Promise((r) => setTimeout(r, 100));
        current = await usable();
      }
      return { keys: current.map((k) => k.jwk) };
    },

    async rotate(retainSeconds) {
      const active = (await usable()).filter((k) => !k.retiredAt);
      await addPair();
      const retiredAt = clock();
      const expiresAt = new Date(retiredAt.getTime() + retainSeconds * 1000);
      for (const k of active) await keys.updateOne({ _id: k._id }, { $set: { retiredAt, expiresAt } });
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
