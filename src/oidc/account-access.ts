// An account's sessions and the applications it gave access to, as its owner sees and ends them on "Your sessions
// and apps" (flows/account-sessions.ts; ASVS 7.5.2), and as revocation (revocation.ts) finds them: through the
// account's `_id`-keyed index documents (oidc/adapter.ts), never by scanning.
//
// Ending a session deletes it and its alias, and revokes the grants it holds: the applications signed in from that
// browser lose their tokens with it (a lost laptop must not keep an application's refresh token). Removing an
// application revokes every grant of the account for it: its tokens stop working at once, and its next sign-in asks
// for consent again. Sessions are read from the database at every request, and tokens and grants likewise, so both
// hold at once on every instance without anything to tell them.
import type { Connection } from 'mongoose';
import type { User } from '../accounts/user-model.ts';
import { describeUserAgent, type BrowserDescription } from '../http/user-agent.ts';
import { accountIndexPlaces, collectionName, revokeGrant, sessionAliasId, type AccountIndexDoc } from './adapter.ts';

type Db = NonNullable<Connection['db']>;

/** A session, or (same collection) a session's alias `uid:<uid>` naming its current id. */
export interface SessionDoc {
  _id: string;
  payload?: { accountId?: string; uid?: string; loginTs?: number; authorizations?: Record<string, { grantId?: string }> };
  expiresAt?: Date;
  /** When its sign-in checked the password, to the millisecond, and from which browser (oidc/adapter.ts). */
  signedInAtMs?: number;
  signedInFrom?: string;
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

export async function readAccountIndex(db: Db, accountId: string): Promise<AccountIndex> {
  const places = accountIndexPlaces(db, accountId);
  const entries = await Promise.all(places.map(({ collection, id }) => collection.findOne({ _id: id })));
  return {
    places,
    entries,
    sessionKeys: [...new Set(entries.flatMap((entry) => entry?.sessions ?? []))],
    grantIds: [...new Set(entries.flatMap((entry) => entry?.grants ?? []))],
  };
}

/** An index entry's session (by its uid's alias; an older entry is the session's id itself) and that alias. */
export async function findIndexedSession(db: Db, key: string): Promise<{ id: string; alias: SessionDoc | null; session: SessionDoc | null }> {
  const sessions = db.collection<SessionDoc>(collectionName('Session'));
  const alias = await sessions.findOne({ _id: sessionAliasId(key) });
  const id = alias?.target ?? key;
  return { id, alias, session: await sessions.findOne({ _id: id }) };
}

/** Deletes a session found through its index entry, and its alias. */
export async function deleteIndexedSession(db: Db, { id, alias }: { id: string; alias: SessionDoc | null }): Promise<void> {
  const sessions = db.collection<SessionDoc>(collectionName('Session'));
  await sessions.deleteOne({ _id: id });
  if (alias) await sessions.deleteOne({ _id: alias._id });
}

/** The grants a session holds, one per application it signed in to. */
export const grantsHeldBy = (session: SessionDoc | null): string[] =>
  Object.values(session?.payload?.authorizations ?? {}).flatMap((authorization) => (authorization.grantId ? [authorization.grantId] : []));

/** A session of the account as its owner sees it. */
export interface SessionView {
  /** The session's uid: what the page's forms name (never its id, which is the browser's cookie). */
  uid: string;
  signedInAt: Date;
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
  /** The account's live sessions (this browser's first, then the newest) and the applications it gave access to. */
  list(owner: AccessOwner, currentSessionId?: string): Promise<{ sessions: SessionView[]; apps: AppView[] }>;
  /** Ends the account's session `uid` and revokes its grants; false when the account has no such live session. */
  endSession(owner: AccessOwner, uid: string): Promise<boolean>;
  /** Revokes every grant of the account for `clientId`; false when it held none. */
  removeApp(owner: AccessOwner, clientId: string): Promise<boolean>;
}

/**
 * The page reads at most this many of the newest index entries of each kind: the index keeps entries of expired
 * sessions and grants until a revocation prunes it, and the page must stay a bounded number of reads, whatever the
 * account's history. Ending a session or removing an application reads what it needs, whatever the number.
 */
const LISTED_ENTRIES = 200;

export function createAccountAccess(connection: Connection, clock: () => number = Date.now): AccountAccess {
  const db = connection.db!;
  const grants = db.collection<GrantDoc>(collectionName('Grant'));
  const clients = db.collection<{ _id: string; payload?: { client_name?: string } }>(collectionName('Client'));

  const revokedAtSeconds = (owner: AccessOwner) => (owner.revokedAt ? Math.floor(new Date(owner.revokedAt).getTime() / 1000) : 0);
  const isLive = (doc: { expiresAt?: Date } | null) => Boolean(doc) && (!doc!.expiresAt || doc!.expiresAt.getTime() > clock());

  /** Whether `session` is one of the account's live sessions: signed in to it, not expired, not revoked since. */
  const isOwnLive = (owner: AccessOwner, session: SessionDoc | null) =>
    isLive(session) && session!.payload?.accountId === owner._id && (session!.payload.loginTs ?? 0) >= revokedAtSeconds(owner);

  /** The account's live grants, each with its application. */
  async function liveGrants(owner: AccessOwner, grantIds: string[]) {
    const found = await Promise.all(grantIds.map((id) => grants.findOne({ _id: id })));
    return found.filter((grant): grant is GrantDoc & { payload: { clientId: string } } => isLive(grant) && grant!.payload?.accountId === owner._id && typeof grant!.payload.clientId === 'string' && (grant!.payload.iat ?? 0) >= revokedAtSeconds(owner));
  }

  async function appNames(clientIds: string[]): Promise<Map<string, string>> {
    const names = await Promise.all(clientIds.map(async (id) => [id, (await clients.findOne({ _id: id }))?.payload?.client_name || id] as const));
    return new Map(names);
  }

  return {
    async list(owner, currentSessionId) {
      const index = await readAccountIndex(db, owner._id);
      const newest = (keys: string[]) => keys.slice(-LISTED_ENTRIES);
      const indexed = await Promise.all(newest(index.sessionKeys).map(async (key) => ({ key, ...(await findIndexedSession(db, key)) })));
      const sessions = indexed.filter(({ session }) => isOwnLive(owner, session));
      const liveGrantDocs = await liveGrants(owner, newest(index.grantIds));
      const clientIds = [...new Set([...liveGrantDocs.map((grant) => grant.payload.clientId), ...sessions.flatMap(({ session }) => Object.keys(session!.payload!.authorizations ?? {}))])];
      const names = await appNames(clientIds);
      const sessionViews = sessions.map(({ key, id, session }): SessionView => ({
        uid: session!.payload!.uid ?? key,
        signedInAt: new Date(session!.signedInAtMs ?? (session!.payload!.loginTs ?? 0) * 1000),
        from: describeUserAgent(session!.signedInFrom),
        current: id === currentSessionId,
        apps: Object.keys(session!.payload!.authorizations ?? {}).map((clientId) => names.get(clientId) ?? clientId),
      }));
      sessionViews.sort((a, b) => Number(b.current) - Number(a.current) || b.signedInAt.getTime() - a.signedInAt.getTime());
      const since = new Map<string, number>();
      for (const { payload } of liveGrantDocs) since.set(payload.clientId, Math.min(since.get(payload.clientId) ?? Infinity, payload.iat ?? 0));
      const apps = [...since].map(([clientId, iat]): AppView => ({ clientId, name: names.get(clientId) ?? clientId, since: new Date(iat * 1000) }));
      apps.sort((a, b) => a.name.localeCompare(b.name));
      return { sessions: sessionViews, apps };
    },

    async endSession(owner, uid) {
      const found = await findIndexedSession(db, uid);
      // Only one of this account's own sessions: the form's uid is the browser's to write.
      if (!isOwnLive(owner, found.session)) return false;
      await deleteIndexedSession(db, found);
      for (const grantId of grantsHeldBy(found.session)) await revokeGrant(db, grantId);
      return true;
    },

    async removeApp(owner, clientId) {
      const index = await readAccountIndex(db, owner._id);
      const held = (await liveGrants(owner, index.grantIds)).filter((grant) => grant.payload.clientId === clientId);
      for (const grant of held) await revokeGrant(db, grant._id);
      return held.length > 0;
    },
  };
}
