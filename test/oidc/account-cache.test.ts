// Accounts are served from each instance's memory on every protocol request (token use, userinfo, introspection,
// the consent page), yet a change reaches every instance in time: an admin command returns only once no instance
// can still use the old account, and a change made by one instance (a "This wasn't me" lockdown, a reset) is seen
// there at once and on the others within the cache's trust window.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import type { Connection } from 'mongoose';
import { createUser } from '../helpers/factories.ts';
import { discover, tokensFor } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { startTwoInstances, type TwoInstances } from '../helpers/two-instances.ts';
import { waitFor } from '../helpers/recovery.ts';
import { announceChange, changeSettled } from '../../src/db/epoch-cache.ts';
import { createAccounts, SECOND_PASS_DUE_MS } from '../../src/accounts/users.ts';
import { createPasswordHasher } from '../../src/accounts/passwords.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createAccessRevoker } from '../../src/oidc/revocation.ts';
import { accountIndexPlaces } from '../../src/oidc/adapter.ts';
import { REVOCATION_PASSES } from '../../src/oidc/revocation-passes.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import type { User } from '../../src/accounts/user-model.ts';

let first: TestServer;
let second: TestServer;
let adminConnection: Connection;
let rp: ClientMetadata;
let userReads = 0;

let instances: TwoInstances;

beforeAll(async () => {
  instances = await startTwoInstances({ first: { onCommand: ({ commandName, collection }) => void (commandName === 'find' && collection === 'users' && (userReads += 1)) } });
  ({ first, second, adminConnection, rp } = instances);
});
afterAll(() => instances.close());

/**
 * Drops the account's index entries, so a revocation deletes none of its tokens: what refuses them then is the
 * account's state alone, which each instance holds in memory.
 */
async function forgetIndex(user: User): Promise<void> {
  for (const { collection, id } of accountIndexPlaces(adminConnection.db!, user._id)) await collection.deleteOne({ _id: id });
}

const active = async (server: TestServer, token: string) => (await client.tokenIntrospection(await discover(server, rp), token)).active;

it('reads the account from memory for token use, userinfo and introspection', async () => {
  const user = await createUser(first);
  const tokens = await tokensFor(first, rp, user.username);
  const config = await discover(first, rp);
  const before = userReads;
  for (let i = 0; i < 3; i += 1) {
    expect(await active(first, tokens.access_token)).toBe(true);
    expect((await client.fetchUserInfo(config, tokens.access_token, user._id)).sub).toBe(user._id);
  }
  expect(userReads).toBe(before);
});

it('an admin disable is in force on every instance by the time it returns', async () => {
  const user = await createUser(first);
  const tokens = await tokensFor(first, rp, user.username);
  for (const server of [first, second]) expect(await active(server, tokens.access_token)).toBe(true); // both have it in memory
  await forgetIndex(user);
  const admin = createAccounts(adminConnection, await createPasswordHasher(first.config.argon2, { box: configuredSecretBox(first.config) }), createAccessRevoker(adminConnection), {
    afterChange: async () => {
      await announceChange(adminConnection, 'accounts');
      await changeSettled();
    },
  });
  await admin.setStatus(user._id, 'disabled');
  for (const server of [first, second]) {
    expect(await active(server, tokens.access_token)).toBe(false);
    expect(await active(server, tokens.refresh_token!)).toBe(false);
  }
});

it("a lockdown made by one instance holds there at once and on the other within the cache's trust window", async () => {
  const user = await createUser(first);
  const tokens = await tokensFor(first, rp, user.username);
  for (const server of [first, second]) expect(await active(server, tokens.access_token)).toBe(true);
  await forgetIndex(user);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // revocation times have one-second resolution
  await first.latchkey.accounts.lockDown(user._id);
  expect(await active(first, tokens.access_token)).toBe(false);
  await changeSettled();
  expect(await active(second, tokens.access_token)).toBe(false);
});

/**
 * A signed-in account whose index entries are hidden, so that a revocation's first pass finds nothing (as if the
 * grant were saved by another instance just after that pass read the index), and put back by `indexLands` (the
 * grant's entry landing during the window); `storedTokens` counts its access tokens.
 */
async function signedInWithIndexHidden() {
  const user = await createUser(first);
  await tokensFor(first, rp, user.username);
  const places = accountIndexPlaces(adminConnection.db!, user._id);
  const index = await Promise.all(places.map(({ collection, id }) => collection.findOne({ _id: id })));
  await forgetIndex(user);
  return {
    user,
    storedTokens: () => adminConnection.db!.collection('oidc_access_token').countDocuments({ 'payload.accountId': user._id }),
    async indexLands() {
      for (const [i, { collection }] of places.entries()) if (index[i]) await collection.insertOne(index[i]!);
    },
  };
}

it('revokes once more after the trust window, for what another instance issued from its cached copy meanwhile', async () => {
  const { user, storedTokens, indexLands } = await signedInWithIndexHidden();
  await first.latchkey.accounts.lockDown(user._id);
  expect(await storedTokens()).toBe(1);
  await indexLands();
  await changeSettled(); // then the second pass runs, for as long as the machine takes
  expect(await waitFor(async () => ((await storedTokens()) === 0 ? 0 : undefined), 'the second pass to delete the token')).toBe(0);
});

it('has that second pass run by another instance when the one that revoked stops before it (a deploy, a crash)', async () => {
  const { user, storedTokens, indexLands } = await signedInWithIndexHidden();
  const stopping = await startTestServer({}, { sharedDatabase: first.dbUri });
  await stopping.latchkey.accounts.lockDown(user._id);
  await stopping.close();
  await indexLands();
  await changeSettled();
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await storedTokens()).toBe(1); // its pass from memory went with it
  // An instance that starts once every cached copy of the account has surely aged out runs the pass written down.
  const started = await startTestServer({}, { sharedDatabase: first.dbUri, clock: () => Date.now() + SECOND_PASS_DUE_MS });
  try {
    // Sooner than the instance's next look (10 s): at its start.
    expect(await waitFor(async () => ((await storedTokens()) === 0 ? 0 : undefined), 'the second pass to delete the token', 5000)).toBe(0);
    const passesLeft = () => adminConnection.db!.collection(REVOCATION_PASSES).countDocuments({ accountId: user._id });
    expect(await waitFor(async () => ((await passesLeft()) === 0 ? 0 : undefined), 'the pass to be forgotten once it ran')).toBe(0);
  } finally {
    await started.close();
  }
});
