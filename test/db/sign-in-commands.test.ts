// Records every database command of one complete sign-in flow (authorize → sign-in → consent → token →
// userinfo) and fails if any command on that path filters by anything but `_id` alone (on FerretDB any other
// filter scans the whole collection, so this is what keeps sign-in fast as data grows), or if the flow takes more
// round trips than it does today: each costs about a millisecond of server work. And, for the password POST, that
// the commands which can wait for each other's answers do not (one round trip each instead of two).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { Browser, findForm } from '../helpers/browser.ts';
import { createClient, createUser, PASSWORD } from '../helpers/factories.ts';
import { authorizationUrl, discover, openLoginPage, signInAndConsent } from '../helpers/rp.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { filtersOf, isBackgroundWork, isTimedRefresh } from '../helpers/commands.ts';
import { collectionName } from '../../src/oidc/adapter.ts';

interface Recorded {
  commandName: string;
  collection: string | undefined;
  filters: unknown[];
}

const commands: Recorded[] = [];
let recording = false;
let timedRefreshes = 0;
let server: TestServer;

function isIdOnly(filter: unknown): boolean {
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) return false;
  const keys = Object.keys(filter);
  return keys.length === 1 && keys[0] === '_id' && typeof (filter as { _id: unknown })._id === 'string';
}

beforeAll(async () => {
  server = await startTestServer({}, {
    onCommand({ commandName, collection, command }) {
      if (!recording || isBackgroundWork(commandName, collection, command)) return;
      // The policy's reads fall in whichever request runs when its seconds in memory lapse: counted apart.
      if (isTimedRefresh(collection)) timedRefreshes += 1;
      else commands.push({ commandName, collection, filters: filtersOf(commandName, command) });
    },
  });
});
afterAll(() => server.close());

/** A command from its start to its answer, as the driver saw it. */
interface Span {
  commandName: string;
  collection: string;
  started: number;
  ended: number;
}

/** Round trips of one steady-state flow (keys and secrets already loaded, the client and the account known to the instance's caches). */
// (One of them is the lockout's read of the account's disabled mark, NIST's ceiling on failures in a row: it runs
// alongside the read of the account's epoch, so it adds a command but no waiting.)
const MAX_COMMANDS_TO_TOKEN = 30;
const MAX_COMMANDS_WITH_USERINFO = 32;

it('touches the database only by _id, and in a bounded number of round trips, during a complete sign-in flow', async () => {
  const rp = await createClient(server);
  const config = await discover(server, rp);
  const redirectUri = rp.redirect_uris[0]!;
  const signIn = async (login: string) => {
    const start = await authorizationUrl(config, redirectUri);
    const callback = await signInAndConsent(new Browser(), start, login, redirectUri);
    return client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  };
  // A first flow loads what an instance loads once (secrets, the client into its cache). The account's is a returning
  // one's, as most sign-ins are (the benchmark's too): an account's first sign-in also keeps its page language for the
  // owner's notices, one write, once.
  const user = await createUser(server);
  await signIn(user.email);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // the caches trust themselves after their next poll

  recording = true;
  const tokens = await signIn(user.email);
  const toToken = commands.length;
  await client.fetchUserInfo(config, tokens.access_token, user._id);
  recording = false;

  const offending = commands.filter((c) => c.filters.some((f) => !isIdOnly(f)));
  const summary = commands.reduce<Record<string, number>>((acc, c) => {
    const key = `${c.commandName} ${c.collection ?? ''}`.trim();
    acc[key] = (acc[key] ?? 0) + 1;
    return acc;
  }, {});
  console.log(`database commands for one sign-in flow: ${toToken} to the token, ${commands.length} with userinfo\n${JSON.stringify(summary, null, 2)}`);
  expect(offending).toEqual([]);
  expect(toToken).toBeLessThanOrEqual(MAX_COMMANDS_TO_TOKEN);
  expect(commands.length).toBeLessThanOrEqual(MAX_COMMANDS_WITH_USERINFO);
  expect(commands.length).toBeGreaterThan(10);
  // A refresh of the policy is two reads (its hint and version), and requests that find it lapsed together each make
  // one; reading it at every request of the flow would be far more.
  expect(timedRefreshes).toBeLessThanOrEqual(6);
  expect(commands.some((c) => c.commandName === 'find' && c.collection === 'user_aliases')).toBe(true);
});

it('reads the account while it reads the interaction, and clears the lockout while it records the sign-in', async () => {
  const rp = await createClient(server);
  const config = await discover(server, rp);
  const user = await createUser(server);
  const browser = new Browser();
  const form = findForm(await openLoginPage(browser, (await authorizationUrl(config, rp.redirect_uris[0]!)).url), '/login');

  const spans = new Map<number, Span>();
  const mongo = server.connection.getClient();
  const onStarted = (event: { requestId: number; commandName: string; command: Record<string, unknown> }) =>
    spans.set(event.requestId, { commandName: event.commandName, collection: String(event.command[event.commandName]), started: performance.now(), ended: Infinity });
  const onSucceeded = (event: { requestId: number }) => {
    const span = spans.get(event.requestId);
    if (span) span.ended = performance.now();
  };
  mongo.on('commandStarted', onStarted);
  mongo.on('commandSucceeded', onSucceeded);
  const answer = await browser.post(form.action, { ...form.fields, login: user.email, password: PASSWORD });
  mongo.off('commandStarted', onStarted);
  mongo.off('commandSucceeded', onSucceeded);

  expect(answer.status).toBe(303);
  expect(answer.headers.get('location')).toContain('/oidc/auth/');
  const span = (commandName: string, collection: string) => {
    const found = [...spans.values()].filter((s) => s.commandName === commandName && s.collection === collection);
    expect(found).toHaveLength(1);
    return found[0]!;
  };
  const inFlightTogether = (a: Span, b: Span) => a.started < b.ended && b.started < a.ended;
  expect(inFlightTogether(span('find', 'user_aliases'), span('find', 'oidc_interaction'))).toBe(true);
  expect(inFlightTogether(span('update', 'limits'), span('update', 'oidc_interaction'))).toBe(true);
});

it("stores nothing for a first-party application's silent sign-in that asks for what it has, and widens its grant for one asking more", async () => {
  const rp = await createClient(server, { first_party: true });
  const config = await discover(server, rp);
  const redirectUri = rp.redirect_uris[0]!;
  const browser = new Browser();
  await signInAndConsent(browser, await authorizationUrl(config, redirectUri, { scope: 'openid' }), (await createUser(server)).email, redirectUri);
  /** The writes of the grants collection during a silent sign-in asking for `scope`, which must bring back a code. */
  const grantWritesOf = async (scope: string) => {
    const from = commands.length;
    recording = true;
    const start = await authorizationUrl(config, redirectUri, { prompt: 'none', scope });
    const landed = new URL((await browser.follow(await browser.get(start.url.href), redirectUri)).url).searchParams;
    recording = false;
    expect(landed.get('code')).toBeTruthy();
    return commands.slice(from).filter((c) => c.commandName === 'update' && c.collection === collectionName('Grant')).length;
  };
  expect(await grantWritesOf('openid')).toBe(0);
  expect(await grantWritesOf('openid email')).toBe(1);
  expect(await grantWritesOf('openid email')).toBe(0);
});
