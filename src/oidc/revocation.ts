// Account-level revocation: everything that lets an account in (sessions, grants, and the access tokens, refresh
// tokens and codes issued under those grants) is removed. Disabling an account uses it, and so do a password
// reset, a "This wasn't me" lockdown and an administrator's sign-out or lock-down.
//
// The account's sessions and grants are found through its `_id`-keyed index documents (oidc/adapter.ts), never by
// scanning. Deleting is one half; the other is the account's `revokedAt` time, checked on every token and grant read
// (a grant by its own issue time, so what is issued under an old grant dies with it) and every session use, which
// also refuses anything the index missed or that was being issued at that moment.
import type { Connection } from 'mongoose';
import { revokeGrant } from './adapter.ts';
import { deleteIndexedSession, findIndexedSession, grantsHeldBy, readAccountIndex, type SessionDoc } from './account-access.ts';

/**
 * `issuedBefore`: the revocation this pass follows (the `revokedAt` it wrote to the account). A session signed in
 * since it stays, with the grants it holds (the pass run again after a revocation must not take the owner's new
 * sign-in with it); every other grant goes, whenever it was made (another instance that had not heard of the
 * revocation yet may have made it for an old session). Without it, all goes.
 */
export type AccessRevoker = (accountId: string, issuedBefore?: Date, options?: RevocationPass) => Promise<void>;

export interface RevocationPass {
  /**
   * Remove the handled entries from the account's index (default). Not in a first pass that another pass follows:
   * the removal is a read-modify-write on FerretDB, and while other instances may still act on their cached
   * account, an entry one of them adds at that moment (a grant for an old session) could be lost to it, and the
   * second pass would not find that grant.
   */
  prune?: boolean;
}

export function createAccessRevoker(connection: Connection): AccessRevoker {
  const db = connection.db!;

  // By the revocation the sign-in's password check read the account under: the one this pass follows (or a later
  // one) means the new password, whatever the clocks of the instance that checked it and of the one that revoked
  // say. An instance that had not heard of the reset yet can finish a sign-in whose password was checked before it,
  // on a clock ahead of the reset's: its time alone would keep that. Sessions saved before this was kept go by the
  // check's time to the millisecond, and before that by whole seconds (one in the cutoff's own second counts as
  // before it).
  const signedInSince = (session: SessionDoc | null, issuedBefore: Date | undefined) => {
    if (!issuedBefore || !session) return false;
    if (session.signedInUnderMs !== undefined) return session.signedInUnderMs >= issuedBefore.getTime();
    if (session.signedInAtMs !== undefined) return session.signedInAtMs >= issuedBefore.getTime();
    return Boolean(session.payload?.loginTs && session.payload.loginTs * 1000 >= issuedBefore.getTime());
  };

  return async (accountId, issuedBefore, { prune = true } = {}) => {
    const { places, entries, sessionKeys, grantIds: indexedGrants } = await readAccountIndex(db, accountId);
    const grantIds = new Set(indexedGrants);
    const handledSessions: string[] = [];
    const keptGrants = new Set<string>();
    for (const key of sessionKeys) {
      const found = await findIndexedSession(db, key);
      const { session } = found;
      // A session also names the grants it holds per client: revoked with it even if the index missed one.
      const held = grantsHeldBy(session);
      if (signedInSince(session, issuedBefore)) {
        for (const grantId of held) keptGrants.add(grantId);
        continue;
      }
      for (const grantId of held) grantIds.add(grantId);
      await deleteIndexedSession(db, found);
      handledSessions.push(key);
    }
    const handledGrants = [...grantIds].filter((grantId) => !keptGrants.has(grantId));
    for (const grantId of handledGrants) await revokeGrant(db, grantId);
    // Remove only what was handled: entries added meanwhile (a sign-in racing the revocation) stay for next time.
    // $pullAll, not $pull with $in, which FerretDB accepts and ignores (the index would only ever grow). Neither is
    // atomic there: an entry added at the same moment can be lost, which is why a first pass does not prune.
    if (!prune) return;
    for (const [i, { collection, id }] of places.entries()) {
      if (entries[i]) await collection.updateOne({ _id: id }, { $pullAll: { sessions: handledSessions, grants: handledGrants } });
    }
  };
}
