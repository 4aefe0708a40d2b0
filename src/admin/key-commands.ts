// `npm run admin -- keys …`: the token signing keys and the cookie keys (oidc/keys.ts). A running server signs with
// the keys it loaded at start, so a rotation reaches each instance when it restarts; what every instance publishes
// (<issuer>/jwks, read from the database about once a second) changes at once.
import { isDevelopmentDataKey, type Config } from '../../config/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { COOKIE_KEYS_ID, COOKIE_KEYS_KEPT, createKeyStore, SIGNING_KEYS, type KeyInfo, type KeyStore } from '../oidc/keys.ts';
import { SECRETS } from '../db/secrets.ts';
import { publicJwk } from '../oidc/jwks-route.ts';
import type { JWK } from 'oidc-provider';
import { defineCommand, type Area } from './command.ts';
import { recordAdminChange } from './admin-audit.ts';
import { isoDate, table, type Output } from './output.ts';
import { isSealed, type SecretBox } from '../security/encryption.ts';
import { collectionName } from '../oidc/adapter.ts';
import type { mongo } from 'mongoose';
import { announceChange, changeSettled } from '../db/epoch-cache.ts';
import type { User } from '../accounts/user-model.ts';
import type { AdminSession } from './session.ts';

/**
 * The key store as the servers use it: the keys it makes and loads are sealed and opened with the servers' own
 * DATA_ENCRYPTION_KEY (checked before first use), so a shell with another key is refused rather than storing keys
 * no server can open. Listing the keys needs no key.
 */
async function keyStoreOf(session: AdminSession): Promise<KeyStore> {
  return createKeyStore(await session.connection(), { box: () => session.serversSecretBox() });
}

/** Instances not yet restarted keep signing with a retired key; this is how long they have to restart. */
export const RESTART_GRACE_SECONDS = 24 * 3600;

/**
 * How long a retired key stays published (and loaded): until the last token it signed has expired, counting tokens
 * signed by instances that restart up to a day late. ID tokens are always signed; access tokens are when they are
 * JWTs for an API audience. Refresh tokens are opaque. An ID token also serves after its expiry, as the
 * `id_token_hint` of a logout or a silent sign-in, for as long as the session it came from can last: its key must
 * still verify it then (RP-Initiated Logout §2).
 */
export function retentionSeconds(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken, config.ttl.session) + RESTART_GRACE_SECONDS;
}

function printKeys(out: Output, keys: KeyInfo[], headline?: string, data: unknown = keys): void {
  out.result(data, () => [
    ...(headline ? [headline] : []),
    ...table(
      ['KID', 'ALG', 'STATUS', 'CREATED', 'PUBLISHED UNTIL'],
      keys.map((k) => [k.kid, k.alg, k.status, isoDate(k.createdAt), k.expiresAt ? isoDate(k.expiresAt) : k.status === 'next' ? '(published; signs after rotate)' : '(while active)']),
      '(no keys yet: the server creates the first pair when it starts)',
    ),
  ]);
}

const rotate = defineCommand({
  name: 'rotate',
  summary: 'The published next pair starts signing, the active pair retires, and a new next pair is published.',
  details:
    'Retired keys stay published (so tokens they signed still verify) for the longest ID token or access token\n' +
    'lifetime (TTL_ID_TOKEN, TTL_ACCESS_TOKEN) plus a day for every instance to restart, then are dropped.\n' +
    'Safe to interrupt and run again: the switch is one write, so there is always exactly one active pair. A run\n' +
    'that finds the next pair incomplete (an earlier run was interrupted after its switch) only completes and\n' +
    'publishes it, and says so: keys sign only after they have been published.\n' +
    'Run it with the same environment as the server.',
  options: {},
  async run({ out, session }) {
    const retain = retentionSeconds(session.config());
    const result = await (await keyStoreOf(session)).rotate(retain);
    if (!result.switched) {
      await recordAdminChange(session, { type: 'keys.rotated', method: 'next_published', target: result.keys.filter((k) => k.status === 'next').map((k) => k.kid).join(',') });
      printKeys(out, result.keys, `No switch: the next pair was incomplete; it is now published. Generation ${result.generation} stays active.`, result.keys);
      out.note('note: an earlier rotation was interrupted after its switch, or a next key was revoked. Run `keys rotate` again to rotate.');
      return;
    }
    await recordAdminChange(session, { type: 'keys.rotated', target: result.keys.filter((k) => k.status === 'active').map((k) => k.kid).join(',') });
    printKeys(out, result.keys, `Signing keys rotated: generation ${result.generation} is active.`, result.keys);
    const retired = result.keys.some((k) => k.status === 'retired');
    out.note(
      'note: running instances pick up new signing keys on restart; until then they keep signing with the keys they loaded. ' +
        (retired ? `Restart every instance within a day: the retired keys stay published for ${retain} seconds.` : 'Restart every instance.'),
    );
  },
});

const revoke = defineCommand({
  name: 'revoke',
  arg: 'kid',
  summary: 'Emergency: stops publishing a compromised signing key at once and never loads it again.',
  details:
    'Every instance stops publishing the key within about a second. If the key is active, the next pair is\n' +
    'activated first; running instances keep signing with the keys they loaded at start, so restart every\n' +
    'instance right away (tokens the revoked key signed no longer verify anywhere).\n' +
    'A kid made before keys began with a letter may start with "-": give it after --, as in `keys revoke -- -AbC…`.',
  options: {},
  async run({ arg, out, session }) {
    const result = await (await keyStoreOf(session)).revoke(arg, retentionSeconds(session.config()));
    if (!result) throw new NotFoundError('key_not_found', `no signing key with kid '${arg}' (see \`npm run admin -- keys list\`)`);
    if (!result.alreadyRevoked) await recordAdminChange(session, { type: 'keys.revoked', target: arg });
    const headline = result.alreadyRevoked ? `Key ${arg} was already revoked.` : `Key ${arg} revoked: it is no longer published.`;
    printKeys(out, result.keys, headline, result);
    if (result.rotated) {
      out.note(
        'note: the key was active, so the next pair was activated first. RESTART EVERY INSTANCE NOW: running instances keep ' +
          'signing with the keys they loaded at start, and what the revoked key signs no longer verifies.',
      );
    }
    if (result.nextReplaced && !result.alreadyRevoked) {
      out.note('note: the key was a next key (published, not yet signing), so a new next pair is published in its place: `keys rotate` activates that one. No restart is needed.');
    }
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'Lists the signing keys a server starting now would load: active (signing), next (published), retired.',
  options: {},
  async run({ out, session }) {
    printKeys(out, await (await keyStoreOf(session)).list());
  },
});

const rotateCookie = defineCommand({
  name: 'rotate-cookie',
  summary: `Adds a new cookie signing key kept in MongoDB (first, so it signs) and keeps the ${COOKIE_KEYS_KEPT} newest.`,
  details:
    'Only for cookie keys kept in MongoDB: with COOKIE_KEYS set, change COOKIE_KEYS instead. Cookies signed with\n' +
    'a kept key still verify; cookies signed with a dropped key do not (their sessions must sign in again).\n' +
    'Run it with the same environment as the server.',
  options: {},
  async run({ out, session }) {
    if (session.config().cookieKeys?.length) {
      throw new ValidationError(
        'cookie_keys_configured',
        'COOKIE_KEYS is set, so the cookie keys in MongoDB are not used: change COOKIE_KEYS instead (put the new key first and keep the old ones after it)',
      );
    }
    const keys = await (await keyStoreOf(session)).rotateCookieKeys();
    await recordAdminChange(session, { type: 'keys.cookie_rotated' });
    // The keys are secrets: only how many there are is printed.
    out.result({ kept: keys.length }, () => [`Cookie keys rotated: ${keys.length} kept, the new one first.`]);
    out.note(
      'note: new cookies are signed with the new key once each instance restarts; until then instances keep signing ' +
        'with the keys they loaded, and cookies signed with any kept key still verify. Restart them all promptly: an ' +
        'instance not yet restarted does not know the new key, so cookies a restarted one signed fail there.',
    );
  },
});

/** What sealing one kind of secret again found. */
interface Resealing {
  resealed: number;
  current: number;
  /** Names of the secrets no configured key opens (left as they are). */
  unreadable: string[];
}

/**
 * Each secret of `found` sealed with the current key: those a previous key sealed, and those an earlier release
 * stored in clear (`inClear` tells them from a damaged value, reported as unreadable). `write` replaces only the
 * value that was read (so a secret replaced meanwhile, a seed enrolled, a password reset or a client secret rotated,
 * keeps its new value) and says whether it wrote. That holds on MongoDB; FerretDB has no atomic conditional update
 * (it is for development: README "Production notes").
 */
async function resealEach<T>(
  box: SecretBox,
  found: AsyncIterable<T>,
  {
    secretOf,
    inClear,
    nameOf,
    write,
  }: { secretOf: (item: T) => unknown; inClear: (stored: string) => boolean; nameOf: (item: T) => string; write: (item: T, stored: string, again: string) => Promise<boolean> },
): Promise<Resealing> {
  const result: Resealing = { resealed: 0, current: 0, unreadable: [] };
  for await (const item of found) {
    const stored = secretOf(item);
    if (typeof stored !== 'string') continue;
    const sealed = isSealed(stored);
    let again: string | undefined;
    try {
      if (!sealed && !inClear(stored)) throw new Error('neither sealed nor in clear: damaged');
      again = sealed ? box.reseal(stored) : box.seal(stored);
    } catch {
      result.unreadable.push(nameOf(item));
      continue;
    }
    if (!again) result.current += 1;
    else if (await write(item, stored, again)) result.resealed += 1;
  }
  return result;
}

/** Every kind of stored secret, sealed again (each a scan, once, by an administrator: the only lookups here not by _id). */
async function resealAll(db: mongo.Db, box: SecretBox): Promise<{ accounts: Resealing; clients: Resealing; keys: Resealing }> {
  const users = db.collection<Pick<User, '_id' | 'username' | 'passwordHash' | 'securityInfo'>>('users');
  const seeds = await resealEach(box, users.find({ 'securityInfo.authenticator.totpSecret': { $exists: true } }, { projection: { username: 1, 'securityInfo.authenticator': 1 } }), {
    secretOf: (user) => user.securityInfo?.authenticator?.totpSecret,
    inClear: () => false, // seeds were sealed from the first release
    nameOf: (user) => user.username,
    // Enrolment replaces the authenticator whole; the identity stays the first seal's, so a proof made with it stands.
    write: async (user, stored, again) =>
      (
        await users.updateOne(
          { _id: user._id, 'securityInfo.authenticator.totpSecret': stored },
          { $set: { 'securityInfo.authenticator.totpSecret': again, 'securityInfo.authenticator.identity': user.securityInfo?.authenticator?.identity ?? stored } },
        )
      ).modifiedCount > 0,
  });
  const passwords = await resealEach(box, users.find({ passwordHash: { $exists: true } }, { projection: { username: 1, passwordHash: 1 } }), {
    secretOf: (user) => user.passwordHash,
    inClear: (stored) => stored.startsWith('$argon2'),
    nameOf: (user) => `password of ${user.username}`,
    write: async (user, stored, again) => (await users.updateOne({ _id: user._id, passwordHash: stored }, { $set: { passwordHash: again } })).modifiedCount > 0,
  });
  const clientDocs = db.collection<{ _id: string; payload: { client_secret?: string } }>(collectionName('Client'));
  const clients = await resealEach(box, clientDocs.find({ 'payload.client_secret': { $exists: true } }, { projection: { 'payload.client_secret': 1 } }), {
    secretOf: (client) => client.payload.client_secret,
    inClear: () => true, // any string: client secrets were stored as they were made
    nameOf: (client) => `client ${client._id}`,
    write: async (client, stored, again) => (await clientDocs.updateOne({ _id: client._id, 'payload.client_secret': stored }, { $set: { 'payload.client_secret': again } })).modifiedCount > 0,
  });
  const accounts = { resealed: seeds.resealed + passwords.resealed, current: seeds.current + passwords.current, unreadable: [...seeds.unreadable, ...passwords.unreadable] };
  return { accounts, clients, keys: await resealKeys(db, box) };
}

/**
 * The private signing keys and the cookie keys kept in the database (oidc/keys.ts), sealed again; those an earlier
 * release stored in clear are sealed, and a signing key's document keeps only its public part beside it. A running
 * instance holds the keys it loaded at start: nothing to tell it.
 */
async function resealKeys(db: mongo.Db, box: SecretBox): Promise<Resealing> {
  const signingKeys = db.collection<{ _id: string; jwk: JWK; sealed?: string }>(SIGNING_KEYS);
  const signing = await resealEach(box, signingKeys.find({ jwk: { $exists: true } }), {
    secretOf: (doc) => doc.sealed ?? JSON.stringify(doc.jwk),
    inClear: (stored) => typeof (JSON.parse(stored) as JWK).d === 'string', // a private key: a public part alone is damage
    nameOf: (doc) => `signing key ${doc.jwk.kid}`,
    write: async (doc, stored, again) => {
      const unchanged = doc.sealed ? { sealed: stored } : { sealed: { $exists: false } };
      return (await signingKeys.updateOne({ _id: doc._id, ...unchanged }, { $set: { sealed: again, jwk: publicJwk(doc.jwk) } })).modifiedCount > 0;
    },
  });
  const secrets = db.collection<{ _id: string; keys?: string[]; sealed?: string }>(SECRETS);
  const cookies = await resealEach(box, secrets.find({ _id: COOKIE_KEYS_ID }), {
    secretOf: (doc) => doc.sealed ?? JSON.stringify(doc.keys),
    inClear: (stored) => Array.isArray(JSON.parse(stored)),
    nameOf: () => 'the cookie keys',
    write: async (doc, stored, again) => {
      const unchanged = doc.sealed ? { sealed: stored } : { sealed: { $exists: false } };
      return (await secrets.updateOne({ _id: doc._id, ...unchanged }, { $set: { sealed: again }, $unset: { keys: '' } })).modifiedCount > 0;
    },
  });
  return { resealed: signing.resealed + cookies.resealed, current: signing.current + cookies.current, unreadable: [...signing.unreadable, ...cookies.unreadable] };
}

const resealSecrets = defineCommand({
  name: 'reseal-secrets',
  summary:
    'Encrypts every stored authenticator secret, password hash, client secret, private signing key and cookie key again\n' +
    'with DATA_ENCRYPTION_KEY, after that key was changed; it also seals those an earlier release stored in clear.',
  details:
    'To change DATA_ENCRYPTION_KEY: give every instance the new key, with the old one in DATA_ENCRYPTION_KEY_PREVIOUS\n' +
    '(comma-separated, newest first), and restart them; run this with the same environment; then, a day later at the\n' +
    'soonest (messages waiting in the outbox, for up to a day, are not sealed again: only the old key opens them),\n' +
    'remove the old key from DATA_ENCRYPTION_KEY_PREVIOUS and restart again. Safe to run again: secrets the new key\n' +
    'sealed are left as they are. Codes already sent by text or email fail as wrong ones once the key changes (ask for\n' +
    'a new one). A secret no configured key opens is listed (an authenticator by its account, "password of\n' +
    '<account>", "client <id>", "signing key <kid>", "the cookie keys") and left alone; the command then exits 1.\n' +
    'The servers keep the signing and cookie keys they loaded at start: nothing else changes for them.',
  options: {},
  async run({ out, session }) {
    // Sealing everything again with the public development key would undo what the key is for, and leave every
    // server that has the real key unable to open a single seed.
    if (isDevelopmentDataKey(session.config().dataEncryptionKey)) {
      throw new ValidationError(
        'development_data_key',
        'DATA_ENCRYPTION_KEY is not set, so the secrets would be sealed with the public development key: run this with the new key in DATA_ENCRYPTION_KEY (and the old one in DATA_ENCRYPTION_KEY_PREVIOUS)',
      );
    }
    // Sealed with a key the servers lack, every secret would be lost to them at once.
    const box = await session.serversSecretBox();
    const connection = await session.connection();
    const { accounts, clients, keys } = await resealAll(connection.db!, box);
    const resealed = accounts.resealed + clients.resealed + keys.resealed;
    const current = accounts.current + clients.current + keys.current;
    const unreadable = [...accounts.unreadable, ...clients.unreadable, ...keys.unreadable];
    if (resealed > 0) {
      // Instances forget the accounts and clients they hold as they were (opened by the previous key, until it goes).
      if (accounts.resealed > 0) await announceChange(connection, 'accounts');
      if (clients.resealed > 0) await announceChange(connection, 'clients');
      await changeSettled();
      await recordAdminChange(session, { type: 'keys.secrets_resealed', target: String(resealed) });
    }
    out.result({ resealed, alreadyCurrent: current, unreadable }, () => [
      `Secrets sealed again with DATA_ENCRYPTION_KEY: ${resealed}; already sealed with it: ${current}.`,
      ...(unreadable.length ? [`Opened by no configured key (left as they are): ${unreadable.join(', ')}`] : []),
    ]);
    if (unreadable.length) {
      throw new ValidationError(
        'secrets_unreadable',
        `${unreadable.length} secret(s) open with neither DATA_ENCRYPTION_KEY nor DATA_ENCRYPTION_KEY_PREVIOUS: add the key that sealed them to DATA_ENCRYPTION_KEY_PREVIOUS, or enrol those authenticators again, set those passwords again (users set-password, or the owner's own reset) and rotate those clients' secrets (clients rotate-secret)`,
      );
    }
    // Only while there is an old key to let go of; the outbox's waiting messages keep it needed for up to a day.
    if (session.config().previousDataEncryptionKeys.length > 0) {
      out.note(
        'note: every stored secret is now sealed with DATA_ENCRYPTION_KEY. Messages waiting in the outbox (for up to a day) are still sealed with the old key: a day from now at the soonest, remove it from DATA_ENCRYPTION_KEY_PREVIOUS and restart the instances.',
      );
    }
  },
});

export const keysArea: Area = {
  name: 'keys',
  summary: 'Rotate, revoke and list the token signing keys; rotate the cookie keys; reseal stored secrets under a new data key',
  commands: [rotate, revoke, list, rotateCookie, resealSecrets],
};
