// oidc-provider's storage seam, on MongoDB. One collection per model (`oidc_<model>`), documents
// `{ _id: <id>, payload, expiresAt?, grantId? }` with string ids.
//
// Storage rules (README, "Storage rules"):
// - every read and write on the sign-in path filters by `_id` alone; lookups by session `uid` or device `userCode`
//   go through `_id`-keyed alias documents written before the document they point at. A session's alias
//   (`uid:<uid>`) lives in the sessions' own collection, so both are written by one ordered bulk write;
// - `consume` is decided by a claim (unique `_id` insert), so two racing redemptions of one code cannot both win;
// - expiry is enforced on read; db/expiry.ts removes expired documents;
// - within one request a document is read once (db/request-scope.ts): the library reads the interaction, the
//   session and the client several times per request. Writes, consumes and revocations update or forget the copy;
// - deletes of sessions and interactions wait for the end of the request, so that the library's usual next step
//   (saving the session under its new id, or the next interaction) takes them along in one bulk write;
// - a token value whose length belongs to another kind is not looked up (oidc/token-ids.ts);
// - an interaction's session is read by the id in the browser's session cookie when that session has the uid
//   asked for (one read instead of alias + session); the alias is the fallback;
// - keys a database may refuse as field names (the dots of a resource URL) are escaped (db/field-names.ts).
import { clientForProvider } from './client-secret.ts';
import type { SecretBox } from '../security/encryption.ts';
import { errors, type Adapter, type AdapterPayload } from 'oidc-provider';
import type { Connection, mongo } from 'mongoose';
import { claim, upsertRetryingDuplicateKey, type ExpiringDoc } from '../db/atomic.ts';
import { escapeFieldNames, unescapeFieldNames } from '../db/field-names.ts';
import { defer, forget, forgetAll, peek, remember, remembered, takeDeferred } from '../db/request-scope.ts';
import { SESSION_COOKIE_HINT } from './session-hint.ts';
import { isOtherKindsId } from './token-ids.ts';
import type { EpochCache } from '../db/epoch-cache.ts';

type Collection<T extends mongo.Document> = mongo.Collection<T>;

export const MODELS = [
  'Session',
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'ClientCredentials',
  'Client',
  'InitialAccessToken',
  'RegistrationAccessToken',
  'Interaction',
  'ReplayDetection',
  'PushedAuthorizationRequest',
  'Grant',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
] as const;

/** Models whose payload has a grantId, so revokeByGrantId can remove them. */
const GRANT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);
/** Models whose deletes wait for the request's next write to their collection (or its end). */
const DEFERRED_DELETES = new Set(['Session', 'Interaction']);
/**
 * Models checked against their account on every read (introspection reads tokens without findAccount): a token by
 * its own issue time, and its grant by the grant's. The grant's check is what holds when an instance still trusting
 * its cached account (the moments before it hears of a revocation) rotates an old refresh token or redeems an old
 * code: the new token is issued after the revocation, but its grant was not, and the library reads the grant at
 * every refresh, code exchange, userinfo and introspection, so the new token dies with the old grant even where the
 * deletion passes miss it (an account index entry lost to a race).
 */
const ACCOUNT_BOUND = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'Grant']);

/** A proof or assertion id stored already: a replay, which ReplayDetection.unique() answers with false. */
export class ReplayedError extends Error {
  override name = 'ReplayedError';
}

export function collectionName(model: string): string {
  return `oidc_${model.replace(/(?<=[a-z])(?=[A-Z])/g, '_').toLowerCase()}`;
}

/** A session's alias document, in the sessions' collection: `uid:<uid>` → the session's current id. */
export const sessionAliasId = (uid: string) => `uid:${uid}`;
/**
 * Where session aliases were kept before they moved in with the sessions: still read (after the new place) so
 * sessions stored before the upgrade keep working for their lifetime, then unused; remove in a later release.
 */
export const LEGACY_UID_ALIASES = 'oidc_session_uid';
/** Alias collections map a secondary key to the `_id` of the document it names. */
const USER_CODE_ALIASES = 'oidc_device_user_code';
/** Claims that mark a code or token as consumed (one winner per id). */
const CONSUMED = 'oidc_consumed';
/**
 * Per-account index: the ids of an account's sessions and grants, so that revoking its access (oidc/revocation.ts)
 * finds them without scanning. Kept as `account:<accountId>` documents in the sessions' and in the grants'
 * collections, so each entry is written in the same round trip as the session or grant it names (one bulk write).
 * Entries written before that live in LEGACY_ACCOUNT_INDEX (`_id` = account id), still read and cleaned by
 * revocation; remove in a later release.
 */
export const LEGACY_ACCOUNT_INDEX = 'oidc_account_index';
export const accountIndexId = (accountId: string) => `account:${accountId}`;

export interface AccountIndexDoc {
  _id: string;
  /** Session uids (which stay when a session's id changes); entries written before uids were used are session ids. */
  sessions?: string[];
  grants?: string[];
}

/** Every document that may hold index entries for `accountId`. */
export function accountIndexPlaces(db: NonNullable<Connection['db']>, accountId: string): Array<{ collection: Collection<AccountIndexDoc>; id: string }> {
  return [
    { collection: db.collection<AccountIndexDoc>(collectionName('Session')), id: accountIndexId(accountId) },
    { collection: db.collection<AccountIndexDoc>(collectionName('Grant')), id: accountIndexId(accountId) },
    { collection: db.collection<AccountIndexDoc>(LEGACY_ACCOUNT_INDEX), id: accountId },
  ];
}

/** Every collection the adapter writes that carries `expiresAt` (for db/expiry.ts). */
export const ADAPTER_COLLECTIONS = [...MODELS.map(collectionName), LEGACY_UID_ALIASES, USER_CODE_ALIASES, CONSUMED];

interface StoredDoc {
  _id: string;
  payload: AdapterPayload;
  expiresAt?: Date;
  grantId?: string;
  /** A session's: when its sign-in checked the password (to the millisecond), under which revocation, from which browser. */
  signedInAtMs?: number;
  signedInUnderMs?: number;
  signedInFrom?: string;
  signedInDevice?: string;
  /** A session's: when it was last saved, which the provider does at every request that uses it ("last used"). */
  lastUsedAtMs?: number;
}

/** A sign-in as the session saved for it keeps it: when its password was checked, under which revocation, from which browser. */
export interface SignInFacts {
  /** When its sign-in checked the password, to the millisecond (`loginTs` has whole seconds). */
  signedInAtMs: number;
  /**
   * The account's revocation that password check read it under (users.ts `revocationMsOf`): a revocation's second
   * pass keeps the session only if this is that revocation or a later one, whatever the clocks say.
   */
  signedInUnderMs?: number;
  /** The User-Agent header of the browser that signed in (http/user-agent.ts keptUserAgent). */
  signedInFrom?: string;
  /** The nonce of that browser's device cookie (accounts/lockout.ts), which ending the session forgets. */
  signedInDevice?: string;
}

const SIGN_IN_FACTS = ['signedInAtMs', 'signedInUnderMs', 'signedInFrom', 'signedInDevice'] as const satisfies readonly (keyof SignInFacts)[];

const resumedSignInKey = (accountId: string) => `resumed-sign-in:${accountId}`;

/**
 * For the session this request saves: its sign-in of `accountId` checked the password at `signedInAtMs`, under the
 * revocation `signedInUnderMs`, from the browser `signedInFrom` (oidc/account.ts, on the request that resumes the
 * sign-in). A revocation's second pass keeps a session signed in since it (oidc/revocation.ts); "Your sessions and
 * apps" shows when and where (oidc/account-access.ts).
 */
export function rememberSignIn(accountId: string, facts: SignInFacts): void {
  remember(resumedSignInKey(accountId), facts);
}

interface AliasDoc {
  _id: string;
  target: string;
  expiresAt?: Date;
}

/**
 * A session is added to its account's index on its saves in the first minutes after sign-in (its id changes at
 * sign-in and stays afterwards), not on every save of every request. A lost index entry (two writes of one
 * account's index racing on a server without atomic $addToSet) of something made before a revocation leaves only
 * storage behind until it expires: the account's older sessions are refused by their sign-in time
 * (oidc/account.ts), its older grants, and everything issued under them, by the grant's issue time
 * (ACCOUNT_BOUND). What is left: a grant that an instance not yet told of a revocation makes for an old session
 * in the two seconds after it carries a later issue time, and the second pass finds it only through this index; if
 * its entry is lost in that same moment, it lives until it expires.
 */
const SESSION_INDEX_WINDOW_SECONDS = 600;

export interface AdapterOptions {
  /** Now, in milliseconds (tests move it). */
  clock?: () => number;
  /**
   * Whether a token or grant issued at `issuedAt` (seconds) for this account may still be used: the account is
   * active and its access was not revoked since. Tokens and grants that fail it read as absent, so introspection,
   * refresh, userinfo and code exchange all refuse them.
   */
  isAccessCurrent?: (accountId: string, issuedAt: number) => Promise<boolean>;
  /** Where registered clients are read from (db/epoch-cache.ts); without it, from the database every time. */
  clientCache?: EpochCache;
  /** Opens the clients' sealed secrets (oidc/client-secret.ts); without it, they are given as they are stored. */
  clientSecrets?: SecretBox;
  /** Told of a client whose secret no configured key opens (its authentication then fails: clientForProvider). */
  onUnreadableClientSecret?: (clientId: string) => void;
}

/** The grants a session's payload holds, one per application signed in to in it. */
export const grantIdsOf = (payload: { authorizations?: unknown } | undefined): string[] =>
  Object.values((payload?.authorizations ?? {}) as Record<string, { grantId?: unknown }>).flatMap(({ grantId }) => (typeof grantId === 'string' ? [grantId] : []));

/**
 * Everything issued under a grant, and the grant itself (reuse detection, RFC 9700 §4.14.2; account revocation);
 * true when this call removed the grant.
 */
export async function revokeGrant(db: NonNullable<Connection['db']>, grantId: string): Promise<boolean> {
  for (const model of GRANT_BOUND) await db.collection<StoredDoc>(collectionName(model)).deleteMany({ grantId });
  const { deletedCount } = await db.collection<StoredDoc>(collectionName('Grant')).deleteOne({ _id: grantId });
  await forgetAll();
  return deletedCount === 1; // this call removed the grant (of two at once, one does)
}

// A consumed marker outlives any single-use artefact it protects (codes live seconds, refresh tokens days); the
// consumed flag in the payload itself keeps answering after the marker is swept.
const CONSUMED_MARKER_SECONDS = 24 * 3600;

export function createAdapterFactory(
  connection: Connection,
  { clock = Date.now, isAccessCurrent, clientCache, clientSecrets, onUnreadableClientSecret }: AdapterOptions = {},
): (model: string) => Adapter {
  const db = connection.db!;
  const consumed = db.collection<ExpiringDoc>(CONSUMED);
  /**
   * A session's sign-in as this request read or wrote it, by uid (its id changes at each resume: resetIdentifier):
   * whose it is, and what the sign-in's facts were.
   */
  const sessionSignInKey = (uid: string) => `session-sign-in:${uid}`;
  /** Marks a grant this request stored (created or changed), as against one it only read. */
  const grantWrittenKey = (grantId: string) => `grant-written:${grantId}`;
  interface SessionSignIn extends Partial<SignInFacts> {
    accountId?: unknown;
    loginTs?: unknown;
  }
  /** The sign-in facts a session document or a request holds, without the ones it lacks. */
  const signInFactsOf = (from: Partial<SignInFacts>): Partial<SignInFacts> =>
    Object.fromEntries(SIGN_IN_FACTS.filter((fact) => from[fact] !== undefined).map((fact) => [fact, from[fact]]));
  const sessionSignInOf = (doc: Pick<StoredDoc, 'payload' | keyof SignInFacts>): SessionSignIn => ({
    accountId: doc.payload.accountId,
    loginTs: doc.payload.loginTs,
    ...signInFactsOf(doc),
  });

  /**
   * The facts of the sign-in of the session being saved: this request's resumed sign-in of its account, else what
   * the session held before, as long as it is the same sign-in. None for sessions from before they were kept (their
   * `loginTs` then decides, in whole seconds).
   */
  async function sessionSignInFacts(uid: string, payload: AdapterPayload): Promise<Partial<SignInFacts>> {
    if (typeof payload.accountId !== 'string') return {};
    const resumed = await peek<SignInFacts>(resumedSignInKey(payload.accountId));
    if (resumed !== undefined) return signInFactsOf(resumed);
    const before = await peek<SessionSignIn>(sessionSignInKey(uid));
    if (!before || before.accountId !== payload.accountId || before.loginTs !== payload.loginTs) return {};
    return signInFactsOf(before);
  }

  /** The session's uid or the grant's id for its account's index (in the same bulk write), when it needs adding. */
  async function accountIndexEntry(model: string, id: string, payload: AdapterPayload): Promise<mongo.AnyBulkWriteOperation<{ _id: string }> | undefined> {
    if (typeof payload.accountId !== 'string') return undefined;
    const add = (field: 'grants' | 'sessions', value: string) => ({
      updateOne: { filter: { _id: accountIndexId(payload.accountId as string) }, update: { $addToSet: { [field]: value } }, upsert: true },
    });
    if (model === 'Grant') return add('grants', id);
    if (model === 'Session' && typeof payload.uid === 'string' && (payload.loginTs ?? 0) * 1000 > clock() - SESSION_INDEX_WINDOW_SECONDS * 1000) {
      // Indexed when it signs in; a save of a session this request already knew signed in (its id changing
      // after consent, say) has its uid in the index already.
      if ((await peek<SessionSignIn>(sessionSignInKey(payload.uid)))?.accountId === payload.accountId) return undefined;
      return add('sessions', payload.uid);
    }
    return undefined;
  }

  return (model: string): Adapter => {
    const docs = db.collection<StoredDoc>(collectionName(model));
    // Device codes keep their userCode aliases apart; session aliases live in `docs` itself.
    const aliasCollection = model === 'Session' ? LEGACY_UID_ALIASES : model === 'DeviceCode' ? USER_CODE_ALIASES : undefined;
    const aliases = aliasCollection ? db.collection<AliasDoc>(aliasCollection) : undefined;
    const sessionAliases = db.collection<AliasDoc>(collectionName('Session'));

    const isLive = (doc: { expiresAt?: Date } | null): boolean => Boolean(doc) && (!doc!.expiresAt || doc!.expiresAt.getTime() > clock());

    const docKey = (id: string) => `${model}:${id}`;
    const deletePrefix = `delete:${collectionName(model)}:`;
    /**
     * Deletes this request put off (DEFERRED_DELETES), for a write to take along; never the id being written. A bulk
     * write sends each kind of operation as its own command, so they go as updates: the document is replaced by an
     * expired tombstone, which reads as absent at once and which the sweeper removes (db/expiry.ts).
     */
    const deferDelete = (id: string) => defer(`${deletePrefix}${id}`, () => docs.deleteOne({ _id: id }));
    /**
     * `writes` (each an upsert, or a replacement by _id), then the deletes put off, in one round trip. True when
     * every replacement without upsert found its document, and every document put off was still there to be replaced
     * by its tombstone: none was deleted meanwhile by someone else.
     */
    async function writeWithDeletes(writtenId: string, writes: Array<mongo.AnyBulkWriteOperation<{ _id: string }>>): Promise<boolean> {
      const taken = DEFERRED_DELETES.has(model) ? takeDeferred(deletePrefix).filter((id) => id !== writtenId) : [];
      const tombstones = taken.map((id) => ({ replaceOne: { filter: { _id: id }, replacement: { expiresAt: new Date(0) } } }));
      let result: mongo.BulkWriteResult;
      try {
        // Every operation is an upsert or a replacement by _id, so the batch may run again: two first saves at once
        // that both create the account's index entry (two sign-ins of one account) would otherwise fail one of them.
        result = await upsertRetryingDuplicateKey(() => db.collection<{ _id: string }>(collectionName(model)).bulkWrite([...writes, ...tombstones], { ordered: true }));
      } catch (error) {
        for (const id of taken) await deferDelete(id); // still owed: tried again at the end of the request
        throw error;
      }
      return result.matchedCount + result.upsertedCount >= writes.length + taken.length;
    }
    const aliasKey = (key: string) => `${aliasCollection}:${key}`;

    async function find(id: string): Promise<AdapterPayload | undefined> {
      // Introspection looks a value up as three kinds at once; its length rules two of them out (oidc/token-ids.ts).
      if (isOtherKindsId(model, id)) return undefined;
      const read = () => docs.findOne({ _id: id });
      const doc = model === 'Client' && clientCache ? await clientCache.find(id, read) : await remembered(docKey(id), read);
      // Documents without a payload share some collections (aliases, account index entries, tombstones): never a model.
      if (!doc || !isLive(doc) || !doc.payload) return undefined;
      if (model === 'Session' && typeof doc.payload.uid === 'string') {
        remember(sessionSignInKey(doc.payload.uid), sessionSignInOf(doc));
      }
      const { accountId, iat } = doc.payload;
      if (isAccessCurrent && ACCOUNT_BOUND.has(model) && typeof accountId === 'string') {
        if (!(await isAccessCurrent(accountId, iat ?? 0))) return undefined;
      }
      // Opened for each read: the cache holds what the database holds (oidc-provider keeps its client objects).
      if (model === 'Client' && clientSecrets) return clientForProvider(clientSecrets, unescapeFieldNames(doc.payload), () => onUnreadableClientSecret?.(id));
      return unescapeFieldNames(doc.payload);
    }

    /**
     * A session ended while this request held it: what the request stored for it is removed at once, as the ending
     * meant. Its save under a new id (a resume) and the alias written with it; and the grants this request stored for
     * it (a first-party application's, created or widened on the spot), which the ending could not see, not yet being
     * named by the session it read, and with which the code this request issued could still be redeemed.
     */
    async function endedMeanwhile(id: string, aliasId: string, payload: AdapterPayload): Promise<void> {
      await docs.deleteOne({ _id: id });
      await docs.deleteOne({ _id: aliasId });
      remember(docKey(id), null);
      forget(docKey(aliasId));
      for (const grantId of grantIdsOf(payload)) if (await peek(grantWrittenKey(grantId))) await revokeGrant(db, grantId);
    }

    async function findByAlias(key: string, field: 'uid' | 'userCode'): Promise<AdapterPayload | undefined> {
      if (model === 'Session') {
        // The browser's session cookie names the session this request is about. It is only a hint (anyone can send
        // any cookie): its session counts only when its uid is the one asked for; otherwise the alias decides.
        const hinted = await peek<string>(SESSION_COOKIE_HINT);
        if (hinted) {
          const payload = await find(hinted);
          if (payload?.uid === key) return payload;
        }
      }
      let alias = model === 'Session' ? await remembered(docKey(sessionAliasId(key)), () => sessionAliases.findOne({ _id: sessionAliasId(key) })) : null;
      alias ??= await remembered(aliasKey(key), () => aliases!.findOne({ _id: key }));
      if (!alias || !isLive(alias)) return undefined;
      const payload = await find(alias.target);
      // The alias may be stale (its target was re-saved under a new id and the old one destroyed).
      return payload && payload[field] === key ? payload : undefined;
    }

    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number) {
        const expiresAt = expiresIn ? new Date(clock() + expiresIn * 1000) : undefined;
        if (model === 'ReplayDetection') {
          // The library's ReplayDetection.unique() is find-then-save, so two parallel uses of one DPoP proof or
          // client assertion would both pass. The insert decides instead: only the first use of an id is stored;
          // the rest are replays, which unique() answers as such (provider.ts answerReplaysAsSuch).
          const fresh = await claim(db.collection<ExpiringDoc>(collectionName(model)), id, expiresAt ?? new Date(clock() + 3600_000), { payload });
          if (!fresh) throw new ReplayedError();
          return;
        }
        // Keyed by a resource URL or a client id with dots, some payloads need their keys escaped (db/field-names.ts).
        const doc: Omit<StoredDoc, '_id'> = { payload: escapeFieldNames(payload), ...(expiresAt && { expiresAt }) };
        if (GRANT_BOUND.has(model) && payload.grantId) doc.grantId = payload.grantId;
        const indexEntry = await accountIndexEntry(model, id, payload);
        const indexed = indexEntry ? [indexEntry] : [];
        if (model === 'Session' && typeof payload.uid === 'string') {
          Object.assign(doc, await sessionSignInFacts(payload.uid, payload), { lastUsedAtMs: clock() });
          // The alias first, in the same round trip: a session is never stored without the alias that finds it.
          const aliasId = sessionAliasId(payload.uid);
          const alias = { target: id, ...(expiresAt && { expiresAt }) };
          // oidc-provider saves a session at the end of every request that loaded it. One this request read is written
          // back only over itself: deleted meanwhile (its owner signed that browser out on "Your sessions and apps", a
          // revocation), it stays deleted, however many of that browser's requests are under way. Only a session this
          // request did not read (a sign-in's, under a fresh id) is created.
          const readHere = (await peek<Partial<StoredDoc> | null>(docKey(id)))?.payload !== undefined;
          // The session's old id (resetIdentifier, at every resume of a sign-in) goes last: never deleted before its
          // successor is stored.
          const stillThere = await writeWithDeletes(id, [
            ...indexed,
            { replaceOne: { filter: { _id: aliasId }, replacement: alias, upsert: true } },
            { replaceOne: { filter: { _id: id }, replacement: doc, upsert: !readHere } },
          ]);
          // The session this request read, under this id or its old one, was deleted meanwhile (Sign out on "Your
          // sessions and apps", a revocation): what this request stored for it must not bring it back.
          if (!stillThere) return endedMeanwhile(id, aliasId, payload);
          remember(docKey(aliasId), { _id: aliasId, ...alias });
          remember(sessionSignInKey(payload.uid), sessionSignInOf(doc));
        } else {
          if (aliases && model === 'DeviceCode' && payload.userCode) {
            const alias = { target: id, ...(expiresAt && { expiresAt }) };
            await aliases.replaceOne({ _id: payload.userCode }, alias, { upsert: true });
            remember(aliasKey(payload.userCode), { _id: payload.userCode, ...alias });
          }
          await writeWithDeletes(id, [...indexed, { replaceOne: { filter: { _id: id }, replacement: doc, upsert: true } }]);
          if (model === 'Grant') remember(grantWrittenKey(id), true);
        }
        remember(docKey(id), { _id: id, ...doc });
        if (model === 'Client') clientCache?.clear();
      },

      find,

      findByUid: (uid: string) => findByAlias(uid, 'uid'),

      findByUserCode: (userCode: string) => findByAlias(userCode, 'userCode'),

      async consume(id: string) {
        forget(docKey(id));
        const won = await claim(consumed, `${model}:${id}`, new Date(clock() + CONSUMED_MARKER_SECONDS * 1000));
        if (!won) {
          // Two redemptions raced: the library saw the code or token unconsumed in both, so its own reuse detection
          // did not run for this one. It is a replay all the same: revoke everything issued under the grant.
          const doc = await docs.findOne({ _id: id });
          if (doc?.payload.grantId) await revokeGrant(db, doc.payload.grantId);
          throw new errors.InvalidGrant(`${model} already consumed`);
        }
        // The claim decided. A refresh token also carries the flag in its payload, which introspection and later
        // finds report; an authorization code does not need it: a second redemption loses the claim above, which
        // revokes the grant all the same.
        if (model !== 'AuthorizationCode') await docs.updateOne({ _id: id }, { $set: { 'payload.consumed': Math.floor(clock() / 1000) } });
      },

      async destroy(id: string) {
        remember(docKey(id), null);
        if (DEFERRED_DELETES.has(model)) await deferDelete(id);
        else await docs.deleteOne({ _id: id });
        if (model === 'Client') clientCache?.clear();
      },

      async revokeByGrantId(grantId: string) {
        // Rare path (reuse detection, logout, revocation): a filter on grantId is acceptable here.
        await docs.deleteMany({ grantId });
        await forgetAll();
      },
    };
  };
}

/** Indexes that keep the rare non-`_id` paths bounded on MongoDB. */
export async function createAdapterIndexes(connection: Connection): Promise<void> {
  const db = connection.db!;
  for (const model of GRANT_BOUND) {
    await db.collection(collectionName(model)).createIndex({ grantId: 1 }, { sparse: true, name: 'grantId' });
  }
}
