// Fills a benchmark database with the data of a deployment that has been running for a while, so the second round
// of scenarios shows what grows with it: accounts (with their login aliases), sessions (with their uid aliases),
// grants and access tokens, in each provider's own storage format. Documents are inserted in batches, directly:
// what matters is that they are there, not how they got there.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { collectionName, sessionAliasId } from '../../src/oidc/adapter.ts';
import { plainCollection } from './plain-adapter.ts';

export interface FillCounts {
  users: number;
  sessions: number;
  grants: number;
  accessTokens: number;
}

export const DEFAULT_FILL: FillCounts = { users: 20_000, sessions: 50_000, grants: 50_000, accessTokens: 50_000 };

const BATCH = 1000;
const DAY_MS = 86_400_000;
const id = () => randomBytes(16).toString('base64url');

async function insertAll(connection: Connection, collection: string, count: number, make: (i: number) => Record<string, unknown>[]): Promise<void> {
  const docs = connection.db!.collection<Record<string, unknown>>(collection);
  for (let first = 0; first < count; first += BATCH) {
    const batch = Array.from({ length: Math.min(BATCH, count - first) }, (_, offset) => make(first + offset)).flat();
    await docs.insertMany(batch, { ordered: false });
  }
}

const never = new Date('9999-12-31T00:00:00Z');
const inADay = () => new Date(Date.now() + DAY_MS);
const seconds = () => Math.floor(Date.now() / 1000);
const accountOf = (i: number) => `filler-${i % 20_000}`;

/** Latchkey's storage: users and aliases, sessions and their `uid:` aliases, grants, access tokens. */
export async function fillLatchkey(connection: Connection, counts: FillCounts, passwordHash: string): Promise<void> {
  await insertAll(connection, 'users', counts.users, (i) => [
    { _id: accountOf(i), username: `filler${i}`, email: `filler${i}@example.test`, emailVerified: true, name: '', passwordHash, status: 'active', roles: [], securityInfo: {} },
  ]);
  await insertAll(connection, 'user_aliases', counts.users, (i) => [
    { _id: `login:filler${i}`, userId: accountOf(i), expiresAt: never },
    { _id: `login:filler${i}@example.test`, userId: accountOf(i), expiresAt: never },
  ]);
  await insertAll(connection, collectionName('Session'), counts.sessions, (i) => {
    const sid = id();
    const uid = id();
    const expiresAt = inADay();
    return [
      { _id: sessionAliasId(uid), target: sid, expiresAt },
      { _id: sid, expiresAt, payload: { jti: sid, uid, kind: 'Session', accountId: accountOf(i), loginTs: seconds(), iat: seconds(), exp: seconds() + 86_400 } },
    ];
  });
  await insertAll(connection, collectionName('Grant'), counts.grants, (i) => {
    const jti = id();
    return [{ _id: jti, expiresAt: inADay(), payload: { jti, kind: 'Grant', accountId: accountOf(i), clientId: 'filler-client', iat: seconds(), exp: seconds() + 86_400 } }];
  });
  await insertAll(connection, collectionName('AccessToken'), counts.accessTokens, (i) => {
    const jti = id();
    const grantId = id();
    return [{ _id: jti, grantId, expiresAt: inADay(), payload: { jti, kind: 'AccessToken', accountId: accountOf(i), grantId, clientId: 'filler-client', iat: seconds(), exp: seconds() + 3600 } }];
  });
}

/** The plain adapter's storage (it has no accounts of its own: the yardstick's sign-in accepts any login). */
export async function fillPlain(connection: Connection, counts: FillCounts): Promise<void> {
  await insertAll(connection, plainCollection('Session'), counts.sessions, (i) => {
    const sid = id();
    return [{ _id: sid, expiresAt: inADay(), payload: { jti: sid, uid: id(), kind: 'Session', accountId: accountOf(i), loginTs: seconds(), exp: seconds() + 86_400 } }];
  });
  await insertAll(connection, plainCollection('Grant'), counts.grants, (i) => {
    const jti = id();
    return [{ _id: jti, expiresAt: inADay(), payload: { jti, kind: 'Grant', accountId: accountOf(i), clientId: 'filler-client', exp: seconds() + 86_400 } }];
  });
  await insertAll(connection, plainCollection('AccessToken'), counts.accessTokens, (i) => {
    const jti = id();
    return [{ _id: jti, expiresAt: inADay(), payload: { jti, kind: 'AccessToken', accountId: accountOf(i), grantId: id(), clientId: 'filler-client', exp: seconds() + 3600 } }];
  });
}
