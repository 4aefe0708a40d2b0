// The benchmark's second yardstick: the MongoDB adapter a user would write after the library's examples. One
// collection per model, documents `{ _id, payload, expiresAt }`; sessions found by `payload.uid`, device codes by
// `payload.userCode`, a grant's tokens deleted by `payload.grantId`, consume as an update. Those three filters are
// not `_id`, so on a server that only indexes `_id` (FerretDB) they scan: which is what the full-database run shows.
// Written for the benchmark only; Latchkey's own adapter is src/oidc/adapter.ts.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Connection } from 'mongoose';

interface PlainDoc {
  _id: string;
  payload: AdapterPayload;
  expiresAt?: Date;
}

export function plainMongoAdapter(connection: Connection): (model: string) => Adapter {
  return (model) => {
    const docs = connection.db!.collection<PlainDoc>(`plain_${model.toLowerCase()}`);
    const live = (doc: PlainDoc | null) => (doc && (!doc.expiresAt || doc.expiresAt.getTime() > Date.now()) ? doc.payload : undefined);
    return {
      async upsert(id, payload, expiresIn) {
        await docs.updateOne({ _id: id }, { $set: { payload, ...(expiresIn && { expiresAt: new Date(Date.now() + expiresIn * 1000) }) } }, { upsert: true });
      },
      find: async (id) => live(await docs.findOne({ _id: id })),
      findByUid: async (uid) => live(await docs.findOne({ 'payload.uid': uid })),
      findByUserCode: async (userCode) => live(await docs.findOne({ 'payload.userCode': userCode })),
      async consume(id) {
        await docs.updateOne({ _id: id }, { $set: { 'payload.consumed': Math.floor(Date.now() / 1000) } });
      },
      async destroy(id) {
        await docs.deleteOne({ _id: id });
      },
      async revokeByGrantId(grantId) {
        await docs.deleteMany({ 'payload.grantId': grantId });
      },
    };
  };
}

/** The collection the plain adapter keeps a model in (for filling the database). */
export const plainCollection = (model: string) => `plain_${model.toLowerCase()}`;
