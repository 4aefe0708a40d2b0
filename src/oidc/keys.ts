// Signing keys and cookie keys, generated on first start and kept in MongoDB so every instance uses the same.
//
// Signing keys come in generations: generation N is one RS256 key (the default ID token algorithm) and one ES256
// key (for clients registered for it), stored with fixed ids `g<N>-<alg>`. The active generation is the highest N
// for which an activation document `activate-<N>` exists; that document is inserted with `claim`, so switching the
// active generation is one atomic write and no reader ever sees zero or two active pairs:
//
//   next (N > active) ──activate-N inserted──▶ active ──activate of a later N──▶ retired ──(retention)──▶ removed
//
// A rotation first makes sure the next generation exists (idempotent inserts, duplicates ignored), then inserts the
// activation, then marks what has become unpublishable with `expiresAt` (for the sweeper) and publishes a new next
// generation. Every step can be interrupted and the command rerun. A rotation only switches to a next pair that was
// already complete when it started, so keys are published before they sign; a rerun after an interruption past the
// switch therefore only completes the new next pair.
//
// A retired generation stays published until its successor's activation time plus the retention the rotating
// command stored on that activation (long enough for the tokens it signed to expire). A revoked key (`revoked-<kid>`,
// also a claim) is never loaded or published again; a generation with a revoked key is never activated ("spoiled"),
// so a key id is never reused for other key material.
//
// Databases from before generations hold keys in the old shape (`state: next|active|retired`, ids = kid or
// `first-<alg>-<state>`). They are migrated on first load, idempotently: the active pair is copied (same kids) into
// generation 1 and the next pair into generation 2; old retired keys are kept and read as they are until their own
// expiresAt; the copied and unused old documents get expiresAt now.
//
// Private keys are stored sealed with DATA_ENCRYPTION_KEY (security/encryption.ts), which the database never holds,
// beside their public part: a copy of the database alone can neither sign tokens nor sign cookies. Keys an earlier
// release stored in clear are read as they are until `keys reseal-secrets` seals them (so is a key the migration
// above copies); the cookie keys kept here (when COOKIE_KEYS is not set) likewise.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import type { JWK } from 'oidc-provider';
import { claim, isDuplicateKey, NEVER_EXPIRES, type ExpiringDoc } from '../db/atomic.ts';
import { boxWhenNeeded, type SecretBox, type SecretBoxSource } from '../security/encryption.ts';
import { publicJwk } from './jwks-route.ts';
import { SECRETS } from '../db/secrets.ts';

export const SIGNING_ALGS = ['ES256', 'RS256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export type KeyState = 'next' | 'active' | 'retired';

type KeyDoc = {
  _id: string;
  /** Absent on keys written before generations (the old shape, with `state`). */
  gen?: number;
  alg: SigningAlg;
  /** The public key (jwk.kid is its id); the private one too in a key stored before keys were sealed. */
  jwk: JWK;
  /** The private JWK, sealed (see the top of this file); absent only on a key stored in clear. */
  sealed?: string;
  createdAt: Date;
  /** For the sweeper; readers decide what is published from the activations, not from this. */
  expiresAt?: Date;
  /** Old shape only. */
  state?: KeyState;
};

interface ActivationDoc {
  _id: string;
  gen: number;
  at: Date;
  /** How long the generation this one replaced stays published after `at`. */
  retainSeconds: number;
  expiresAt: Date;
}

interface RevocationDoc {
  _id: string;
  kid: string;
  gen?: number;
  at: Date;
  expiresAt: Date;
}

type StoredDoc = KeyDoc | ActivationDoc | RevocationDoc;
interface AnyDoc {
  _id: string;
  [field: string]: unknown;
}

export interface KeyInfo {
  kid: string;
  alg: SigningAlg;
  createdAt: Date;
  status: KeyState;
  generation?: number;
  /** Retired keys: published until then. */
  expiresAt?: Date;
}

export interface RotateResult {
  /** False when the next pair was incomplete: it was completed and published, and nothing switched. */
  switched: boolean;
  generation: number;
  keys: KeyInfo[];
}

export interface RevokeResult {
  kid: string;
  /** The key was active: the next pair was activated first. */
  rotated: boolean;
  /** The key was a next key (published, not yet signing): a new next pair took its pair's place. */
  nextReplaced: boolean;
  /** An earlier run had revoked it already (this run finished what was left). */
  alreadyRevoked: boolean;
  keys: KeyInfo[];
}

export interface KeyStoreOptions {
  /**
   * Seals the private keys it stores and opens them to load: asked for before the first write of anything that may
   * store a key (a first start, a rotation, a revocation, a cookie key), never by `list` or `published`.
   */
  box: SecretBoxSource;
  /**
   * Called by `loadJwks` before it may seal a key, where no stored key shows which key is right (an empty database,
   * or keys an earlier release stored in clear): throws for a key other than the servers' (security/data-key-check.ts).
   * Keys sealed by another key would stop every rightly configured instance from starting.
   */
  beforeSealing?: () => Promise<void>;
  /** Called after every write of a first start, rotation or revocation; tests throw here to interrupt. */
  afterStep?: (step: string) => void | Promise<void>;
}

/** Expired documents are removed by the expiry manager (TTL index or sweeper). */
export const SIGNING_KEYS = 'signing_keys';
const STATE_ORDER: Record<KeyState, number> = { active: 0, next: 1, retired: 2 };
/** Cookie keys kept in MongoDB after a rotation, newest first: cookies signed with older ones stop verifying. */
export const COOKIE_KEYS_KEPT = 3;
/** The document of `secrets` that holds them (when COOKIE_KEYS is not set). */
export const COOKIE_KEYS_ID = 'cookie-keys';

const keyId = (gen: number, alg: SigningAlg) => `g${gen}-${alg}`;
const activationId = (gen: number) => `activate-${gen}`;
const revocationId = (kid: string) => `revoked-${kid}`;
const isActivation = (d: StoredDoc): d is ActivationDoc => d._id.startsWith('activate-') && !('jwk' in d);
const isRevocation = (d: StoredDoc): d is RevocationDoc => d._id.startsWith('revoked-') && !('jwk' in d);
const isKey = (d: StoredDoc): d is KeyDoc => 'jwk' in d;

/** A private JWK as it is stored: its public part, and the whole sealed. */
const sealedKey = (box: SecretBox, privateKey: JWK) => ({ jwk: publicJwk(privateKey), sealed: box.seal(JSON.stringify(privateKey)) });

/** The private JWK of a stored key: opened (or UnreadableSecretError naming it), or as stored in clear by an earlier release. */
function privateJwkOf(box: SecretBox, doc: KeyDoc): JWK {
  return doc.sealed ? (JSON.parse(box.open(doc.sealed, `signing key ${doc.jwk.kid}`)) as JWK) : doc.jwk;
}

function generateKey(box: SecretBox, alg: SigningAlg, gen: number): KeyDoc {
  // An operator types a kid as a command's argument (`keys revoke <kid>`): one starting with "-" would read as an
  // option, so every kid starts with a letter.
  const kid = `k${randomBytes(12).toString('base64url')}`;
  const { privateKey } =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { _id: keyId(gen, alg), gen, alg, ...sealedKey(box, jwk), createdAt: new Date() };
}

/** A superseded generation is published until its successor's activation plus the retention stored on it. */
function retiredUntil(activations: ActivationDoc[], gen: number): Date | undefined {
  const successor = activations.find((a) => a.gen > gen);
  return successor && new Date(successor.at.getTime() + successor.retainSeconds * 1000);
}

interface Entry {
  doc: KeyDoc;
  status: KeyState;
  publishedUntil?: Date;
}

/** What the collection says at one moment. */
interface Snapshot {
  now: Date;
  /** The highest activated generation; undefined before the first start (or the migration) has finished. */
  active?: number;
  activations: ActivationDoc[];
  /** Every key document, expired, revoked or not. */
  keyDocs: KeyDoc[];
  revoked: Map<string, RevocationDoc>;
  /** Loaded and published, in the order oidc-provider needs: it signs with the first key of an algorithm. */
  entries: Entry[];
  /** The generation the next rotation activates: the lowest above the active one without a revoked key. */
  next: number;
}

export interface KeyStore {
  /** Private JWKs for oidc-provider: active first, then next, then retired; creates the first keys if needed. */
  loadJwks(): Promise<{ keys: JWK[] }>;
  /** Public JWKs of every key published now, and the revoked kids (for the JWKS route). */
  published(): Promise<{ keys: JWK[]; revoked: ReadonlySet<string> }>;
  /**
   * The next pair becomes active; the active pair stays published `retainSeconds` from now. `urgent` switches even
   * to a next pair created by this very call (revocation of an active key cannot wait).
   */
  rotate(retainSeconds: number, options?: { urgent?: boolean }): Promise<RotateResult>;
  /** Removes a key from publication for good (rotating first when it is active); undefined for an unknown kid. */
  revoke(kid: string, retainSeconds: number): Promise<RevokeResult | undefined>;
  list(): Promise<KeyInfo[]>;
  /** Cookie signing keys: from config when given, otherwise generated once and shared through MongoDB. */
  cookieKeys(configured: string[] | undefined): Promise<string[]>;
  /** Prepends a new random cookie key to those kept in MongoDB and keeps the newest COOKIE_KEYS_KEPT. */
  rotateCookieKeys(): Promise<string[]>;
}

export function createKeyStore(connection: Connection, options: KeyStoreOptions, clock: () => Date = () => new Date()): KeyStore {
  const box = boxWhenNeeded(options.box);
  const docs = connection.db!.collection<AnyDoc>(SIGNING_KEYS);
  const claims = connection.db!.collection<ExpiringDoc>(SIGNING_KEYS);
  const secrets = connection.db!.collection<ExpiringDoc>(SECRETS);
  const step = async (name: string) => options.afterStep?.(name);

  // Rare paths (start-up, admin) and the JWKS route once a second: a full read of a collection that holds a
  // handful of documents (keys of a few generations, recent activations, revocation markers).
  async function read(): Promise<Snapshot> {
    const now = clock();
    const all = (await docs.find({}).toArray()) as unknown as StoredDoc[];
    const live = (d: { expiresAt?: Date }) => !d.expiresAt || d.expiresAt.getTime() > now.getTime();
    // Activations count whether expired or not: only superseded ones get an expiresAt, set no earlier than the end
    // of their own generation's publication.
    const activations = all.filter(isActivation).sort((a, b) => a.gen - b.gen);
    const revoked = new Map(all.filter(isRevocation).map((r) => [r.kid, r]));
    const keyDocs = all.filter(isKey);
    const active = activations.at(-1)?.gen;
    const spoiled = new Set([...revoked.values()].flatMap((r) => (r.gen === undefined ? [] : [r.gen])));
    const generationKids = new Set(keyDocs.filter((k) => k.gen !== undefined).map((k) => k.jwk.kid));

    const classify = (doc: KeyDoc): Entry | undefined => {
      if (doc.gen === undefined) {
        // Before the migration the old shape is read as it was; after it only its retired keys still count.
        if (active === undefined) return { doc, status: doc.state ?? 'retired', publishedUntil: doc.expiresAt };
        if (doc.state !== 'retired' || generationKids.has(doc.jwk.kid)) return undefined;
        return { doc, status: 'retired', publishedUntil: doc.expiresAt };
      }
      if (doc.gen === active) return { doc, status: 'active' };
      if (doc.gen > (active ?? 0)) return spoiled.has(doc.gen) ? undefined : { doc, status: 'next' };
      // Below the active generation only what was activated once is retired; a spoiled next never was.
      if (!activations.some((a) => a.gen === doc.gen)) return undefined;
      const until = retiredUntil(activations, doc.gen);
      return until && until > now ? { doc, status: 'retired', publishedUntil: until } : undefined;
    };
    const entries = keyDocs
      .filter((k) => live(k) && !revoked.has(k.jwk.kid!))
      .flatMap((k) => classify(k) ?? [])
      .sort(
        (a, b) =>
          STATE_ORDER[a.status] - STATE_ORDER[b.status] ||
          (b.doc.gen ?? -1) - (a.doc.gen ?? -1) ||
          SIGNING_ALGS.indexOf(a.doc.alg) - SIGNING_ALGS.indexOf(b.doc.alg) ||
          b.doc.createdAt.getTime() - a.doc.createdAt.getTime(),
      )
      // While a migration is under way a kid is in both shapes: list it once.
      .filter((e, index, all) => all.findIndex((o) => o.doc.jwk.kid === e.doc.jwk.kid) === index);
    let next = (active ?? 0) + 1;
    while (spoiled.has(next)) next += 1;
    return { now, active, activations, keyDocs, revoked, entries, next };
  }

  const complete = (s: Snapshot, gen: number | undefined) =>
    gen !== undefined && SIGNING_ALGS.every((alg) => s.entries.some((e) => e.doc.gen === gen && e.doc.alg === alg));

  /**
   * The old shape's next pair while a migration is under way (live, not yet copied into a generation): whoever
   * completes the next generation then copies it, as the migrating instance would, rather than making new keys that
   * would win the insert race against the migration's copy.
   */
  function uncopiedOldNext(s: Snapshot): Partial<Record<SigningAlg, KeyDoc>> {
    const copied = new Set(s.keyDocs.filter((k) => k.gen !== undefined).map((k) => k.jwk.kid));
    const live = (k: KeyDoc) => (!k.expiresAt || k.expiresAt.getTime() > s.now.getTime()) && !s.revoked.has(k.jwk.kid!);
    const waiting = (k: KeyDoc) => k.gen === undefined && k.state === 'next' && !copied.has(k.jwk.kid) && live(k);
    const sources: Partial<Record<SigningAlg, KeyDoc>> = {};
    for (const alg of SIGNING_ALGS) {
      const newest = s.keyDocs.filter((k) => k.alg === alg && waiting(k)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime()).at(-1);
      if (newest) sources[alg] = newest;
    }
    return sources;
  }

  /** A key's stored form for its copy into a generation: sealed as it is copied, if it was stored in clear. */
  const copyOf = async (source: KeyDoc) => (source.sealed ? { jwk: source.jwk, sealed: source.sealed } : sealedKey(await box(), source.jwk));

  /**
   * Inserts the missing keys of a generation, copied from `sources` or else new; a duplicate means a racer inserted
   * it first, and its key counts.
   */
  async function ensureGeneration(s: Snapshot, gen: number, sources: Partial<Record<SigningAlg, KeyDoc>> = uncopiedOldNext(s)): Promise<void> {
    for (const alg of SIGNING_ALGS) {
      if (s.keyDocs.some((k) => k.gen === gen && k.alg === alg)) continue;
      const source = sources[alg];
      const doc = source ? { _id: keyId(gen, alg), gen, alg, ...(await copyOf(source)), createdAt: source.createdAt } : generateKey(await box(), alg, gen);
      try {
        await docs.insertOne(doc);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      await step(`insert ${doc._id}`);
    }
  }

  /** The one write that switches the active generation. */
  async function activate(gen: number, retainSeconds: number): Promise<boolean> {
    const won = await claim(claims, activationId(gen), NEVER_EXPIRES, { gen, at: clock(), retainSeconds });
    await step(`insert ${activationId(gen)}`);
    return won;
  }

  /**
   * Gives every document that is no longer published an expiresAt, so the expiry manager removes it. Readers do
   * not depend on it (they compute what is published), so an interruption here loses nothing.
   */
  async function markExpired(s: Snapshot): Promise<void> {
    const published = new Map(s.entries.map((e) => [e.doc, e]));
    for (const doc of s.keyDocs) {
      const entry = published.get(doc);
      if (entry && entry.status !== 'retired') continue;
      const until = entry ? entry.publishedUntil : s.now;
      if (!until || (doc.expiresAt && doc.expiresAt.getTime() <= until.getTime())) continue;
      await docs.updateOne({ _id: doc._id }, { $set: { expiresAt: until } });
      await step(`expire ${doc._id}`);
    }
    // An activation is needed while the generation it replaced or its own is published; the active one for good.
    for (const activation of s.activations) {
      if (activation.gen === s.active || activation.expiresAt.getTime() !== NEVER_EXPIRES.getTime()) continue;
      const replacedUntil = activation.at.getTime() + activation.retainSeconds * 1000;
      const ownUntil = retiredUntil(s.activations, activation.gen)?.getTime() ?? replacedUntil;
      await docs.updateOne({ _id: activation._id }, { $set: { expiresAt: new Date(Math.max(replacedUntil, ownUntil)) } });
      await step(`expire ${activation._id}`);
    }
  }

  /**
   * First start, or migration of the old shape. Several instances may run it at once: every key has a fixed id
   * and is inserted before the activation, so all of them end with the same, complete set.
   */
  async function initialize(s: Snapshot): Promise<void> {
    const old = s.entries.filter((e) => e.doc.gen === undefined).map((e) => e.doc);
    const byAge = (alg: SigningAlg, state: KeyState) =>
      old.filter((k) => k.alg === alg && k.state === state).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const first: Partial<Record<SigningAlg, KeyDoc>> = {};
    for (const alg of SIGNING_ALGS) {
      // An old rotation interrupted after retiring the active key left only next keys: the oldest was due to sign.
      first[alg] = byAge(alg, 'active').at(-1) ?? byAge(alg, 'next')[0];
    }
    await ensureGeneration(s, s.next, first);
    await activate(s.next, 0);
    // The next generation takes the newest old next key of each algorithm not copied just now (uncopiedOldNext).
    const after = await read();
    await ensureGeneration(after, after.next);
    await markExpired(await read());
  }

  /** The current snapshot, with the first keys created (or the old shape migrated) when there is no activation. */
  async function prepare(createIfEmpty: boolean): Promise<Snapshot & { active: number }> {
    let s = await read();
    if (s.active === undefined) {
      if (!createIfEmpty && s.keyDocs.length === 0) throw new Error('no keys to rotate yet: start the server once first');
      await initialize(s);
      s = await read();
    }
    const { active } = s;
    if (active === undefined) throw new Error('signing keys: no generation could be activated');
    return { ...s, active };
  }

  const info = ({ doc, status, publishedUntil }: Entry): KeyInfo => ({
    kid: doc.jwk.kid!,
    alg: doc.alg,
    createdAt: doc.createdAt,
    status,
    ...(doc.gen !== undefined && { generation: doc.gen }),
    ...(status === 'retired' && publishedUntil && { expiresAt: publishedUntil }),
  });

  async function rotate(retainSeconds: number, { urgent = false } = {}): Promise<RotateResult> {
    await box(); // the key that will seal the new pair is checked before the switch is written
    let s: Snapshot = await prepare(false);
    const target = s.next;
    if (!complete(s, target)) {
      await ensureGeneration(s, target);
      // Keys that nobody has published yet sign only when there is no choice: the active pair is unusable or revoked.
      if (!urgent && complete(s, s.active)) {
        s = await read();
        return { switched: false, generation: s.active!, keys: s.entries.map(info) };
      }
    }
    await activate(target, retainSeconds);
    await markExpired(await read());
    s = await read();
    await ensureGeneration(s, s.next);
    s = await read();
    return { switched: true, generation: s.active!, keys: s.entries.map(info) };
  }

  /** The cookie keys as stored: sealed, or (by an earlier release) in clear. */
  async function storedCookieKeys(): Promise<string[]> {
    const doc = await secrets.findOne({ _id: COOKIE_KEYS_ID });
    if (typeof doc?.sealed !== 'string') return doc!.keys as string[];
    // Unreadable, the way out is COOKIE_KEYS (every session signs in again), or the key that sealed them.
    return JSON.parse((await box()).open(doc.sealed, 'the list of cookie keys kept in the database (set COOKIE_KEYS to start without it)')) as string[];
  }

  async function cookieKeys(configured: string[] | undefined): Promise<string[]> {
    if (configured?.length) return configured;
    // Every instance must sign with the same keys: the first to start creates them; the others read them.
    await claim(secrets, COOKIE_KEYS_ID, NEVER_EXPIRES, { sealed: (await box()).seal(JSON.stringify([randomBytes(32).toString('base64url')])) });
    return storedCookieKeys();
  }

  return {
    async loadJwks() {
      // Before anything is written: a key that cannot open what is stored must not add keys of its own beside it.
      const opener = await box();
      const before = await read();
      for (const { doc } of before.entries) privateJwkOf(opener, doc);
      // Keys that opened vouch for the key; without one (an empty database, keys in clear), the servers' check does.
      if (!before.entries.some(({ doc }) => doc.sealed)) await options.beforeSealing?.();
      let s: Snapshot = await prepare(true);
      if (!complete(s, s.active)) {
        throw new Error(`signing keys: generation ${s.active} lacks a usable key per algorithm; run \`npm run admin -- keys rotate\``);
      }
      // A first start or a rotation interrupted before its new next pair: publish one now, ahead of its use.
      if (!complete(s, s.next)) {
        await ensureGeneration(s, s.next);
        s = await prepare(true);
      }
      return { keys: s.entries.map((e) => privateJwkOf(opener, e.doc)) };
    },

    async published() {
      const s = await read();
      return { keys: s.entries.map((e) => publicJwk(e.doc.jwk)), revoked: new Set(s.revoked.keys()) };
    },

    rotate,

    async revoke(kid, retainSeconds) {
      await box(); // as for rotate: a revocation may rotate and publish a new pair
      let s: Snapshot = await prepare(false);
      const stored = s.keyDocs.filter((k) => k.jwk.kid === kid);
      const earlier = s.revoked.has(kid);
      if (stored.length === 0 && !earlier) return undefined;
      const rotated = s.entries.some((e) => e.doc.jwk.kid === kid && e.status === 'active');
      const wasNext = s.entries.some((e) => e.doc.jwk.kid === kid && e.status === 'next');
      if (rotated) await rotate(retainSeconds, { urgent: true });
      // The marker first: from then on no reader loads or publishes the key, whatever happens to its documents.
      const gen = stored.find((k) => k.gen !== undefined)?.gen;
      await claim(claims, revocationId(kid), NEVER_EXPIRES, { kid, at: clock(), ...(gen !== undefined && { gen }) });
      await step(`insert ${revocationId(kid)}`);
      for (const doc of stored) {
        await docs.deleteOne({ _id: doc._id });
        await step(`delete ${doc._id}`);
      }
      // A revoked next key spoils its generation: publish a complete next pair now, well before it signs.
      s = await read();
      if (!complete(s, s.next)) await ensureGeneration(s, s.next);
      s = await read();
      return { kid, rotated, nextReplaced: wasNext, alreadyRevoked: earlier && stored.length === 0, keys: s.entries.map(info) };
    },

    async list() {
      return (await read()).entries.map(info);
    },

    cookieKeys,

    async rotateCookieKeys() {
      const current = await cookieKeys(undefined);
      const keys = [randomBytes(32).toString('base64url'), ...current].slice(0, COOKIE_KEYS_KEPT);
      // A plain write by _id (it decides nothing); FerretDB ignores $push's $position and $slice, so the list is
      // computed here. Two rotations at the same instant may keep only one of their new keys, which is harmless.
      await secrets.updateOne({ _id: COOKIE_KEYS_ID }, { $set: { sealed: (await box()).seal(JSON.stringify(keys)) }, $unset: { keys: '' } });
      return keys;
    },
  };
}
