// Account-level revocation: everything that lets an account in (sessions, grants, and the access tokens, refresh
// tokens and codes issued under those grants) is removed. Disabling an account uses it, and so do a password
// reset and a "This wasn't me" lockdown.
//
// The account's sessions and grants are found through its `_id`-keyed index documents (oidc/adapter.ts), never by
// scanning. Deleting is one half; the other is the account's `revokedAt` time, checked on every token read and
// every session use, which also refuses anything the index missed or that was being issued at that moment.
import type { Connection } from 'mongoose';
import { accountIndexPlaces, collectionName, revokeGrant, sessionAliasId } from './adapter.ts';

/** A session, or (same collection) a session's alias `uid:<uid>` naming its current id. */
interface SessionDoc {
  _id: string;
  payload?: { authorizations?: Record<string, { grantId?: string }> };
  target?: string;
}

export type AccessRevoker = (accountId: string) => Promise<void>;

export function createAccessRevoker(connection: Connection): AccessRevoker {
  const db = connection.db!;
  const sessions = db.collection<SessionDoc>(collectionName('Session'));

  return async (accountId) => {
    const places = accountIndexPlaces(db, accountId);
    const entries = await Promise.all(places.map(({ collection, id }) => collection.findOne({ _id: id })));
    const indexed = [...new Set(entries.flatMap((entry) => entry?.sessions ?? []))];
    const grantIds = new Set(entries.flatMap((entry) => entry?.grants ?? []));
    for (const key of indexed) {
      // Entries are session uids, found through their alias; older entries are session ids themselves.
      const alias = await sessions.findOne({ _id: sessionAliasId(key) });
      const id = alias?.target ?? key;
      // A session also names the grants it holds per client: revoke those even if the index missed one.
      const session = await sessions.findOne({ _id: id });
      for (const authorization of Object.values(session?.payload?.authorizations ?? {})) {
        if (authorization.grantId) grantIds.add(authorization.grantId);
      }
      await sessions.deleteOne({ _id: id });
      if (alias) await sessions.deleteOne({ _id: alias._id });
    }
    for (const grantId of grantIds) await revokeGrant(db, grantId);
    // $pull only what was handled: entries added meanwhile (a sign-in racing the revocation) stay for next time.
    for (const [i, { collection, id }] of places.entries()) {
      if (entries[i]) await collection.updateOne({ _id: id }, { $pull: { sessions: { $in: indexed }, grants: { $in: [...grantIds] } } });
    }
  };
}
