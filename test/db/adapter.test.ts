// oidc-provider's storage on the local database: every model round-trips, consume is single-use, expired
// entries are not returned, aliases find sessions by uid, and revokeByGrantId removes exactly one grant's tokens.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Connection } from 'mongoose';
import { createAdapterFactory, MODELS, collectionName, ADAPTER_COLLECTIONS, sessionAliasId, ReplayedError } from '../../src/oidc/adapter.ts';
import { inRequestScope } from '../../src/db/request-scope.ts';
import { manageExpiry } from '../../src/db/expiry.ts';
import { createLogger } from '../../src/log.ts';
import { openTestDatabase } from '../helpers/database.ts';

let db: Awaited<ReturnType<typeof openTestDatabase>>;
/** "<command> <collection>" of every command sent, for the tests that count round trips. */
const commands: string[] = [];
let connection: Connection;
let now = Date.now();
const clock = () => now;
let adapterFor: ReturnType<typeof createAdapterFactory>;

beforeAll(async () => {
  db = await openTestDatabase({ onCommand: ({ commandName, collection }) => void commands.push(`${commandName} ${collection ?? ''}`.trim()) });
  connection = db.connection;
  adapterFor = createAdapterFactory(connection, { clock });
});
afterAll(() => db.drop());

describe('every model', () => {
  it.each(MODELS)('%s round-trips its payload under a string id and is destroyed on request', async (model) => {
    const adapter = adapterFor(model);
    const payload = { kind: model, jti: `${model}-1`, grantId: 'g-1', nested: { empty: {}, list: [1, 2] }, exp: 123 };
    await adapter.upsert(`${model}-1`, payload, 60);
    expect(await adapter.find(`${model}-1`)).toEqual(payload);
    await adapter.destroy(`${model}-1`);
    expect(await adapter.find(`${model}-1`)).toBeUndefined();
  });

  it('keeps documents without expiresIn (e.g. registered clients) forever', async () => {
    const adapter = adapterFor('Client');
    await adapter.upsert('client-forever', { client_id: 'client-forever' });
    now += 10 * 365 * 86400_000;
    try {
      expect(await adapter.find('client-forever')).toEqual({ client_id: 'client-forever' });
    } finally {
      now = Date.now();
    }
  });
});

describe('expiry', () => {
  it('does not return an entry past its expiry, even before the sweeper removes it', async () => {
    const adapter = adapterFor('AccessToken');
    await adapter.upsert('short-lived', { jti: 'short-lived' }, 30);
    expect(await adapter.find('short-lived')).toBeDefined();
    now += 31_000;
    try {
      expect(await adapter.find('short-lived')).toBeUndefined();
    } finally {
      now = Date.now();
    }
  });

  it('sweeps expired documents away and keeps live ones', async () => {
    const adapter = adapterFor('Interaction');
    await adapter.upsert('old', { jti: 'old' }, 1);
    await adapter.upsert('young', { jti: 'young' }, 3600);
    const expiry = await manageExpiry(connection, ADAPTER_COLLECTIONS, { intervalSeconds: 3600, log: createLogger('silent') });
    try {
      await expiry.sweep(new Date(Date.now() + 5_000));
      const left = await connection.db!.collection(collectionName('Interaction')).find({}).toArray();
      expect(left.map((d) => d._id)).toEqual(['young']);
    } finally {
      expiry.stop();
    }
  });
});

describe('consume', () => {
  it('marks a refresh token consumed (introspection reports it) and refuses a second consume', async () => {
    const adapter = adapterFor('RefreshToken');
    await adapter.upsert('rt-1', { jti: 'rt-1', grantId: 'g-r' }, 60);
    await adapter.consume('rt-1');
    expect((await adapter.find('rt-1'))?.consumed).toEqual(expect.any(Number));
    await expect(adapter.consume('rt-1')).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('refuses a second consume of an authorization code, and revokes its grant, with one write for the first', async () => {
    const adapter = adapterFor('AuthorizationCode');
    await adapter.upsert('code-1', { jti: 'code-1', grantId: 'g-c' }, 60);
    await adapterFor('Grant').upsert('g-c', { jti: 'g-c' }, 600);
    commands.length = 0;
    await adapter.consume('code-1');
    expect(commands).toEqual(['insert oidc_consumed']);
    await expect(adapter.consume('code-1')).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await adapterFor('Grant').find('g-c')).toBeUndefined();
  });

  it('lets exactly one of 20 parallel redemptions of one code consume it, and the losers revoke its grant', async () => {
    const adapter = adapterFor('AuthorizationCode');
    await adapter.upsert('code-race', { jti: 'code-race', grantId: 'g-race' }, 60);
    await adapterFor('Grant').upsert('g-race', { jti: 'g-race' }, 600);
    await adapterFor('AccessToken').upsert('at-race', { jti: 'at-race', grantId: 'g-race' }, 600);
    const results = await Promise.allSettled(Array.from({ length: 20 }, () => adapter.consume('code-race')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await adapterFor('Grant').find('g-race')).toBeUndefined();
    expect(await adapterFor('AccessToken').find('at-race')).toBeUndefined();
  });
});

describe('replay detection', () => {
  it('stores a DPoP proof or client assertion id once: of 10 parallel first uses, 9 are refused as replays', async () => {
    const adapter = adapterFor('ReplayDetection');
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => adapter.upsert('proof-1', { jti: 'proof-1', iss: 'c' }, 60)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')) {
      expect(r.reason).toBeInstanceOf(ReplayedError); // which ReplayDetection.unique() answers with false (provider.ts)
    }
  });
});

describe('sessions by uid', () => {
  const sessionDocs = () => connection.db!.collection<{ _id: string }>(collectionName('Session'));
  /** As Sign out on "Your sessions and apps" ends a session (oidc/account-access.ts): the session and its alias. */
  const endSession = async (id: string, uid: string) => {
    await sessionDocs().deleteOne({ _id: id });
    await sessionDocs().deleteOne({ _id: sessionAliasId(uid) });
  };

  it('finds a session by its uid, also after it is saved again under a new id', async () => {
    const adapter = adapterFor('Session');
    await adapter.upsert('sess-1', { jti: 'sess-1', uid: 'uid-1', kind: 'Session' }, 600);
    expect(await adapter.findByUid!('uid-1')).toMatchObject({ jti: 'sess-1' });
    // oidc-provider regenerates the session id on login: destroy the old id, save under the new one.
    await adapter.destroy('sess-1');
    commands.length = 0;
    await adapter.upsert('sess-2', { jti: 'sess-2', uid: 'uid-1', kind: 'Session' }, 600);
    expect(commands).toEqual(['update oidc_session']); // the alias and the session, in one ordered bulk write
    expect(await adapter.findByUid!('uid-1')).toMatchObject({ jti: 'sess-2' });
    expect(await adapter.findByUid!('uid-unknown')).toBeUndefined();
  });

  it("keeps a session ended while a request held it ended: neither that request's save nor its save under a new id (a resume) brings it back", async () => {
    const adapter = adapterFor('Session');
    const sessions = sessionDocs();
    const held = async (id: string, uid: string, work: (payload: Record<string, unknown>) => Promise<void>) => {
      await adapter.upsert(id, { jti: id, uid, kind: 'Session' }, 600);
      await inRequestScope(async () => work((await adapter.find(id))!));
    };

    // A request that read the session saves it at its end, as oidc-provider does.
    await held('held-1', 'uid-held-1', async (payload) => {
      await endSession('held-1', 'uid-held-1');
      await adapter.upsert('held-1', payload, 600);
    });
    expect(await sessions.findOne({ _id: 'held-1' })).toBeNull();

    // A resume, which saves it under a new id and destroys the old one.
    await held('held-2', 'uid-held-2', async (payload) => {
      await endSession('held-2', 'uid-held-2');
      await adapter.destroy('held-2');
      await adapter.upsert('held-3', { ...payload, jti: 'held-3' }, 600);
    });
    expect(await sessions.findOne({ _id: 'held-3' })).toBeNull();
    expect(await adapter.findByUid!('uid-held-2')).toBeUndefined();

    // Not ended: the resume's new id is the session.
    await held('held-4', 'uid-held-4', async (payload) => {
      await adapter.destroy('held-4');
      await adapter.upsert('held-5', { ...payload, jti: 'held-5' }, 600);
    });
    expect(await adapter.findByUid!('uid-held-4')).toMatchObject({ jti: 'held-5' });
    expect(await adapter.find('held-4')).toBeUndefined();
  });

  it('revokes the grants a request stored for a session ended while it held it, with their codes, and never a grant it only read', async () => {
    const sessionAdapter = adapterFor('Session');
    const grantAdapter = adapterFor('Grant');
    const codeAdapter = adapterFor('AuthorizationCode');
    const sessions = sessionDocs();
    const holding = (grantId: string) => ({ authorizations: { 'first.party.app': { sid: `sid-${grantId}`, grantId } } });
    const grant = (grantId: string) => ({ jti: grantId, kind: 'Grant', accountId: 'acct-held', clientId: 'first.party.app', openid: { scope: 'openid' } });
    /** A request that read session `id`, stored the grant `grantId` and a code under it, and saved the session holding it. */
    const heldWhileGranting = async (id: string, grantId: string, meanwhile: (payload: Record<string, unknown>) => Promise<string>) => {
      await sessionAdapter.upsert(id, { jti: id, uid: `uid-${id}`, accountId: 'acct-held', kind: 'Session' }, 600);
      await inRequestScope(async () => {
        const payload = (await sessionAdapter.find(id))!;
        await grantAdapter.upsert(grantId, grant(grantId), 600);
        await codeAdapter.upsert(`code-${grantId}`, { jti: `code-${grantId}`, grantId, kind: 'AuthorizationCode' }, 60);
        const savedAs = await meanwhile(payload);
        await sessionAdapter.upsert(savedAs, { ...payload, jti: savedAs, ...holding(grantId) }, 600);
      });
    };

    // Ended while the request granted: saved under the same id, or under a new one (a resume).
    await heldWhileGranting('granting-1', 'grant-held-1', async () => {
      await endSession('granting-1', 'uid-granting-1');
      return 'granting-1';
    });
    await heldWhileGranting('granting-2', 'grant-held-2', async () => {
      await endSession('granting-2', 'uid-granting-2');
      await sessionAdapter.destroy('granting-2');
      return 'granting-3';
    });
    for (const grantId of ['grant-held-1', 'grant-held-2']) {
      expect(await grantAdapter.find(grantId)).toBeUndefined();
      expect(await codeAdapter.find(`code-${grantId}`)).toBeUndefined();
    }
    expect(await sessionAdapter.findByUid!('uid-granting-1')).toBeUndefined();
    expect(await sessions.findOne({ _id: sessionAliasId('uid-granting-1') })).toBeNull();

    // Not ended: the grant stays.
    await heldWhileGranting('granting-4', 'grant-held-4', async () => 'granting-4');
    expect(await grantAdapter.find('grant-held-4')).toMatchObject({ jti: 'grant-held-4' });
    expect(await sessionAdapter.findByUid!('uid-granting-4')).toMatchObject(holding('grant-held-4'));

    // Ended, but the request only read the grant the session held (one kept on purpose, as offline access outlives
    // a sign-out): not this request's to revoke.
    await grantAdapter.upsert('grant-read', grant('grant-read'), 600);
    await sessionAdapter.upsert('reading', { jti: 'reading', uid: 'uid-reading', accountId: 'acct-held', kind: 'Session', ...holding('grant-read') }, 600);
    await inRequestScope(async () => {
      const payload = (await sessionAdapter.find('reading'))!;
      expect(await grantAdapter.find('grant-read')).toBeDefined();
      await endSession('reading', 'uid-reading');
      await sessionAdapter.upsert('reading', payload, 600);
    });
    expect(await grantAdapter.find('grant-read')).toMatchObject({ jti: 'grant-read' });
    expect(await sessions.findOne({ _id: 'reading' })).toBeNull();
  });

  it('does not return a session through a stale alias once the session is gone', async () => {
    const adapter = adapterFor('Session');
    await adapter.upsert('sess-gone', { jti: 'sess-gone', uid: 'uid-gone' }, 600);
    await adapter.destroy('sess-gone');
    expect(await adapter.findByUid!('uid-gone')).toBeUndefined();
  });

  it('saves every session of one account signing in in several browsers at once (the first index entry races)', async () => {
    // FerretDB's upsert is a read then an insert: of several first saves of the account's index entry, some fail
    // with a duplicate key (measured: 9 of 120 in 30 rounds of 4), and with them their whole batch.
    const adapter = adapterFor('Session');
    for (let round = 0; round < 20; round += 1) {
      const accountId = `acct-race-${round}`;
      const ids = Array.from({ length: 6 }, (_, i) => `sess-race-${round}-${i}`);
      const saved = await Promise.allSettled(ids.map((id, i) => adapter.upsert(id, { jti: id, uid: `uid-race-${round}-${i}`, accountId, loginTs: Math.floor(now / 1000), kind: 'Session' }, 600)));
      expect(saved.filter((result) => result.status === 'rejected')).toEqual([]);
      for (const [i, id] of ids.entries()) expect(await adapter.findByUid!(`uid-race-${round}-${i}`)).toMatchObject({ jti: id });
    }
  });

  it('finds device codes by user code', async () => {
    const adapter = adapterFor('DeviceCode');
    await adapter.upsert('dc-1', { jti: 'dc-1', userCode: 'ABCD-EFGH' }, 600);
    expect(await adapter.findByUserCode!('ABCD-EFGH')).toMatchObject({ jti: 'dc-1' });
  });
});

describe('revokeByGrantId', () => {
  it('removes the tokens and codes of that grant only', async () => {
    const models = ['AccessToken', 'RefreshToken', 'AuthorizationCode'] as const;
    for (const model of models) {
      await adapterFor(model).upsert(`${model}-a`, { jti: `${model}-a`, grantId: 'grant-a' }, 600);
      await adapterFor(model).upsert(`${model}-b`, { jti: `${model}-b`, grantId: 'grant-b' }, 600);
    }
    for (const model of models) await adapterFor(model).revokeByGrantId!('grant-a');
    for (const model of models) {
      expect(await adapterFor(model).find(`${model}-a`)).toBeUndefined();
      expect(await adapterFor(model).find(`${model}-b`)).toBeDefined();
    }
  });
});
