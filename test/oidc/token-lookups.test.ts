// A resource server's introspection (and a client's revocation) names a token value without its kind. Each kind's
// values have their own length (src/oidc/token-ids.ts), so the value is read from its own kind's collection only:
// one read per call instead of three. Values of any other length (issued before, with the library's default
// length) are still looked up as every kind.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as client from 'openid-client';
import { randomBytes } from 'node:crypto';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, discover, signInAndConsent } from '../helpers/rp.ts';
import { Browser } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';

const TOKEN_COLLECTIONS = new Set(['oidc_access_token', 'oidc_client_credentials', 'oidc_refresh_token']);
const tokenReads: string[] = [];
let recording = false;
let server: TestServer;
let rp: ClientMetadata;
let config: client.Configuration;

beforeAll(async () => {
  server = await startTestServer({}, {
    onCommand({ commandName, collection }) {
      if (recording && commandName === 'find' && collection && TOKEN_COLLECTIONS.has(collection)) tokenReads.push(collection);
    },
  });
  rp = await createClient(server, { grant_types: ['authorization_code', 'refresh_token', 'client_credentials'] });
  config = await discover(server, rp);
});
afterAll(() => server.close());

/** Introspects `token` and returns the answer with the token collections it read. */
async function introspect(token: string) {
  tokenReads.length = 0;
  recording = true;
  try {
    return { answer: await client.tokenIntrospection(config, token), reads: [...tokenReads] };
  } finally {
    recording = false;
  }
}

async function signIn() {
  const user = await createUser(server);
  const start = await authorizationUrl(config, rp.redirect_uris[0]!);
  const callback = await signInAndConsent(new Browser(), start, user.email, rp.redirect_uris[0]!);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { user, tokens };
}

describe('introspection reads one token collection', () => {
  it('for an access token, a refresh token and a client-credentials token, each of its own length', async () => {
    const { user, tokens } = await signIn();
    const service = await client.clientCredentialsGrant(config);
    expect([tokens.access_token.length, service.access_token.length, tokens.refresh_token!.length]).toEqual([44, 45, 46]);

    const access = await introspect(tokens.access_token);
    expect(access.answer).toMatchObject({ active: true, sub: user._id, token_type: 'Bearer' });
    expect(access.reads).toEqual(['oidc_access_token']);

    const refresh = await introspect(tokens.refresh_token!);
    expect(refresh.answer).toMatchObject({ active: true, sub: user._id });
    expect(refresh.answer.token_type).toBeUndefined();
    expect(refresh.reads).toEqual(['oidc_refresh_token']);

    const credentials = await introspect(service.access_token);
    expect(credentials.answer).toMatchObject({ active: true, client_id: rp.client_id });
    expect(credentials.reads).toEqual(['oidc_client_credentials']);
  });

  it('answers inactive for an unknown value of a kind’s length, after that one read', async () => {
    const unknown = await introspect(randomBytes(34).toString('base64url').slice(0, 45));
    expect(unknown.answer.active).toBe(false);
    expect(unknown.reads).toEqual(['oidc_client_credentials']);
  });
});

describe('tokens issued with the default length', () => {
  it('are still found as every kind, and revocation still ends them', async () => {
    // A client-credentials token as one issued before the lengths were set: stored under a 43-character value.
    const service = await client.clientCredentialsGrant(config);
    const tokens = server.connection.db!.collection<{ _id: string; payload: Record<string, unknown> }>('oidc_client_credentials');
    const stored = await tokens.findOne({ _id: service.access_token });
    const legacy = randomBytes(32).toString('base64url');
    expect(legacy).toHaveLength(43);
    await tokens.insertOne({ ...stored!, _id: legacy, payload: { ...stored!.payload, jti: legacy } });

    const before = await introspect(legacy);
    expect(before.answer).toMatchObject({ active: true, client_id: rp.client_id });
    expect(before.reads.sort()).toEqual([...TOKEN_COLLECTIONS].sort());

    await client.tokenRevocation(config, legacy);
    expect((await introspect(legacy)).answer.active).toBe(false);
    expect(await tokens.findOne({ _id: legacy })).toBeNull();
    expect((await introspect(service.access_token)).answer.active).toBe(true);
  });
});
