// How the running server names itself in what it sends: the issuer (links in notices point at its origin) and the
// operator's brand. Each instance stores them at start, so an admin command, which runs with whatever environment
// the operator's shell has, words its notices as the server would: a "This wasn't me" link on a host the owner
// cannot reach, or another service's name, would make the one way to stop an intruder useless.
import type { Connection } from 'mongoose';
import { upsertRetryingDuplicateKey } from '../db/atomic.ts';
import type { Brand } from '../http/brand.ts';

const COLLECTION = 'server_identity';
const ID = 'current';

export interface ServerIdentity {
  issuer: string;
  brand: Brand;
}

interface IdentityDoc {
  _id: string;
  issuer: string;
  brand: Brand;
}

const identities = (connection: Connection) => connection.db!.collection<IdentityDoc>(COLLECTION);

/** Stores this instance's identity (all instances of one installation share it; the last to start writes it). */
export async function publishServerIdentity(connection: Connection, { issuer, brand }: ServerIdentity): Promise<void> {
  await upsertRetryingDuplicateKey(() => identities(connection).replaceOne({ _id: ID }, { issuer, brand }, { upsert: true }));
}

/** Whether `issuer` is an http(s) URL (a stored value not one is ignored: notices must still go, with this process's). */
function isWebUrl(issuer: unknown): issuer is string {
  return typeof issuer === 'string' && URL.canParse(issuer) && ['http:', 'https:'].includes(new URL(issuer).protocol);
}

/** What the running server stored, or undefined when no server has started on this database yet. */
export async function publishedServerIdentity(connection: Connection): Promise<ServerIdentity | undefined> {
  const doc = await identities(connection).findOne({ _id: ID });
  return doc && isWebUrl(doc.issuer) && typeof doc.brand?.name === 'string' ? { issuer: doc.issuer, brand: doc.brand } : undefined;
}
