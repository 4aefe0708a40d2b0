// A client that authenticates with a JWT signed by its own private key (private_key_jwt, RFC 7523 §2.2; the
// asymmetric authentication RFC 9700 §2.5 recommends): Latchkey holds only its public keys. A relying party
// (openid-client) signs in and redeems its code with it; an assertion works once, only with the registered key and
// an asymmetric algorithm; the admin registers the keys from a file.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createPublicKey, generateKeyPairSync, randomUUID, webcrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as client from 'openid-client';
import { createClient, createUser } from '../helpers/factories.ts';
import { authorizationUrl, signInAndConsent } from '../helpers/rp.ts';
import { Browser } from '../helpers/browser.ts';
import { runAdmin } from '../helpers/admin-cli.ts';
import { hmacJwt, jwtPart } from '../helpers/jwt.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { CLIENT_ASSERTION_ALGS } from '../../src/oidc/client-rules.ts';
import type { ClientMetadata } from '../../src/admin/clients.ts';
import { collectionName } from '../../src/oidc/adapter.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

let server: TestServer;
let keys: CryptoKeyPair;
let publicJwk: Record<string, unknown>;
let rp: ClientMetadata;

async function keyPair(): Promise<{ pair: CryptoKeyPair; jwk: Record<string, unknown> }> {
  const pair = (await webcrypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { pair, jwk: { ...(await webcrypto.subtle.exportKey('jwk', pair.publicKey)), kid: `k-${randomUUID()}`, use: 'sig' } };
}

beforeAll(async () => {
  server = await startTestServer();
  const made = await keyPair();
  keys = made.pair;
  publicJwk = made.jwk;
  rp = await createClient(server, {
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [publicJwk] },
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
  });
});
afterAll(() => server.close());

/** A public JWK of a new key pair of that kind (node:crypto). */
function publicOf(type: 'ec' | 'rsa', options: { namedCurve?: string; modulusLength?: number }): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync(type as 'ec', options as { namedCurve: string });
  return publicKey.export({ format: 'jwk' }) as Record<string, unknown>;
}

/** RFC 7638 §3.1's example key, whose thumbprint the RFC gives. */
const RFC7638_KEY = {
  kty: 'RSA',
  n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
  e: 'AQAB',
};

/** A client assertion (RFC 7523 §3) signed with `key` (ES256), for the token endpoint unless told otherwise. */
async function assertion(key: CryptoKey, claims: Record<string, unknown> = {}, kid = publicJwk.kid): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const signingInput = `${jwtPart({ alg: 'ES256', kid })}.${jwtPart({ iss: rp.client_id, sub: rp.client_id, aud: server.issuer, jti: randomUUID(), iat: now, exp: now + 60, ...claims })}`;
  const signature = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, Buffer.from(signingInput));
  return `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
}

/** A client-credentials grant authenticated by `clientAssertion`. */
function clientCredentials(clientAssertion: string): Promise<Response> {
  return fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }),
  });
}

it('is advertised, with asymmetric algorithms only, and the client gets no secret', async () => {
  const document = (await (await fetch(`${server.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
  expect(document.token_endpoint_auth_methods_supported).toContain('private_key_jwt');
  expect(document.token_endpoint_auth_signing_alg_values_supported).toEqual([...CLIENT_ASSERTION_ALGS]);
  expect(rp.client_secret).toBeUndefined();
  expect((await server.clients.show(rp.client_id)).jwks).toEqual({ keys: [publicJwk] });
});

it('signs a person in: openid-client redeems the code and refreshes with the private key, never a secret', async () => {
  const user = await createUser(server);
  const config = await client.discovery(new URL(server.issuer), rp.client_id, undefined, client.PrivateKeyJwt({ key: keys.privateKey, kid: publicJwk.kid as string }), {
    execute: [client.allowInsecureRequests],
  });
  const redirectUri = rp.redirect_uris[0]!;
  const start = await authorizationUrl(config, redirectUri);
  const callback = await signInAndConsent(new Browser(), start, user.username, redirectUri);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  expect(tokens.claims()!.sub).toBe(user._id);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  expect(refreshed.access_token).toEqual(expect.any(String));
  expect((await client.tokenIntrospection(config, refreshed.access_token)).active).toBe(true);
});

it('takes each assertion once, also when it is sent many times at the same moment', async () => {
  const once = await assertion(keys.privateKey);
  const answers = await Promise.all(Array.from({ length: 10 }, () => clientCredentials(once)));
  expect(answers.map((answer) => answer.status).sort()).toEqual([200, ...Array<number>(9).fill(401)]);
  const refused = await clientCredentials(once);
  expect(refused.status).toBe(401);
  expect(await refused.json()).toMatchObject({ error: 'invalid_client', support_code: expect.any(String) });
});

it.each<[string, () => Promise<string>]>([
  ['signed with another key', async () => assertion((await keyPair()).pair.privateKey)],
  ['for another audience', () => assertion(keys.privateKey, { aud: 'https://elsewhere.example' })],
  // Audience injection (draft-ietf-oauth-rfc7523bis): only the issuer identifier, as a single string, is taken.
  ["addressed to the token endpoint's URL rather than the issuer", () => assertion(keys.privateKey, { aud: `${server.issuer}/token` })],
  ['addressed to a list holding the issuer', () => assertion(keys.privateKey, { aud: [server.issuer, 'https://elsewhere.example'] })],
  ['valid for more than an hour', () => assertion(keys.privateKey, { exp: Math.floor(Date.now() / 1000) + 7200 })],
  ['expired', () => assertion(keys.privateKey, { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 })],
  ['issued by another client', () => assertion(keys.privateKey, { iss: 'someone-else' })],
  // Key confusion: an HMAC keyed with the registered public key, which anyone can read.
  ['signed with HS256 keyed by the public key', async () => {
    const pem = createPublicKey({ key: publicJwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    return hmacJwt({ alg: 'HS256', kid: publicJwk.kid }, { iss: rp.client_id, sub: rp.client_id, aud: server.issuer, jti: randomUUID(), exp: Math.floor(Date.now() / 1000) + 60 }, pem);
  }],
])('refuses an assertion %s (invalid_client)', async (_label, make) => {
  const answer = await clientCredentials(await make());
  expect(answer.status).toBe(401);
  expect(await answer.json()).toMatchObject({ error: 'invalid_client' });
});

it('refuses a secret for a client registered for its keys', async () => {
  const answer = await fetch(`${server.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${rp.client_id}:a-guessed-secret`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  expect(answer.status).toBe(401);
  expect(await answer.json()).toMatchObject({ error: 'invalid_client' });
});

it.each<[string, Record<string, unknown>, string]>([
  ['a private key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'secret' }] } }, 'holds private parts (d)'],
  ['a symmetric key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'holds private parts (k)'],
  ['a key that is not one', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] } }, 'is not a valid public key'],
  // Keys the provider would ignore or could not read: the client could never authenticate, or not even load.
  ['a P-384 key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicOf('ec', { namedCurve: 'P-384' })] } }, 'EC P-384 is not taken'],
  ['a 1024-bit RSA key', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicOf('rsa', { modulusLength: 1024 })] } }, 'at least 2048 bits'],
  ['a key for HS256', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...publicOf('ec', { namedCurve: 'P-256' }), alg: 'HS256' }] } }, 'alg must be one of'],
  ['a key with a certificate chain', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...publicOf('ec', { namedCurve: 'P-256' }), x5c: ['MIIB'] }] } }, 'x5c not taken'],
  ['a key with a numeric kid', { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...publicOf('ec', { namedCurve: 'P-256' }), kid: 7 }] } }, 'kid must be a string'],
  ['no keys', { token_endpoint_auth_method: 'private_key_jwt' }, 'private_key_jwt needs the public keys'],
  ['keys for a secret method', { token_endpoint_auth_method: 'client_secret_basic', jwks: { keys: [{}] } }, 'for --auth-method private_key_jwt only'],
])('refuses to register %s', async (_label, metadata, message) => {
  await expect(createClient(server, metadata)).rejects.toThrow(message);
});

it('moves a client between its keys and a secret: each method keeps only what it uses', async () => {
  const moved = await createClient(server, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } });
  const withSecret = await server.clients.update(moved.client_id, { token_endpoint_auth_method: 'client_secret_basic' });
  expect(withSecret.client_secret).toEqual(expect.any(String));
  expect((await server.clients.show(moved.client_id)).jwks).toBeUndefined();
  await expect(server.clients.update(moved.client_id, { token_endpoint_auth_method: 'private_key_jwt' })).rejects.toThrow('private_key_jwt needs the public keys');
  await server.clients.update(moved.client_id, { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } });
  const keyed = await server.connection.db!.collection<{ _id: string; payload: Record<string, unknown> }>(collectionName('Client')).findOne({ _id: moved.client_id });
  expect(keyed!.payload).not.toHaveProperty('client_secret');
  expect(keyed!.payload.jwks).toEqual({ keys: [publicJwk] });
});

it('registers the keys from a file with the admin CLI, and shows them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-jwks-'));
  try {
    const file = join(dir, 'client-key.json');
    writeFileSync(file, JSON.stringify(publicJwk)); // one JWK, taken as a set of one
    const created = await runAdmin(server.dbUri, ['clients', 'create', '--name', 'Keyed Service', '--client-id', 'keyed-service', '--grant-type', 'client_credentials', '--auth-method', 'private_key_jwt', '--jwks-file', file]);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`client keys\\s+EC ${publicJwk.kid as string}`));
    expect(created.stdout).toContain('Client registered (it signs with its own key: no secret).');
    expect(created.stdout).not.toMatch(/client secret/);
    expect((await server.clients.show('keyed-service')).jwks).toEqual({ keys: [publicJwk] });
    const rotated = await runAdmin(server.dbUri, ['clients', 'rotate-secret', 'keyed-service']);
    expect(rotated.code).toBe(1);
    expect(rotated.stderr).toContain('not possible for a client authenticated by its keys');
    // A PEM public key, as openssl writes it, named by its RFC 7638 thumbprint (the RFC's own example key, §3.1).
    const pemFile = join(dir, 'client-public.pem');
    writeFileSync(pemFile, createPublicKey({ key: RFC7638_KEY as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' }));
    // Named relative to the folder the admin typed the command in (npm's INIT_CWD), not the project's.
    expect((await runAdmin(server.dbUri, ['clients', 'update', 'keyed-service', '--jwks-file', 'client-public.pem'], { env: { INIT_CWD: dir } })).code).toBe(0);
    expect((await server.clients.show('keyed-service')).jwks).toEqual({ keys: [{ ...RFC7638_KEY, kid: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs', use: 'sig' }] });
    const privateFile = join(dir, 'client-private.pem');
    writeFileSync(privateFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const privateGiven = await runAdmin(server.dbUri, ['clients', 'update', 'keyed-service', '--jwks-file', privateFile]);
    expect(privateGiven.code).toBe(2);
    expect(privateGiven.stderr).toContain('this is a private key; give its public key');
    const unreadable = await runAdmin(server.dbUri, ['clients', 'update', 'keyed-service', '--jwks-file', join(dir, 'missing.json')]);
    expect(unreadable.code).toBe(2); // a usage error: the option names a file that is not there
    expect(unreadable.stderr).toContain('--jwks-file');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
