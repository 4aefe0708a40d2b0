// An account's sessions and the applications it gave access to, as its owner sees and ends them on "Your sessions
// and apps" (flows/account-sessions.ts; ASVS 7.5.2), and as revocation (revocation.ts) finds them: through the
// account's `_id`-keyed index documents (oidc/adapter.ts), never by scanning.
//
// Ending a session deletes it and its alias (an alias where aliases lived before, LEGACY_UID_ALIASES, is left to
// expire: it names a session that no longer exists), and revokes the grants it holds: the applications signed in from that
// browser lose their tokens with it (a lost laptop must not keep an application's refresh token), and the browser's
// device cookie is forgotten (its password tries count for the account again, as a stranger's). A request of that
// browser already under way saves the session it read at its end, but only over itself, and a resume's save under a
// new id is removed again when the old id is gone (oidc/adapter.ts): a deleted session stays deleted. The same is
// done again a few seconds later (IN_FLIGHT_MS) by the instance that ended it, for a sign-in no newer, should an
// instance that writes sessions back regardless (an older version, during an upgrade) have saved it again (a restart
// in between loses that second pass). Removing an application revokes every grant of the account for it, those the
// index names and those its live sessions hold (an index entry may be lost to a race on FerretDB): its tokens stop
// working at once, and its next sign-in asks for consent again. Sessions are read from the database at every
// request, and tokens and grants likewise, so both hold at once on every instance without anything to tell them.
import type { Connection } from 'mongoose';
import { setTimeout } from 'node:timers/promises';
import type { User } from '../accounts/user-model.ts';
import { detached } from '../db/request-scope.ts';
import { describeUserAgent, type BrowserDescription } from '../http/user-agent.ts';
import { accountIndexPlaces, collectionName, grantIdsOf, LEGACY_UID_ALIASES, revokeGrant, sessionAliasId, type AccountIndexDoc } from './adapter.ts';

type Db = NonNullable<Connection['db']>;

/** A session, or (same collection) a session's alias `uid:<uid>` naming its current id. */
export interface SessionDoc {
  _id: string;
  payload?: { accountId?: string; uid?: string; loginTs?: number; authorizations?: Record<string, { grantId?: string }> };
  expiresAt?: Date;
  /** When its sign-in checked the password, to the millisecond, under which revocation, from which browser (oidc/adapter.ts). */
  signedInAtMs?: number;
  signedInUnderMs?: number;
  signedInFrom?: string;
  signedInDevice?: string;
  /** When it was last saved: the provider saves a session at every request that uses it. */
  lastUsedAtMs?: number;
  target?: string;
}

interface GrantDoc {
  _id: string;
  payload?: { accountId?: string; clientId?: string; iat?: number };
  expiresAt?: Date;
}

/** What the account's index documents name: session uids (older entries: session ids) and grant ids. */
export interface AccountIndex {
  places: ReturnType<typeof accountIndexPlaces>;
  /** Each place's document, or null (same order as `places`). */
  entries: Array<AccountIndexDoc | null>;
  sessionKeys: string[];
  grantIds: string[];
}

/** Oldest first: the legacy place's entries (the last place) before the others', each place's in the order added. */
export async function readAccountIndex(db: Db, accountId: string): Promise<AccountIndex> {
  const places = accountIndexPlaces(db, accountId);
  const entries = await Promise.all(places.map(({ collection, id }) => collection.findOne({ _id: id })));
  const oldestFirst = [...entries].reverse();
  return {
    places,
    entries,
    sessionKeys: [...new Set(oldestFirst.flatMap((entry) => entry?.sessions ?? []))],
    grantIds: [...new Set(oldestFirst.flatMap((entry) => entry?.grants ?? []))],
  };
}

/** An index entry's session (by its uid's alias; an older entry is the session's id itself) and that alias. */
export async function findIndexedSession(db: Db, key: string): Promise<{ id: string; alias: SessionDoc | null; session: SessionDoc | null }> {
  const sessions = db.collection<SessionDoc>(collectionName('Session'));
  const alias = await sessions.findOne({ _id: sessionAliasId(key) });
  const id = alias?.target ?? key;
  return { id, alias, session: await sessions.findOne({ _id: id }) };
}

/** A session by its uid: through its alias, where aliases live now or where they lived before (LEGACY_UID_ALIASES). */
async function findSessionByUid(db: Db, uid: string): Promise<{ id: string; alias: SessionDoc | null; session: SessionDoc | null } | undefined> {
  const sessions = db.collection<SessionDoc>(collectionName('Session'));
  const alias = (await sessions.findOne({ _id: sessionAliasId(uid) })) ?? (await db.collection<SessionDoc>(LEGACY_UID_ALIASES).findOne({ _id: uid }));
  if (!alias?.target) return undefined;
  const session = await sessions.findOne({ _id: alias.target });
  // Only the session that alias was written for (an alias may outlive its session's change of id).
  return { id: alias.target, alias: alias._id === sessionAliasId(uid) ? alias : null, session: session?.payload?.uid === uid ? session : null };
}

/** Deletes a session found through its index entry, and its alias; true when this call removed the session. */
export async function deleteIndexedSession(db: Db, { id, alias }: { id: string; alias: SessionDoc | null }): Promise<boolean> {
  const sessions = db.collection<SessionDoc>(collectionName('Session'));
  const { deletedCount } = await sessions.deleteOne({ _id: id });
  if (alias) await sessions.deleteOne({ _id: alias._id });
  return deletedCount === 1;
}

/** When a session's sign-in checked the password, to the millisecond (whole seconds for sessions from before). */
const signedInAtMsOf = (session: SessionDoc) => session.signedInAtMs ?? (session.payload?.loginTs ?? 0) * 1000;

/** The grants a session holds, one per application it signed in to. */
export const grantsHeldBy = (session: SessionDoc | null): string[] => grantIdsOf(session?.payload);

/** A session of the account as its owner sees it. */
export interface SessionView {
  /** The session's uid: what the page's forms name (never its id, which is the browser's cookie). */
  uid: string;
  signedInAt: Date;
  /** When a request last used it (absent for sessions stored before this was kept). */
  lastUsedAt?: Date;
  from: BrowserDescription;
  /** The session in the browser looking at the page. */
  current: boolean;
  /** The applications signed in to from it, by name. */
  apps: string[];
}

/** An application the account gave access to. */
export interface AppView {
  clientId: string;
  name: string;
  /** Its oldest grant still in force. */
  since: Date;
}

/** The account as the page sees it: its id, and the time its access was last revoked (older things are dead). */
export type AccessOwner = Pick<User, '_id' | 'revokedAt'>;

export interface AccountAccess {
  /**
   * The account's live sessions (this browser's first, then the newest) and the applications it gave access to.
   * `partial`: the account's history is longer than one page reads, so older ones may be missing.
   */
  list(owner: AccessOwner, currentSessionId?: string): Promise<{ sessions: SessionView[]; apps: AppView[]; partial: boolean }>;
  /** Ends the account's session `uid` and revokes its grants; false when the account has no such live session. */
  endSession(owner: AccessOwner, uid: string): Promise<boolean>;
  /** Revokes every grant of the account for `clientId`; false when it held none. */
  removeApp(owner: AccessOwner, clientId: string): Promise<boolean>;
}

/**
 * The page lists at most this many live sessions, and as many grants. The index keeps the entries of ended and
 * expired ones until a revocation prunes it, so it reads the newest first, past the dead ones (a sign-in and its
 * sign-out leave one behind: someone with the password must not hide their session behind a few hundred of them),
 * up to SCANNED_ENTRIES of each kind, and says so when it stopped short: the page stays a bounded number of reads
 * whatever the account's history. Removing an application reads every entry.
 */
const LISTED_ENTRIES = 200;
const SCANNED_ENTRIES = 2_000;
/** Index entries read between two looks at how many live ones were found. */
const SCAN_CHUNK = 64;
/** Reads at once: enough to be quick, few enough not to flood the database with one page's reads. */
const READS_AT_ONCE = 16;
/** Longer than any request takes: one that read an ended session before it ended has saved it by then. */
export const IN_FLIGHT_MS = 5_000;

/**
 * What `liveOf` finds among the newest of `keys` (oldest first, as the index keeps them), read newest first until
 * LISTED_ENTRIES are found or SCANNED_ENTRIES were read, the newest first; `more`: some were left out (unread, or
 * past LISTED_ENTRIES).
 */
async function newestLive<T>(keys: string[], liveOf: (keys: string[]) => Promise<T[]>): Promise<{ found: T[]; more: boolean }> {
  const found: T[] = [];
  const oldestRead = Math.max(0, keys.length - SCANNED_ENTRIES);
  let end = keys.length;
  while (end > oldestRead && found.length < LISTED_ENTRIES) {
    const start = Math.max(oldestRead, end - SCAN_CHUNK);
    found.push(...(await liveOf(keys.slice(start, end))).reverse());
    end = start;
  }
  return { found: found.slice(0, LISTED_ENTRIES), more: end > 0 || found.length > LISTED_ENTRIES };
}

/** `read` of every item, at most READS_AT_ONCE at a time, in order. */
async function readAll<T, R>(items: T[], read: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += READS_AT_ONCE) results.push(...(await Promise.all(items.slice(i, i + READS_AT_ONCE).map(read))));
  return results;
}

type LiveGrant = GrantDoc & { payload: { clientId: string } };

export interface AccountAccessOptions {
  clock?: () => number;
  onError?: (error: unknown) => void;
  /**
   * Forgets the device cookie the ended session's browser signed in with (accounts/lockout.ts forgetDevice): a lost
   * laptop keeps no sign-in budget of its own either, whose guesses would neither lock the account nor be told.
   */
  forgetDevice?: (accountId: string, nonce: string) => Promise<void>;
}

export function createAccountAccess(connection: Connection, { clock = Date.now, onError, forgetDevice }: AccountAccessOptions = {}): AccountAccess {
  const db = connection.db!;
  const grants = db.collection<GrantDoc>(collectionName('Grant'));
  const clients = db.collection<{ _id: string; payload?: { client_name?: string } }>(collectionName('Client'));

  const revokedAtSeconds = (owner: AccessOwner) => (owner.revokedAt ? Math.floor(new Date(owner.revokedAt).getTime() / 1000) : 0);
  const isLive = (doc: { expiresAt?: Date } | null) => Boolean(doc) && (!doc!.expiresAt || doc!.expiresAt.getTime() > clock());

  /** Whether `session` is one of the account's live sessions: signed in to it, not expired, not revoked since. */
  const isOwnLive = (owner: AccessOwner, session: SessionDoc | null) =>
    isLive(session) && session!.payload?.accountId === owner._id && (session!.payload.loginTs ?? 0) >= revokedAtSeconds(owner);

  /** The account's live sessions among those the index names. */
  async function liveSessions(owner: AccessOwner, keys: string[]) {
    const found = await readAll(keys, async (key) => ({ key, ...(await findIndexedSession(db, key)) }));
    return found.filter(({ session }) => isOwnLive(owner, session));
  }

  /** The account's live grants among `grantIds`, each with its application. */
  async function liveGrants(owner: AccessOwner, grantIds: string[]): Promise<LiveGrant[]> {
    const found = await readAll([...new Set(grantIds)], (id) => grants.findOne({ _id: id }));
    return found.filter((grant): grant is LiveGrant => isLive(grant) && grant!.payload?.accountId === owner._id && typeof grant!.payload.clientId === 'string' && (grant!.payload.iat ?? 0) >= revokedAtSeconds(owner));
  }

  async function appNames(clientIds: string[]): Promise<Map<string, string>> {
    return new Map(await readAll(clientIds, async (id) => [id, (await clients.findOne({ _id: id }))?.payload?.client_name || id] as const));
  }

  /**
   * Ends the account's session `uid` and revokes the grants it holds, if it is one of its live sessions (and, given
   * `signedInBy`, signed in by then: a sign-in since is someone's new one). True when this call removed it: of two
   * at once (a double click), one does.
   */
  async function endOnce(owner: AccessOwner, uid: string, signedInBy?: number): Promise<boolean> {
    const found = await findSessionByUid(db, uid);
    // Only one of this account's own sessions: the form's uid is the browser's to write.
    if (!found || !isOwnLive(owner, found.session)) return false;
    if (signedInBy !== undefined && signedInAtMsOf(found.session!) > signedInBy) return false;
    // The device first: should that write fail, the session is still there to end again (a mark for a session that
    // then survives costs its browser only its own budget).
    if (found.session!.signedInDevice && forgetDevice) await forgetDevice(owner._id, found.session!.signedInDevice);
    const ended = await deleteIndexedSession(db, found);
    for (const grantId of grantsHeldBy(found.session)) await revokeGrant(db, grantId);
    return ended;
  }

  return {
    async list(owner, currentSessionId) {
      const index = await readAccountIndex(db, owner._id);
      const { found: sessions, more: moreSessions } = await newestLive(index.sessionKeys, (keys) => liveSessions(owner, keys));
      const indexed = await newestLive(index.grantIds, (ids) => liveGrants(owner, ids));
      // And those the listed sessions hold, should the index have missed one (a race on FerretDB).
      const listed = new Set(indexed.found.map((grant) => grant._id));
      const live = [...indexed.found, ...(await liveGrants(owner, sessions.flatMap(({ session }) => grantsHeldBy(session)).filter((id) => !listed.has(id))))];
      const clientOf = new Map(live.map((grant) => [grant._id, grant.payload.clientId]));
      const names = await appNames([...new Set(clientOf.values())]);
      const sessionViews = sessions.map(({ id, session }): SessionView => ({
        uid: session!.payload!.uid!,
        signedInAt: new Date(signedInAtMsOf(session!)),
        ...(session!.lastUsedAtMs !== undefined && { lastUsedAt: new Date(session!.lastUsedAtMs) }),
        from: describeUserAgent(session!.signedInFrom),
        current: id === currentSessionId,
        // Only the applications it still holds a live grant for (not one whose access was removed).
        apps: grantsHeldBy(session).flatMap((grantId) => (clientOf.has(grantId) ? [names.get(clientOf.get(grantId)!)!] : [])),
      }));
      sessionViews.sort((a, b) => Number(b.current) - Number(a.current) || b.signedInAt.getTime() - a.signedInAt.getTime());
      const since = new Map<string, number>();
      for (const { payload } of live) since.set(payload.clientId, Math.min(since.get(payload.clientId) ?? Infinity, payload.iat ?? 0));
      const apps = [...since].map(([clientId, iat]): AppView => ({ clientId, name: names.get(clientId)!, since: new Date(iat * 1000) }));
      apps.sort((a, b) => a.name.localeCompare(b.name));
      return { sessions: sessionViews, apps, partial: moreSessions || indexed.more };
    },

    async endSession(owner, uid) {
      const endedAt = clock();
      const ended = await endOnce(owner, uid);
      if (ended) {
        // Once more when every request that read the session before has saved what it had (by an older version's
        // adapter, which wrote sessions back regardless).
        void detached(() =>
          setTimeout(IN_FLIGHT_MS, undefined, { ref: false })
            .then(() => connection.readyState === 1 && endOnce(owner, uid, endedAt)) // not after the server has closed
            .catch((error: unknown) => onError?.(error)),
        );
      }
      return ended;
    },

    async removeApp(owner, clientId) {
      const index = await readAccountIndex(db, owner._id);
      const sessions = await liveSessions(owner, index.sessionKeys);
      const held = (await liveGrants(owner, [...index.grantIds, ...sessions.flatMap(({ session }) => grantsHeldBy(session))])).filter((grant) => grant.payload.clientId === clientId);
      let removed = false; // by this call: of two at once (a double click), one removes each grant
      for (const grant of held) if (await revokeGrant(db, grant._id)) removed = true;
      return removed;
    },
  };
}
