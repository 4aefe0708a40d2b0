// Changing DATA_ENCRYPTION_KEY, the key that seals authenticator seeds, password hashes and client secrets: a server given the new key alone cannot open
// seeds the old one sealed, and says so plainly (spending nothing); with the old key in DATA_ENCRYPTION_KEY_PREVIOUS
// it opens them; `keys reseal-secrets` seals them again with the new key, after which the old one can go. A seed
// sealed again is the same authenticator: a proof made with it before still stands. Client secrets are stored sealed,
// and those stored in clear by an earlier release are sealed by the same command.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateSecret, generateSync } from 'otplib';
import { Browser, messageIds, type Page } from '../helpers/browser.ts';
import { createClient, createUser, openedHash, PASSWORD } from '../helpers/factories.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { openTestDatabase } from '../helpers/database.ts';
import { CAPTCHA_ANSWER, chooseGoal, chooseMethod, enterCode, identify, outbox, sendCode, submit, submitRefused, waitFor } from '../helpers/recovery.ts';
import * as rp from 'openid-client';
import { authorizationUrl, discover, openLoginPage, submitLogin, tokensFor } from '../helpers/rp.ts';
import { createSecretBox, isSealed, UnreadableSecretError } from '../../src/security/encryption.ts';
import { createKeyStore, SIGNING_KEYS } from '../../src/oidc/keys.ts';
import type { JWK } from 'oidc-provider';
import { collectionName } from '../../src/oidc/adapter.ts';
import { announceChange, changeSettled } from '../../src/db/epoch-cache.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { LIMITS } from '../../src/security/limits.ts';
import type { User } from '../../src/accounts/user-model.ts';

const OLD_KEY = 'b2'.repeat(32);
const NEW_KEY = 'c3'.repeat(32);
const UNKNOWN_KEY = 'd4'.repeat(32);
/** An older key still listed: DATA_ENCRYPTION_KEY_PREVIOUS may name several. */
const OLDER_KEY = 'e5'.repeat(32);
const NEW_PASSWORD = 'a fresh passphrase after the key change';

/** Two instances of one deployment: one given the new key alone, one given the old key as a previous one too. */
let newKeyOnly: TestServer;
let withPrevious: TestServer;

beforeAll(async () => {
  newKeyOnly = await startTestServer({ CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, DATA_ENCRYPTION_KEY: NEW_KEY });
  withPrevious = await startTestServer(
    { CAPTCHA_TEST_ANSWER: CAPTCHA_ANSWER, DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: `${OLDER_KEY}, ${OLD_KEY}` },
    { sharedDatabase: newKeyOnly.dbUri },
  );
});
afterAll(async () => {
  await withPrevious.close();
  await newKeyOnly.close();
});

const users = () => newKeyOnly.connection.db!.collection<User>('users');

/**
 * A user whose authenticator seed was sealed with `key` (before the change, for OLD_KEY), and perhaps an alternate
 * email; its codes at any time.
 */
async function userWithSeedSealedBy(key: string, alternateEmail?: string): Promise<{ user: User; code: (epochSeconds?: number) => string }> {
  const user = await createUser(newKeyOnly);
  const secret = generateSecret();
  const totpSecret = createSecretBox(Buffer.from(key, 'hex')).seal(secret);
  const securityInfo = { authenticator: { totpSecret, registeredAt: new Date() }, ...(alternateEmail && { alternateEmail }) };
  await users().updateOne({ _id: user._id }, { $set: { securityInfo } });
  return { user, code: (epoch = Math.floor(Date.now() / 1000)) => generateSync({ secret, epoch }) };
}

async function atAuthenticatorStep(server: TestServer, browser: Browser, user: User) {
  return chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username), 'reset'), 'totp');
}

const reseal = (env: Record<string, string | undefined>) => runAdmin(newKeyOnly.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', ...env } });

describe('changing DATA_ENCRYPTION_KEY', () => {
  let rotated: Awaited<ReturnType<typeof userWithSeedSealedBy>>;
  let provedBefore: Awaited<ReturnType<typeof userWithSeedSealedBy>>;

  beforeAll(async () => {
    rotated = await userWithSeedSealedBy(OLD_KEY);
    provedBefore = await userWithSeedSealedBy(OLD_KEY);
  });

  const loggedUnreadable = (user: User) =>
    newKeyOnly.logs.map((line) => JSON.parse(line) as { level: number; error?: string; accountId?: string }).filter((l) => l.level === 50 && l.error === 'secret_unreadable' && l.accountId === user._id);

  it('without the old key, an authenticator sealed by it cannot be checked: first, a wrong code as a decoy gets it (no try spent, the error logged)', async () => {
    const browser = new Browser();
    const atTotp = await atAuthenticatorStep(newKeyOnly, browser, rotated.user);
    const limitsBefore = await newKeyOnly.connection.db!.collection(LIMITS).countDocuments();
    const answer = await enterCode(browser, atTotp, rotated.code());
    // As an unknown login's authenticator step answers: a different answer would tell that the login has an account.
    expect(answer.status).toBe(200);
    expect(messageIds(answer)).toContain('recover.totp_wrong');
    expect(await newKeyOnly.connection.db!.collection(LIMITS).countDocuments()).toBe(limitsBefore);
    expect(loggedUnreadable(rotated.user)).toHaveLength(1);
  });

  it('once a proof is in, the page says the authenticator cannot be checked right now', async () => {
    const alternateEmail = `rotated-${Date.now()}@example.net`;
    const { user, code } = await userWithSeedSealedBy(OLD_KEY, alternateEmail);
    const browser = new Browser();
    const methods = await chooseGoal(browser, await identify(newKeyOnly, browser, user.username), 'reset');
    const sent = await sendCode(browser, await chooseMethod(browser, methods, 'email'));
    const emailed = await waitFor(async () => {
      const mail = (await outbox(newKeyOnly)).find((m) => m.to === alternateEmail);
      return mail && /\b(\d{6})\b/.exec(mail.text)?.[1];
    }, 'the emailed code');
    // An authenticator proves more than a mailbox: it is what the second step asks for.
    const second = await enterCode(browser, sent, emailed);
    expect(messageIds(second)).toContain('recover.choose_second');
    const answer = await submitRefused(browser, await chooseMethod(browser, second, 'totp'), '/code', { code: code() });
    expect(messageIds(answer)).toContain('recover.method_unavailable');
    expect(loggedUnreadable(user)).toHaveLength(1);
  });

  it('refuses to reseal with the public development key (DATA_ENCRYPTION_KEY unset)', async () => {
    const before = (await users().findOne({ _id: rotated.user._id }))!.securityInfo.authenticator!.totpSecret;
    const run = await reseal({ DATA_ENCRYPTION_KEY: undefined, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('DATA_ENCRYPTION_KEY is not set');
    expect((await users().findOne({ _id: rotated.user._id }))!.securityInfo.authenticator!.totpSecret).toBe(before);
  });

  it('with the old key in DATA_ENCRYPTION_KEY_PREVIOUS, the code is accepted', async () => {
    const browser = new Browser();
    const answer = await enterCode(browser, await atAuthenticatorStep(withPrevious, browser, provedBefore.user), provedBefore.code());
    expect(messageIds(answer)).toContain('recover.password_heading');

    // `keys reseal-secrets` while this flow waits for its new password: the seed is sealed again with the new key...
    const run = await reseal({ DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ resealed: 3, unreadable: [] }); // the seeds: the passwords were sealed with the new key
    const stored = (await users().findOne({ _id: provedBefore.user._id }))!.securityInfo.authenticator!;
    expect(createSecretBox(Buffer.from(NEW_KEY, 'hex')).opens(stored.totpSecret!)).toBe(true);
    expect(createSecretBox(Buffer.from(OLD_KEY, 'hex')).opens(stored.totpSecret!)).toBe(false);

    // ...and it is the same authenticator: the proof made with it still stands, so the flow finishes.
    const done = await submit(browser, answer, '/password', { password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(messageIds(done)).toContain('recover.done_reset');
  });

  it('after the reseal, the server without the old key accepts the code; a second run changes nothing', async () => {
    const browser = new Browser();
    const answer = await enterCode(browser, await atAuthenticatorStep(newKeyOnly, browser, rotated.user), rotated.code());
    expect(messageIds(answer)).toContain('recover.password_heading');

    const again = await reseal({ DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: undefined });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ resealed: 0, unreadable: [] });
  });

  it('a seed that no configured key opens is named, left as it is, and the command exits 1', async () => {
    const lost = await userWithSeedSealedBy(UNKNOWN_KEY);
    const before = (await users().findOne({ _id: lost.user._id }))!.securityInfo.authenticator!.totpSecret;
    const run = await reseal({ DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ resealed: 0, unreadable: [lost.user.username] });
    expect(run.stderr).toContain('DATA_ENCRYPTION_KEY_PREVIOUS');
    expect((await users().findOne({ _id: lost.user._id }))!.securityInfo.authenticator!.totpSecret).toBe(before);
  });
});

describe('the signing and cookie keys under DATA_ENCRYPTION_KEY', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY });
  });
  afterAll(() => server.close());
  const box = (key: string) => createSecretBox(Buffer.from(key, 'hex'));

  it('keys rotate and keys revoke in a shell with another key than the servers\' are refused before they change anything', async () => {
    const listed = async () => (await createKeyStore(server.connection, { box: box(NEW_KEY) }).list()).map((k) => `${k.kid}:${k.status}`).sort();
    const before = await listed();
    const next = before.find((entry) => entry.endsWith(':next'))!.split(':')[0]!;
    for (const args of [['keys', 'rotate'], ['keys', 'revoke', next], ['keys', 'rotate-cookie']]) {
      const run = await runAdmin(server.dbUri, args, { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OLD_KEY } });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("this shell's DATA_ENCRYPTION_KEY is not the one the servers use");
      expect(await listed()).toEqual(before);
    }
  });

  it('reseal-secrets seals the keys an earlier release stored in clear, and those the old key sealed; they stay the same keys', async () => {
    const db = server.connection.db!;
    const signingKeys = db.collection<{ _id: string; jwk: JWK; sealed?: string }>(SIGNING_KEYS);
    const before = (await createKeyStore(server.connection, { box: box(NEW_KEY) }).loadJwks()).keys;
    const [inClear, oldSealed] = await signingKeys.find({ sealed: { $exists: true } }).limit(2).toArray();
    const privateOf = (doc: { sealed?: string }) => box(NEW_KEY).open(doc.sealed!);
    await signingKeys.updateOne({ _id: inClear!._id }, { $set: { jwk: JSON.parse(privateOf(inClear!)) as JWK }, $unset: { sealed: '' } });
    await signingKeys.updateOne({ _id: oldSealed!._id }, { $set: { sealed: box(OLD_KEY).seal(privateOf(oldSealed!)) } });
    const secrets = db.collection<{ _id: string; keys?: string[]; sealed?: string }>('secrets');
    const cookieKeys = JSON.parse(box(NEW_KEY).open((await secrets.findOne({ _id: 'cookie-keys' }))!.sealed!)) as string[];
    await secrets.updateOne({ _id: 'cookie-keys' }, { $set: { keys: cookieKeys }, $unset: { sealed: '' } });
    // Until then the new key alone cannot open the old key's; with it as a previous key, both load.
    await expect(createKeyStore(server.connection, { box: box(NEW_KEY) }).loadJwks()).rejects.toBeInstanceOf(UnreadableSecretError);
    expect((await createKeyStore(server.connection, { box: createSecretBox(Buffer.from(NEW_KEY, 'hex'), [Buffer.from(OLD_KEY, 'hex')]) }).loadJwks()).keys).toEqual(before);

    const run = await runAdmin(server.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY } });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ resealed: 3, unreadable: [] });
    for (const doc of await signingKeys.find({}).toArray()) {
      if (!('jwk' in doc)) continue;
      expect(doc.jwk).not.toHaveProperty('d');
      expect(JSON.parse(box(NEW_KEY).open(doc.sealed!))).toMatchObject({ kid: doc.jwk.kid, d: expect.any(String) });
    }
    expect((await createKeyStore(server.connection, { box: box(NEW_KEY) }).loadJwks()).keys).toEqual(before);
    const cookies = (await secrets.findOne({ _id: 'cookie-keys' }))!;
    expect(cookies.keys).toBeUndefined();
    expect(JSON.parse(box(NEW_KEY).open(cookies.sealed!))).toEqual(cookieKeys);
  });
});

describe("clients' secrets under DATA_ENCRYPTION_KEY", () => {
  /** A deployment of its own, so that what the seeds above leave behind does not count here. */
  let current: TestServer;
  let previous: TestServer;
  beforeAll(async () => {
    current = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY });
    previous = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY }, { sharedDatabase: current.dbUri });
  });
  afterAll(async () => {
    await previous.close();
    await current.close();
  });

  const clients = () => current.connection.db!.collection<{ _id: string; payload: { client_secret?: string } }>(collectionName('Client'));
  const storedSecret = async (clientId: string) => (await clients().findOne({ _id: clientId }))!.payload.client_secret!;
  const box = (key: string) => createSecretBox(Buffer.from(key, 'hex'));
  const serviceClient = () => current.clients.create({ client_name: 'Service', grant_types: ['client_credentials'], redirect_uris: [] });
  /** A client-credentials grant at `server`, the client authenticating with its secret (client_secret_basic). */
  const grant = async (server: TestServer, metadata: ClientMetadata) => rp.clientCredentialsGrant(await discover(server, metadata));
  /** The client's stored secret replaced, as an earlier release or an earlier key left it; every instance told. */
  async function storedAs(clientId: string, stored: string) {
    await clients().updateOne({ _id: clientId }, { $set: { 'payload.client_secret': stored } });
    await announceChange(current.connection, 'clients');
    await changeSettled();
  }

  it('are stored sealed with it: a copy of the database does not hold them, and the clients still authenticate', async () => {
    const service = await serviceClient();
    const stored = await storedSecret(service.client_id);
    expect(stored).not.toContain(service.client_secret!);
    expect(box(NEW_KEY).open(stored)).toBe(service.client_secret);
    expect((await grant(current, service)).access_token).toBeTruthy();
    // A rotated secret is sealed too, and the old one is refused at once.
    const rotated = await current.clients.rotateSecret(service.client_id);
    expect(box(NEW_KEY).open(await storedSecret(service.client_id))).toBe(rotated.client_secret);
    await expect(grant(current, service)).rejects.toMatchObject({ error: 'invalid_client' });
    expect((await grant(previous, rotated)).access_token).toBeTruthy();
  });

  it('sealed by the old key, or stored in clear by an earlier release, keep working; reseal-secrets seals them with the new key', async () => {
    const oldSealed = await serviceClient();
    await storedAs(oldSealed.client_id, box(OLD_KEY).seal(oldSealed.client_secret!));
    const inClear = await serviceClient();
    await storedAs(inClear.client_id, inClear.client_secret!);
    expect((await grant(previous, oldSealed)).access_token).toBeTruthy();
    expect((await grant(current, inClear)).access_token).toBeTruthy();

    const run = await runAdmin(current.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY } });
    expect(run.code).toBe(0);
    // Already sealed with the new key: the first client, and the deployment's four signing keys and its cookie keys.
    expect(JSON.parse(run.stdout)).toEqual({ resealed: 2, alreadyCurrent: 6, unreadable: [] });
    // The old key goes no sooner than the outbox's waiting messages, which it alone opens (README).
    expect(run.stderr).toContain('a day from now at the soonest, remove it from DATA_ENCRYPTION_KEY_PREVIOUS');
    for (const client of [oldSealed, inClear]) {
      expect(box(NEW_KEY).open(await storedSecret(client.client_id))).toBe(client.client_secret);
      expect((await grant(current, client)).access_token).toBeTruthy(); // the instance without the old key
    }
  });

  it('a client secret no configured key opens fails its authentication (invalid_client) and is logged; reseal-secrets names it, leaves it, and exits 1', async () => {
    const lost = await serviceClient();
    const stored = box(UNKNOWN_KEY).seal(lost.client_secret!);
    await storedAs(lost.client_id, stored);
    await expect(grant(current, lost)).rejects.toMatchObject({ error: 'invalid_client' });
    const logged = current.logs.map((line) => JSON.parse(line) as { level: number; event?: string; clientId?: string });
    expect(logged.some((l) => l.level === 50 && l.event === 'secret_unreadable' && l.clientId === lost.client_id)).toBe(true);
    const run = await runAdmin(current.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY } });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout)).toMatchObject({ resealed: 0, unreadable: [`client ${lost.client_id}`] });
    expect(await storedSecret(lost.client_id)).toBe(stored);

    // What the message says to do works: listing needs no key, and rotate-secret replaces what it cannot open.
    const listed = await runAdmin(current.dbUri, ['clients', 'list', '--json'], { env: { DATA_ENCRYPTION_KEY: undefined } });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(lost.client_id);
    const rotated = await runAdmin(current.dbUri, ['clients', 'rotate-secret', lost.client_id, '--json'], { env: { DATA_ENCRYPTION_KEY: NEW_KEY } });
    expect(rotated.code).toBe(0);
    const fresh = (JSON.parse(rotated.stdout) as { client_secret: string }).client_secret;
    expect((await grant(current, { ...lost, client_secret: fresh })).access_token).toBeTruthy();
  });

  it("refuses to seal anything with a key that is not the servers': the secret would be one they cannot open", async () => {
    const service = await serviceClient();
    const stored = await storedSecret(service.client_id);
    for (const [args, key] of [
      [['clients', 'rotate-secret', service.client_id], OLD_KEY],
      [['clients', 'create', '--name', 'Wiki', '--redirect-uri', 'https://wiki.example/cb'], undefined], // the public development key
      [['keys', 'reseal-secrets'], OLD_KEY],
    ] as const) {
      const run = await runAdmin(current.dbUri, [...args], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: key } });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain("DATA_ENCRYPTION_KEY is not the one the servers use");
    }
    expect(await storedSecret(service.client_id)).toBe(stored);
    expect((await grant(current, service)).access_token).toBeTruthy();
    const names = (JSON.parse((await runAdmin(current.dbUri, ['clients', 'list', '--json'])).stdout) as ClientMetadata[]).map((c) => c.client_name);
    expect(names).not.toContain('Wiki');
  });

  it('gives a public client made confidential a secret sealed with the servers\' key, and only with it', async () => {
    const app = await current.clients.create({ client_name: 'App', redirect_uris: ['https://app.example/cb'], token_endpoint_auth_method: 'none' });
    const update = (key: string | undefined) => runAdmin(current.dbUri, ['clients', 'update', app.client_id, '--auth-method', 'client_secret_basic', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: key } });
    const refused = await update(OLD_KEY);
    expect(refused.code).toBe(1);
    expect((await clients().findOne({ _id: app.client_id }))!.payload.client_secret).toBeUndefined();
    // Another update, which makes no secret, needs no key at all.
    const renamed = await runAdmin(current.dbUri, ['clients', 'update', app.client_id, '--name', 'App 2'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OLD_KEY } });
    expect(renamed.code).toBe(0);

    const made = await update(NEW_KEY);
    expect(made.code).toBe(0);
    const { client_secret: secret } = JSON.parse(made.stdout) as { client_secret: string };
    expect(secret).toMatch(/^[\w-]{43}$/);
    expect(box(NEW_KEY).open(await storedSecret(app.client_id))).toBe(secret);
  });

  it('on a database no server has started on, a sealing command refuses the public development key, and a server started later with another key than the command\'s does not start', async () => {
    const fresh = await openTestDatabase();
    try {
      const create = (key: string | undefined) =>
        runAdmin(fresh.uri, ['clients', 'create', '--name', 'Early', '--redirect-uri', 'https://early.example/cb', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: key } });
      const refused = await create(undefined);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('no server has started on this database yet');
      expect(await fresh.connection.db!.collection(collectionName('Client')).countDocuments()).toBe(0);

      expect((await create(OLD_KEY)).code).toBe(0); // its key is now the one published
      // It would seal its signing keys with a key the client's secret was not sealed with: it says so, and stores none.
      await expect(startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY }, { sharedDatabase: fresh.uri })).rejects.toThrow('DATA_ENCRYPTION_KEY is not the key the servers on this database use');
      expect(await fresh.connection.db!.collection(SIGNING_KEYS).countDocuments()).toBe(0);
      const later = await startTestServer({ DATA_ENCRYPTION_KEY: OLD_KEY }, { sharedDatabase: fresh.uri });
      await later.close();
    } finally {
      await fresh.drop();
    }
  });

  it('an instance given a key that opens none of the stored signing keys does not start, and says why; a key change under way does', async () => {
    // The joined database is shared: a server that does not start must not drop it.
    await expect(startTestServer({ DATA_ENCRYPTION_KEY: UNKNOWN_KEY }, { sharedDatabase: current.dbUri })).rejects.toBeInstanceOf(UnreadableSecretError);
    // Nothing of its key was published: an administrator's command with the servers' key is still taken.
    const rotated = await runAdmin(current.dbUri, ['clients', 'rotate-secret', (await serviceClient()).client_id, '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY } });
    expect(rotated.code).toBe(0);
    const changing = await startTestServer({ DATA_ENCRYPTION_KEY: OLDER_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: NEW_KEY }, { sharedDatabase: current.dbUri });
    await changing.close();
  });

  it('an instance whose key is not the one the last instance published says so in its log', async () => {
    const logged = (server: TestServer) => server.logs.some((line) => (JSON.parse(line) as { event?: string }).event === 'data_key.different');
    expect(logged(current) || logged(previous)).toBe(false); // the second had the first's key, with an old one beside it
    // As a stranger of an earlier release, which started on any key, would have left it.
    const checks = current.connection.db!.collection<{ _id: string; check: string }>('data_key_check');
    await checks.updateOne({ _id: 'current' }, { $set: { check: createHmac('sha256', Buffer.from(UNKNOWN_KEY, 'hex')).update('latchkey data key check').digest('base64url') } });
    // The keys it opens vouch for it: it starts, and says that the last check was another key's.
    const witness = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY }, { sharedDatabase: current.dbUri });
    await witness.close();
    expect(logged(witness)).toBe(true);
  });

  it('with keys an earlier release stored in clear, an instance given another key than the servers\' does not start, and stores nothing; a key change under way starts', async () => {
    // As an earlier release left them: the signing and cookie keys in clear, which any key would load.
    const db = current.connection.db!;
    const signingKeys = db.collection<{ _id: string; jwk: JWK; sealed?: string }>(SIGNING_KEYS);
    const opener = createSecretBox(Buffer.from(NEW_KEY, 'hex'), [Buffer.from(OLDER_KEY, 'hex')]);
    for (const doc of await signingKeys.find({ sealed: { $exists: true } }).toArray()) {
      await signingKeys.updateOne({ _id: doc._id }, { $set: { jwk: JSON.parse(opener.open(doc.sealed!)) as JWK }, $unset: { sealed: '' } });
    }
    const secrets = db.collection<{ _id: string; sealed?: string }>('secrets');
    const cookies = (await secrets.findOne({ _id: 'cookie-keys' }))!;
    await secrets.updateOne({ _id: 'cookie-keys' }, { $set: { keys: JSON.parse(opener.open(cookies.sealed!)) as string[] }, $unset: { sealed: '' } });
    // An interrupted rotation left the next pair to complete: the stranger would seal it with a key nobody else has.
    const next = Math.max(...(await signingKeys.find({ gen: { $exists: true } }).toArray()).map((doc) => (doc as { gen?: number }).gen ?? 0));
    await signingKeys.deleteMany({ _id: { $regex: `^g${next}-` } });
    const stored = await signingKeys.countDocuments({});
    await expect(startTestServer({ DATA_ENCRYPTION_KEY: UNKNOWN_KEY }, { sharedDatabase: current.dbUri })).rejects.toThrow(
      'DATA_ENCRYPTION_KEY is not the key the servers on this database use (nor in DATA_ENCRYPTION_KEY_PREVIOUS): nothing was stored',
    );
    expect(await signingKeys.countDocuments({})).toBe(stored);
    // The servers' next key, with theirs as the one it replaces: a key change, not a mistake. It completes the pair.
    const changing = await startTestServer({ DATA_ENCRYPTION_KEY: OLDER_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: NEW_KEY }, { sharedDatabase: current.dbUri });
    await changing.close();
    expect(await signingKeys.countDocuments({ _id: { $regex: `^g${next}-` }, sealed: { $exists: true } })).toBe(2);
  });
});

describe('password hashes under DATA_ENCRYPTION_KEY', () => {
  /** A deployment of its own: the counts of reseal-secrets are of its accounts alone. */
  let current: TestServer;
  let previous: TestServer;
  let app: ClientMetadata;
  beforeAll(async () => {
    current = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY });
    previous = await startTestServer({ DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY }, { sharedDatabase: current.dbUri });
    app = await createClient(current);
  });
  afterAll(async () => {
    await previous.close();
    await current.close();
  });

  const accounts = () => current.connection.db!.collection<User>('users');
  const storedHash = async (user: User) => (await accounts().findOne({ _id: user._id }))!.passwordHash;
  const box = (key: string) => createSecretBox(Buffer.from(key, 'hex'));
  /** A user whose argon2 hash is stored as `form` makes it: sealed by another key, or in clear (an earlier release). */
  async function userStored(form: (hash: string) => string): Promise<{ user: User; hash: string }> {
    const user = await createUser(current);
    const hash = openedHash(current, user.passwordHash);
    await accounts().updateOne({ _id: user._id }, { $set: { passwordHash: form(hash) } });
    await announceChange(current.connection, 'accounts');
    await changeSettled();
    return { user, hash };
  }
  /** The sign-in form posted at `server`: the answer (a refusal's page after its redirect, or the redirect onwards). */
  async function postSignIn(server: TestServer, login: string, password = PASSWORD): Promise<Page> {
    const browser = new Browser();
    const start = await authorizationUrl(await discover(server, app), app.redirect_uris[0]!);
    return submitLogin(browser, await openLoginPage(browser, start.url), login, password);
  }

  it('sealed by the old key, or stored in clear by an earlier release, still sign in; a sign-in leaves them as they are (only reseal-secrets moves them, once every instance has the key)', async () => {
    const oldSealed = await userStored((hash) => box(OLD_KEY).seal(hash));
    const inClear = await userStored((hash) => hash);
    const before = await Promise.all([storedHash(oldSealed.user), storedHash(inClear.user)]);
    expect(messageIds(await postSignIn(previous, oldSealed.user.username, 'not the password at all'))).toContain('login.invalid');
    expect((await tokensFor(previous, app, oldSealed.user.username)).id_token).toBeTruthy();
    expect((await tokensFor(current, app, inClear.user.username)).id_token).toBeTruthy();
    // An instance still without the new key (a key change rolling out) signs the first in as before.
    expect(await Promise.all([storedHash(oldSealed.user), storedHash(inClear.user)])).toEqual(before);
    expect(isSealed(before[1]!)).toBe(false);
  });

  it('reseal-secrets seals them all without their passwords; the instance without the old key then signs them in', async () => {
    const oldSealed = await userStored((hash) => box(OLD_KEY).seal(hash));
    const inClear = await userStored((hash) => hash);
    const run = await runAdmin(current.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY, DATA_ENCRYPTION_KEY_PREVIOUS: OLD_KEY } });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ resealed: 4, unreadable: [] }); // with the two of the test before
    for (const { user, hash } of [oldSealed, inClear]) {
      expect(box(NEW_KEY).open(await storedHash(user))).toBe(hash);
      expect((await tokensFor(current, app, user.username)).id_token).toBeTruthy();
    }
  });

  it('a hash no configured key opens: the sign-in answers as a wrong password does (an unknown login gets the same) and the operator is told; reseal-secrets names it', async () => {
    const lost = await userStored((hash) => box(UNKNOWN_KEY).seal(hash));
    const before = await storedHash(lost.user);
    const answer = await postSignIn(current, lost.user.username);
    const unknown = await postSignIn(current, 'nobody-by-this-name');
    expect([answer.status, unknown.status]).toEqual([200, 200]);
    expect(messageIds(answer)).toContain('login.invalid');
    expect(messageIds(answer)).toEqual(messageIds(unknown));
    const logged = current.logs.map((line) => JSON.parse(line) as { level: number; event?: string; accountId?: string });
    expect(logged.some((l) => l.level === 50 && l.event === 'secret_unreadable' && l.accountId === lost.user._id)).toBe(true);
    const damaged = await userStored(() => 'damaged in the database'); // neither sealed nor a hash: not sealed as one
    const run = await runAdmin(current.dbUri, ['keys', 'reseal-secrets', '--json'], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: NEW_KEY } });
    expect(run.code).toBe(1);
    const { resealed, unreadable } = JSON.parse(run.stdout) as { resealed: number; unreadable: string[] };
    expect({ resealed, unreadable: unreadable.sort() }).toEqual({ resealed: 0, unreadable: [`password of ${lost.user.username}`, `password of ${damaged.user.username}`].sort() });
    expect(run.stderr).toContain('users set-password');
    expect(await storedHash(lost.user)).toBe(before);
    expect(await storedHash(damaged.user)).toBe('damaged in the database');
  });

  it("an administrator's new password is sealed with the servers' key, and only with it", async () => {
    const user = await createUser(current);
    const before = await storedHash(user);
    const setPassword = (key: string) =>
      runAdmin(current.dbUri, ['users', 'set-password', user.username, '--password-stdin', '--permanent'], { input: `${NEW_PASSWORD}\n`, env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: key } });
    const refused = await setPassword(OLD_KEY);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('DATA_ENCRYPTION_KEY is not the one the servers use');
    expect(await storedHash(user)).toBe(before);
    // Reading accounts needs no key of the servers'.
    expect((await runAdmin(current.dbUri, ['users', 'show', user.username], { env: { NODE_ENV: 'test', DATA_ENCRYPTION_KEY: OLD_KEY } })).code).toBe(0);

    expect((await setPassword(NEW_KEY)).code).toBe(0);
    expect(box(NEW_KEY).open(await storedHash(user))).toMatch(/^\$argon2id\$/);
    expect(messageIds(await postSignIn(current, user.username, NEW_PASSWORD))).not.toContain('login.invalid');
  });
});
