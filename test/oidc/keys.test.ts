// Signing keys shared through the database: instances starting together agree on one set; a rotation or revocation
// interrupted at any write and run again leaves exactly one active pair; the JWKS route publishes public members
// only, from the store, within a second (answered first while fresh, as app.ts composes it).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import Koa from 'koa';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'oidc-provider';
import { createKeyStore, SIGNING_KEYS, type KeyInfo, type KeyStore } from '../../src/oidc/keys.ts';
import { JWKS_CACHE_CONTROL, jwksDocument } from '../../src/oidc/jwks-route.ts';
import { answerPreparedDocuments } from '../../src/http/prepared-documents.ts';
import { securityHeaderSetter } from '../../src/http/security-headers.ts';
import { createLogger } from '../../src/log.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { createSecretBox, isSealed, UnreadableSecretError } from '../../src/security/encryption.ts';

const RETAIN = 3600;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi'];
/** What the servers' DATA_ENCRYPTION_KEY would be: it seals the private keys. */
const box = createSecretBox(randomBytes(32));

let db: Awaited<ReturnType<typeof openTestDatabase>>;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(() => db.drop());

const collection = () => db.connection.db!.collection<{ _id: string; [field: string]: unknown }>(SIGNING_KEYS);
const keyDocCount = () => collection().countDocuments({ jwk: { $exists: true } });
const store = (afterStep?: (step: string) => void) => createKeyStore(db.connection, { box, afterStep });

class Interrupted extends Error {}

/** A store whose `index`-th write (0-based) is its last: the process "dies" right after it. */
function interruptedAfter(index: number): { keys: KeyStore; steps: string[] } {
  const steps: string[] = [];
  const keys = store((name) => {
    steps.push(name);
    if (steps.length - 1 === index) throw new Interrupted(`interrupted after ${name}`);
  });
  return { keys, steps };
}

function expectOneActivePair(keys: KeyInfo[]): void {
  expect(keys.filter((k) => k.status === 'active').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
}

/** oidc-provider signs with the first key of each algorithm: those must be the active ones. */
async function expectLoadsActiveFirst(keys: KeyStore): Promise<JWK[]> {
  const { keys: loaded } = await keys.loadJwks();
  const list = await keys.list();
  for (const alg of ['ES256', 'RS256']) {
    expect(list.find((k) => k.kid === loaded.find((j) => j.alg === alg)!.kid)?.status).toBe('active');
  }
  return loaded;
}

const kidsOf = (keys: KeyInfo[], status?: string) => keys.filter((k) => !status || k.status === status).map((k) => k.kid);

describe('first start', () => {
  beforeEach(() => collection().deleteMany({}));

  it('creates one active and one next key per algorithm when five instances start at once on an empty database', async () => {
    const loaded = await Promise.all(Array.from({ length: 5 }, () => createKeyStore(db.connection, { box }).loadJwks()));
    const kids = loaded.map((jwks) => jwks.keys.map((k) => k.kid).join(','));
    expect(new Set(kids).size).toBe(1);
    expect(loaded[0]!.keys.map((k) => k.alg).sort()).toEqual(['ES256', 'ES256', 'RS256', 'RS256']);
    expect(await keyDocCount()).toBe(4);
    const states = (await createKeyStore(db.connection, { box }).list()).map((k) => `${k.alg}:${k.status}`).sort();
    expect(states).toEqual(['ES256:active', 'ES256:next', 'RS256:active', 'RS256:next']);
  });

  it('stores each private key sealed beside its public part: a copy of the database alone cannot sign, and another key opens nothing', async () => {
    const loaded = await store().loadJwks();
    const docs = await collection().find({ jwk: { $exists: true } }).toArray();
    expect(docs).toHaveLength(4);
    for (const doc of docs) {
      const jwk = doc.jwk as JWK;
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(isSealed(doc.sealed as string)).toBe(true);
      const opened = JSON.parse(box.open(doc.sealed as string)) as JWK;
      expect(opened).toMatchObject({ ...jwk, d: expect.any(String) });
      expect(loaded.keys.find((k) => k.kid === jwk.kid)).toEqual(opened);
    }
    // A server given another DATA_ENCRYPTION_KEY (without the old one) cannot start signing with them, and says why.
    await expect(createKeyStore(db.connection, { box: createSecretBox(randomBytes(32)) }).loadJwks()).rejects.toBeInstanceOf(UnreadableSecretError);
    // Listing them needs no key at all (`keys list`).
    expect(await createKeyStore(db.connection, { box: () => Promise.reject(new Error('no key')) }).list()).toHaveLength(4);
  });

  it('stores nothing with a key that cannot open the stored keys, or that the servers do not use: an incomplete next pair waits for the right one', async () => {
    await store().loadJwks();
    // A rotation interrupted before its new next pair: the next start completes it, with the right key only.
    await collection().deleteMany({ _id: { $regex: '^g2-' } });
    const count = await keyDocCount();
    const active = (await store().list()).filter((k) => k.status === 'active').map((k) => k.kid);
    const wrong = createKeyStore(db.connection, { box: createSecretBox(randomBytes(32)) });
    await expect(wrong.loadJwks()).rejects.toThrow(new RegExp(`^signing key (${active.join('|')}) opens with neither DATA_ENCRYPTION_KEY`));
    expect(await keyDocCount()).toBe(count);
    expect((await store().loadJwks()).keys).toHaveLength(4);

    // On an empty database nothing vouches for a key: the servers' data key check decides, before anything is stored.
    await collection().deleteMany({});
    const refused = createKeyStore(db.connection, { box, beforeSealing: () => Promise.reject(new Error('not the servers’ key')) });
    await expect(refused.loadJwks()).rejects.toThrow('not the servers’ key');
    expect(await keyDocCount()).toBe(0);
  });

  it('keeps the cookie keys sealed too', async () => {
    const keys = await store().cookieKeys(undefined);
    const stored = await db.connection.db!.collection<{ _id: string; keys?: string[]; sealed?: string }>('secrets').findOne({ _id: 'cookie-keys' });
    expect(stored!.keys).toBeUndefined();
    expect(JSON.parse(box.open(stored!.sealed!))).toEqual(keys);
    await expect(createKeyStore(db.connection, { box: createSecretBox(randomBytes(32)) }).cookieKeys(undefined)).rejects.toThrow(/^the list of cookie keys kept in the database \(set COOKIE_KEYS to start without it\) opens with neither/);
  });

  it('makes kids an operator can type as an argument: never starting with "-" (which would read as an option)', async () => {
    const store = createKeyStore(db.connection, { box });
    await store.loadJwks(); // the first start creates them
    const kids = kidsOf(await store.list());
    expect(kids).toHaveLength(4);
    for (const kid of kids) expect(kid).toMatch(/^k[\w-]{16}$/);
  });

  it('publishes the next keys but signs with the active ones (they come first)', async () => {
    await expectLoadsActiveFirst(createKeyStore(db.connection, { box }));
  });

  it('interrupted after any of its writes, the next start completes the one set', async () => {
    for (let index = 0; ; index += 1) {
      await collection().deleteMany({});
      const { keys, steps } = interruptedAfter(index);
      const outcome = await keys.loadJwks().then(
        () => 'done',
        (error: unknown) => (error instanceof Interrupted ? 'interrupted' : Promise.reject(error)),
      );
      const loaded = await Promise.all([store().loadJwks(), store().loadJwks()]);
      expect(loaded[0]!.keys.map((k) => k.kid)).toEqual(loaded[1]!.keys.map((k) => k.kid));
      const list = await store().list();
      expect(list.map((k) => `${k.alg}:${k.status}`).sort()).toEqual(['ES256:active', 'ES256:next', 'RS256:active', 'RS256:next']);
      expect(await keyDocCount()).toBe(4);
      if (outcome === 'done') {
        expect(index).toBeGreaterThanOrEqual(5); // two keys, the activation, two next keys
        break;
      }
      expect(steps).toHaveLength(index + 1);
    }
  });
});

describe('rotate', () => {
  beforeEach(() => collection().deleteMany({}));

  it('switches in one write: interrupted after each of its writes and run again, exactly one active pair, signing only published keys', async () => {
    // The writes of one rotation in the steady state (a retired generation exists), recorded once.
    await store().loadJwks();
    await store().rotate(RETAIN);
    const recorded: string[] = [];
    await store((name) => recorded.push(name)).rotate(RETAIN);
    expect(recorded[0]).toMatch(/^insert activate-\d+$/); // the switch comes first: everything before it is in place
    expect(recorded.length).toBeGreaterThanOrEqual(4);

    for (let index = 0; index < recorded.length; index += 1) {
      for (const serverStartsMeanwhile of [false, true]) {
        await collection().deleteMany({});
        await store().loadJwks();
        await store().rotate(RETAIN);
        const before = await store().list();
        const { keys } = interruptedAfter(index);
        await expect(keys.rotate(RETAIN)).rejects.toBeInstanceOf(Interrupted);

        // Right after the interruption there is one active pair: the switch, written first, happened.
        expectOneActivePair(await store().list());
        expect(kidsOf(await store().list(), 'active')).toEqual(kidsOf(before, 'next'));
        // A server starting meanwhile signs with it, and publishes a complete next pair if the run had not.
        if (serverStartsMeanwhile) await expectLoadsActiveFirst(store());
        const published = kidsOf(await store().list());

        const rerun = await store().rotate(RETAIN);
        const after = await store().list();
        expectOneActivePair(after);
        expect(after.filter((k) => k.status === 'next').map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
        // The rerun switches only to a next pair that was complete, hence published, before it ran; otherwise it
        // completes that pair and leaves the active one.
        for (const kid of kidsOf(after, 'active')) expect(published).toContain(kid);
        expect(rerun.switched).toBe(serverStartsMeanwhile || index === recorded.length - 1);
        const loaded = await expectLoadsActiveFirst(store());
        expect(loaded.map((k) => k.kid).sort()).toEqual(kidsOf(after).sort());
      }
    }
  });

  it('keeps a retired pair published until the activation of its successor plus the retention, then marks it for the sweeper', async () => {
    await store().loadJwks();
    const first = await store().list();
    const rotation = await store().rotate(RETAIN);
    const retired = rotation.keys.filter((k) => k.status === 'retired');
    expect(retired.map((k) => k.kid).sort()).toEqual(kidsOf(first, 'active').sort());
    const until = retired[0]!.expiresAt!.getTime();
    expect(Math.abs(until - (Date.now() + RETAIN * 1000))).toBeLessThan(30_000);

    const at = (ms: number) => createKeyStore(db.connection, { box }, () => new Date(ms));
    expect((await at(until - 1000).loadJwks()).keys.map((k) => k.kid)).toEqual(expect.arrayContaining(kidsOf(first, 'active')));
    const later = (await at(until + 1000).loadJwks()).keys.map((k) => k.kid);
    for (const kid of kidsOf(first, 'active')) expect(later).not.toContain(kid);
    expect((await at(until + 1000).published()).keys.map((k) => k.kid)).not.toContain(kidsOf(first, 'active')[0]);
    // The documents carry the same end, so the expiry manager removes them.
    for (const kid of kidsOf(first, 'active')) {
      const doc = await collection().findOne({ 'jwk.kid': kid });
      expect((doc!.expiresAt as Date).getTime()).toBe(until);
    }
  });

  it('migrates keys in the old shape on load: the old active pair keeps signing, the old next pair is next, old retired keys stay until their expiry', async () => {
    const old = await createOldShape();
    const loaded = await Promise.all(Array.from({ length: 3 }, () => store().loadJwks()));
    expect(new Set(loaded.map((l) => l.keys.map((k) => k.kid).join(','))).size).toBe(1);
    const list = await store().list();
    expect(kidsOf(list, 'active').sort()).toEqual([old.active.ES256, old.active.RS256].sort());
    expect(kidsOf(list, 'next').sort()).toEqual([old.next.ES256, old.next.RS256].sort());
    expect(kidsOf(list, 'retired')).toEqual([old.retired]);
    await expectLoadsActiveFirst(store());

    const rotation = await store().rotate(RETAIN);
    expect(kidsOf(rotation.keys, 'active').sort()).toEqual([old.next.ES256, old.next.RS256].sort());
    expect(kidsOf(rotation.keys, 'retired').sort()).toEqual([old.active.ES256, old.active.RS256, old.retired].sort());
    const past = await createKeyStore(db.connection, { box }, () => new Date(Date.now() + 2 * 3600_000)).list();
    expect(kidsOf(past)).not.toContain(old.retired);
    // The old shape's keys were stored in clear: each copy into a generation is sealed.
    const copies = await collection().find({ gen: { $exists: true }, 'jwk.kid': { $in: [old.active.ES256, old.active.RS256, old.next.ES256, old.next.RS256] } }).toArray();
    expect(copies).toHaveLength(4);
    for (const copy of copies) {
      expect(copy.jwk).not.toHaveProperty('d');
      expect((JSON.parse(box.open(copy.sealed as string)) as JWK).d).toEqual(expect.any(String));
    }
  });

  it('a migration interrupted after any of its writes is completed by the next start: the old active pair still signs, the old next pair is next', async () => {
    for (let index = 0; ; index += 1) {
      await collection().deleteMany({});
      const old = await createOldShape();
      const outcome = await interruptedAfter(index).keys.loadJwks().then(
        () => 'done',
        (error: unknown) => (error instanceof Interrupted ? 'interrupted' : Promise.reject(error)),
      );
      await expectLoadsActiveFirst(store());
      const list = await store().list();
      expect(kidsOf(list, 'active').sort()).toEqual([old.active.ES256, old.active.RS256].sort());
      // Also when the interruption came between the activation and the copy of the next pair: an instance starting
      // meanwhile must not make a next pair of its own (it would win the insert race against the migration's copy).
      expect(kidsOf(list, 'next').sort()).toEqual([old.next.ES256, old.next.RS256].sort());
      expect(kidsOf(list, 'retired')).toEqual([old.retired]);
      expect(new Set(kidsOf(list)).size).toBe(list.length);
      if (outcome === 'done') break;
    }
  });
});

describe('revoke', () => {
  beforeEach(() => collection().deleteMany({}));

  it('an active key: rotates first, then neither loads nor publishes it; the other key of its pair stays retired', async () => {
    await store().loadJwks();
    const before = await store().list();
    const victim = before.find((k) => k.status === 'active' && k.alg === 'ES256')!;
    const sibling = before.find((k) => k.status === 'active' && k.alg === 'RS256')!;

    const result = await store().revoke(victim.kid, RETAIN);
    expect(result).toMatchObject({ kid: victim.kid, rotated: true, alreadyRevoked: false });
    const after = await store().list();
    expectOneActivePair(after);
    expect(kidsOf(after, 'active').sort()).toEqual(kidsOf(before, 'next').sort());
    expect(kidsOf(after)).not.toContain(victim.kid);
    expect(kidsOf(after, 'retired')).toEqual([sibling.kid]);
    expect((await store().loadJwks()).keys.map((k) => k.kid)).not.toContain(victim.kid);
    const published = await store().published();
    expect(published.keys.map((k) => k.kid)).not.toContain(victim.kid);
    expect(published.revoked.has(victim.kid)).toBe(true);
  });

  it('a next key: its generation is skipped, a new complete next pair is published at once and later activated', async () => {
    await store().loadJwks();
    const before = await store().list();
    const victim = before.find((k) => k.status === 'next' && k.alg === 'RS256')!;
    expect(await store().revoke(victim.kid, RETAIN)).toMatchObject({ rotated: false });
    const after = await store().list();
    expect(kidsOf(after, 'active').sort()).toEqual(kidsOf(before, 'active').sort());
    const next = after.filter((k) => k.status === 'next');
    expect(next.map((k) => k.alg).sort()).toEqual(['ES256', 'RS256']);
    expect(kidsOf(next)).not.toContain(victim.kid);
    expect(kidsOf(after)).not.toContain(before.find((k) => k.status === 'next' && k.alg === 'ES256')!.kid); // spoiled with it

    const rotation = await store().rotate(RETAIN);
    expect(rotation.switched).toBe(true);
    expect(kidsOf(rotation.keys, 'active').sort()).toEqual(kidsOf(next).sort());
  });

  it('interrupted after each of its writes and run again: the key is gone and one active pair remains', async () => {
    await store().loadJwks();
    const recorded: string[] = [];
    const victimOf = async () => (await store().list()).find((k) => k.status === 'active' && k.alg === 'ES256')!.kid;
    await store((name) => recorded.push(name)).revoke(await victimOf(), RETAIN);
    for (let index = 0; index < recorded.length; index += 1) {
      await collection().deleteMany({});
      await store().loadJwks();
      const victim = await victimOf();
      await expect(interruptedAfter(index).keys.revoke(victim, RETAIN)).rejects.toBeInstanceOf(Interrupted);
      expectOneActivePair(await store().list());
      await store().revoke(victim, RETAIN);
      const after = await store().list();
      expectOneActivePair(after);
      expect(kidsOf(after)).not.toContain(victim);
      expect(after.filter((k) => k.status === 'next')).toHaveLength(2);
      expect((await store().loadJwks()).keys.map((k) => k.kid)).not.toContain(victim);
    }
  });

  it('says undefined for a kid it does not know', async () => {
    await store().loadJwks();
    expect(await store().revoke('no-such-kid', RETAIN)).toBeUndefined();
  });
});

describe('the JWKS route', () => {
  let server: Server;
  let url: string;
  let keys: KeyStore;
  let loaded: JWK[];
  let clock = 0;
  beforeAll(async () => {
    await collection().deleteMany({});
    keys = store();
    loaded = (await keys.loadJwks()).keys;
    // Composed as app.ts composes it: answered first while the last read is fresh, else read again behind.
    const document = jwksDocument({ issuerPath: '/oidc', keyStore: keys, loaded, now: () => clock });
    const app = new Koa();
    app.use(answerPreparedDocuments([document], securityHeaderSetter({ hsts: false }), createLogger('silent')));
    app.use(document.prepare);
    app.use((ctx) => {
      ctx.status = 418; // what the provider would answer
    });
    server = createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/oidc/jwks`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const get = async () => {
    const response = await fetch(url);
    return { response, jwks: (await response.json()) as { keys: Record<string, unknown>[] } };
  };

  it('serves public members only, with the provider’s content type and a short Cache-Control', async () => {
    clock += 10_000;
    const { response, jwks } = await get();
    expect(response.headers.get('content-type')).toBe('application/jwk-set+json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe(JWKS_CACHE_CONTROL);
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual(loaded.map((k) => k.kid).sort());
    for (const key of jwks.keys) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(Object.keys(key).every((m) => ['kty', 'kid', 'alg', 'use', 'crv', 'x', 'y', 'n', 'e'].includes(m))).toBe(true);
    }
    expect(loaded.some((k) => k.d)).toBe(true); // the store does hold private keys
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('cache-control')).toBe(JWKS_CACHE_CONTROL);
    expect((await fetch(url, { method: 'POST' })).status).toBe(418);
  });

  it('reuses a read of the store for at most a second, then shows a revocation', async () => {
    clock += 10_000;
    const victim = (await keys.list()).find((k) => k.status === 'next')!.kid;
    expect((await get()).jwks.keys.map((k) => k.kid)).toContain(victim);
    await keys.revoke(victim, RETAIN);
    clock += 999;
    expect((await get()).jwks.keys.map((k) => k.kid)).toContain(victim);
    clock += 1;
    expect((await get()).jwks.keys.map((k) => k.kid)).not.toContain(victim);
  });

  it('keeps publishing the keys this instance signs with past their retention, but never once revoked', async () => {
    clock += 10_000;
    const signing = loaded.filter((k, i) => loaded.findIndex((o) => o.alg === k.alg) === i).map((k) => k.kid);
    // Two rotations and a clock far past the retention: the store no longer publishes the first pair.
    await keys.rotate(0);
    await keys.rotate(0);
    const fromStore = (await keys.published()).keys.map((k) => k.kid);
    for (const kid of signing) expect(fromStore).not.toContain(kid);
    expect((await get()).jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(signing));
    await keys.revoke(signing[0]!, RETAIN);
    clock += 10_000;
    const served = (await get()).jwks.keys.map((k) => k.kid);
    expect(served).not.toContain(signing[0]);
    expect(served).toContain(signing[1]);
  });
});

it('rotate-cookie: the new key comes first, the previous ones are kept, at most three', async () => {
  const keys = store();
  const first = await keys.cookieKeys(undefined);
  expect(first).toHaveLength(1);
  const second = await keys.rotateCookieKeys();
  expect(second).toHaveLength(2);
  expect(second[1]).toBe(first[0]);
  expect(first).not.toContain(second[0]);
  const third = await keys.rotateCookieKeys();
  const fourth = await keys.rotateCookieKeys();
  expect(fourth).toEqual([expect.any(String), third[0], third[1]]);
  expect(fourth).not.toContain(first[0]);
  expect(await keys.cookieKeys(undefined)).toEqual(fourth);
  expect(await keys.cookieKeys(['configured-key-of-at-least-32-characters'])).toEqual(['configured-key-of-at-least-32-characters']);
});

/** Documents as the code before generations wrote them: ids by kid or `first-<alg>-<state>`, a `state`. */
async function createOldShape() {
  const { generateKeyPairSync, randomBytes } = await import('node:crypto');
  const make = (alg: 'ES256' | 'RS256', state: string, id?: string, extra: Record<string, unknown> = {}) => {
    const kid = randomBytes(12).toString('base64url');
    const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { _id: id ?? kid, alg, jwk: { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' }, state, createdAt: new Date(), ...extra };
  };
  const docs = [
    make('ES256', 'active', 'first-ES256-active'),
    make('RS256', 'active', 'first-RS256-active'),
    make('ES256', 'next'),
    make('RS256', 'next'),
    make('ES256', 'retired', undefined, { retiredAt: new Date(), expiresAt: new Date(Date.now() + 3600_000) }),
  ];
  await collection().insertMany(docs);
  const kid = (i: number) => docs[i]!.jwk.kid;
  return { active: { ES256: kid(0), RS256: kid(1) }, next: { ES256: kid(2), RS256: kid(3) }, retired: kid(4) };
}
