// Client registry commands shared by the admin CLI (and, later, the admin console). Clients are stored where
// oidc-provider's adapter looks them up (`oidc_client`, `_id` = client_id), so the provider uses a new or changed
// client on its next request, without a restart.
import { createPublicKey, randomBytes } from 'node:crypto';
import type { Connection, mongo } from 'mongoose';
import { z } from 'zod';
import { collectionName, revokeGrant } from '../oidc/adapter.ts';
import { CLIENT_ASSERTION_ALGS, CLIENT_AUTH_METHODS, DEFAULT_ID_TOKEN_ALG, ID_TOKEN_ALGS, knownScopes, SECRET_AUTH_METHODS } from '../oidc/client-rules.ts';
import { announceChange, changeSettled } from '../db/epoch-cache.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { isDuplicateKey } from '../db/atomic.ts';
import { openedClient } from '../oidc/client-secret.ts';
import { boxWhenNeeded, type SecretBoxSource } from '../security/encryption.ts';

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** RFC 8252 §7.3: a native app listens on a loopback IP literal; `localhost` may resolve elsewhere (§8.3). */
const LOOPBACK_IPS = new Set(['127.0.0.1', '[::1]']);
/** RFC 8252 §7.1: a private-use scheme is a reverse domain name the app's publisher owns (com.example.app:). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/;

export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];
/** White space or a control character: nothing a redirect URI holds unencoded, and invisible when typed in. */
const UNSEEN_CHARACTERS = /[\s\p{Cc}]/u;
/** Longer is no real application's address, and every sign-in request carries one (browsers cut URLs near 2 kB). */
const MAX_REDIRECT_URI_LENGTH = 2000;

/**
 * Redirect URIs are compared exactly by the provider (but for the port of a native app's loopback address, RFC 8252
 * §7.3); here we refuse the ones that are unsafe to register at all: fragments, credentials in the URL, wildcards
 * (which look like patterns but would only ever match themselves), and for a web application anything but https
 * (http on loopback for development). A native app (RFC 8252) may use http on a loopback IP literal, a claimed https
 * address, or a private-use scheme named after its publisher's domain.
 */
export function redirectUriProblem(value: string, applicationType: ApplicationType = 'web'): string | undefined {
  if (value.length > MAX_REDIRECT_URI_LENGTH) return `is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  if (value.includes('*')) return 'must not contain a wildcard (*): redirect URIs are compared exactly, so register each one';
  // `new URL` would quietly drop a space or line break copied around the address, but the provider compares the
  // registered value exactly: every sign-in would then fail with a redirect_uri mismatch.
  if (UNSEEN_CHARACTERS.test(value)) return 'must not contain spaces or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.hash || value.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (applicationType === 'native') {
    if (url.protocol === 'http:' && LOOPBACK_IPS.has(url.hostname)) return undefined;
    if (url.protocol === 'http:' && url.hostname === 'localhost') return 'must name 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)';
    if (url.protocol === 'https:' && !LOOPBACK.has(url.hostname)) return undefined;
    if (PRIVATE_USE_SCHEME.test(url.protocol)) return undefined;
    return 'must use http on 127.0.0.1 / [::1] (any port), https, or a private-use scheme named after your domain (com.example.app:/callback)';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK.has(url.hostname)) return undefined;
  return 'must use https (http only on localhost / 127.0.0.1 / [::1])';
}

/**
 * The redirect URIs' problems, each named by the URI: an over-long one by its start (the whole would fill the
 * terminal), one with spaces or control characters quoted (so that they show).
 */
function redirectUriIssues(values: string[], applicationType: ApplicationType): string[] {
  return values.flatMap((value) => {
    const problem = redirectUriProblem(value, applicationType);
    if (!problem) return [];
    const named = value.length > MAX_REDIRECT_URI_LENGTH ? `${value.slice(0, 60)}…` : UNSEEN_CHARACTERS.test(value) ? JSON.stringify(value) : value;
    return [`${named} ${problem}`];
  });
}

/** A JWK's members that are private (or a symmetric key's secret): a client's registered keys must have none. */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** What a registered client key may hold: a public key's own members and how it is named and used. */
const CLIENT_JWK_MEMBERS = new Set(['kty', 'kid', 'alg', 'use', 'key_ops', 'ext', 'crv', 'x', 'y', 'n', 'e']);
const MAX_CLIENT_KEYS = 10;
/** RSA keys shorter than this are refused by the library's JWS verification (and by NIST since 2015). */
const MIN_RSA_BITS = 2048;

/**
 * Why a registered client key is unusable, if it is. Only keys the provider verifies an assertion with: EC P-256
 * (ES256), OKP Ed25519 (EdDSA), RSA of 2048 bits or more (RS256, PS256); any `alg` one of those. A key the library
 * ignores would leave the client unable to sign in, and one it cannot read would break the client at every load.
 */
function clientKeyProblem(key: Record<string, unknown>, index: number): string | undefined {
  const name = `jwks key ${index + 1}${typeof key.kid === 'string' ? ` (${key.kid})` : ''}`;
  const held = PRIVATE_JWK_MEMBERS.filter((member) => member in key);
  if (held.length) return `${name} holds private parts (${held.join(', ')}): register the public key only, and keep the private one with the client`;
  const other = Object.keys(key).filter((member) => !CLIENT_JWK_MEMBERS.has(member));
  if (other.length) return `${name}: ${other.join(', ')} not taken (only ${[...CLIENT_JWK_MEMBERS].join(', ')})`;
  for (const member of ['kid', 'alg', 'use'] as const) {
    if (key[member] !== undefined && typeof key[member] !== 'string') return `${name}: ${member} must be a string`;
  }
  if (key.use !== undefined && key.use !== 'sig') return `${name}: use must be sig`;
  if (key.alg !== undefined && !(CLIENT_ASSERTION_ALGS as readonly unknown[]).includes(key.alg)) return `${name}: alg must be one of ${CLIENT_ASSERTION_ALGS.join(', ')}`;
  const kind = `${String(key.kty)}${key.crv === undefined ? '' : ` ${String(key.crv)}`}`;
  if (!['EC P-256', 'OKP Ed25519', 'RSA'].includes(kind)) return `${name}: ${kind} is not taken (EC P-256, OKP Ed25519 or RSA)`;
  let parsed;
  try {
    parsed = createPublicKey({ key: key as never, format: 'jwk' });
  } catch {
    return `${name} is not a valid public key`;
  }
  const bits = parsed.asymmetricKeyDetails?.modulusLength;
  if (key.kty === 'RSA' && (bits ?? 0) < MIN_RSA_BITS) return `${name}: an RSA key needs at least ${MIN_RSA_BITS} bits`;
  return undefined;
}

const clientJwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_CLIENT_KEYS) }).strict();

const clientInput = z
  .object({
    client_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{3,64}$/, '3-64 of A-Z a-z 0-9 _ -')
      .optional(),
    // Shown on the consent and sessions pages and printed by the CLI: one line.
    client_name: z
      .string()
      .max(100, 'has more than 100 characters')
      .refine((name) => name.trim() !== '', 'must not be empty')
      .refine((name) => !/\p{Cc}/u.test(name), 'must not contain control characters (a line break, a tab)'),
    redirect_uris: z.array(z.string()).default([]),
    post_logout_redirect_uris: z.array(z.string()).default([]),
    /** `native`: a desktop, mobile or command-line app (RFC 8252), which keeps no secret and listens on loopback. */
    application_type: z.enum(APPLICATION_TYPES).default('web'),
    grant_types: z.array(z.enum(GRANT_TYPES)).min(1).default(['authorization_code', 'refresh_token']),
    token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS).default('client_secret_basic'),
    /** The public keys a private_key_jwt client signs its assertions with (RFC 7591 §2 `jwks`): for that method only. */
    jwks: clientJwks.optional(),
    first_party: z.boolean().default(false),
    /** false only for a client that cannot send PKCE (e.g. a conformance test client): RFC 9700 wants it. */
    pkce_required: z.boolean().default(true),
    id_token_signed_response_alg: z.enum(ID_TOKEN_ALGS).default(DEFAULT_ID_TOKEN_ALG),
    /**
     * The scopes the client may ask for, space-separated (RFC 7591 §2); unset: every OpenID Connect scope and no
     * API scope (client-rules.ts). Kept as given, once each.
     */
    scope: z
      .string()
      .transform((value) => [...new Set(value.split(/\s+/).filter(Boolean))].join(' '))
      .optional(),
  })
  .superRefine((c, ctx) => {
    for (const message of redirectUriIssues([...c.redirect_uris, ...c.post_logout_redirect_uris], c.application_type)) ctx.addIssue({ code: 'custom', message });
    if (c.application_type === 'native' && c.token_endpoint_auth_method !== 'none') {
      // RFC 8252 §8.5: a secret shipped inside an app is known to everyone who has the app.
      ctx.addIssue({ code: 'custom', message: 'a native app keeps no secret: register it as a public client (--auth-method none)' });
    }
    const interactive = c.grant_types.includes('authorization_code');
    if (interactive && c.redirect_uris.length === 0) ctx.addIssue({ code: 'custom', message: 'authorization_code needs at least one redirect URI' });
    if (!interactive && c.grant_types.includes('refresh_token')) ctx.addIssue({ code: 'custom', message: 'refresh_token needs authorization_code' });
    const keyed = c.token_endpoint_auth_method === 'private_key_jwt';
    if (keyed && !c.jwks) ctx.addIssue({ code: 'custom', message: 'private_key_jwt needs the public keys the client signs with (--jwks-file)' });
    if (!keyed && c.jwks) ctx.addIssue({ code: 'custom', message: 'client keys (--jwks-file) are for --auth-method private_key_jwt only' });
    c.jwks?.keys.forEach((key, index) => {
      const problem = clientKeyProblem(key, index);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
    const kids = c.jwks?.keys.map((key) => key.kid) ?? [];
    if (kids.length > 1 && (kids.some((kid) => typeof kid !== 'string') || new Set(kids).size !== kids.length)) {
      ctx.addIssue({ code: 'custom', message: 'with several client keys, each needs its own kid' });
    }
    if (c.token_endpoint_auth_method === 'none' && c.grant_types.includes('client_credentials')) {
      ctx.addIssue({ code: 'custom', message: 'client_credentials needs a client secret' });
    }
    if (c.scope === '') ctx.addIssue({ code: 'custom', message: 'scope: name at least one scope' });
    if (interactive && c.scope !== undefined && !c.scope.split(' ').includes('openid')) {
      ctx.addIssue({ code: 'custom', message: 'a client that signs users in (authorization_code) needs openid in its scope' });
    }
    if (c.token_endpoint_auth_method === 'none' && !c.pkce_required) {
      // Nothing but PKCE binds a public client's code to the app that asked for it (RFC 9700 §2.1.1).
      ctx.addIssue({ code: 'custom', message: 'a public client (auth method none) must use PKCE: drop --no-pkce-required' });
    }
  });

export type ClientInput = z.input<typeof clientInput>;
export type ClientMetadata = Omit<z.output<typeof clientInput>, 'client_id'> & {
  client_id: string;
  client_secret?: string;
  response_types: string[];
  client_id_issued_at: number;
};

/**
 * A client's secret is stored sealed (oidc/client-secret.ts) and is in the metadata these return only when they have
 * just made it (create, rotateSecret, update of a public client into a confidential one): to be shown that once.
 */
export interface ClientRegistry {
  /** Creates a client; the returned metadata carries the secret, shown this once. */
  create(input: ClientInput): Promise<ClientMetadata>;
  list(): Promise<ClientMetadata[]>;
  show(clientId: string): Promise<ClientMetadata>;
  /** The client's secret, opened (the demo's own client, whose secret the demo app needs at every start). */
  revealSecret(clientId: string): Promise<string | undefined>;
  update(clientId: string, changes: Partial<ClientInput>, options?: SecretOptions): Promise<ClientMetadata>;
  remove(clientId: string): Promise<void>;
  rotateSecret(clientId: string, options?: SecretOptions): Promise<ClientMetadata>;
}

export interface SecretOptions {
  /**
   * Given the client with its new secret as soon as that is stored, before the wait for every instance to see the
   * change: a command interrupted then (Ctrl-C, a failed announcement) has still shown the secret now in force.
   */
  stored?: (client: ClientMetadata) => void;
}

interface ClientDoc {
  _id: string;
  payload: ClientMetadata;
}

function parse(input: unknown, known: ReadonlySet<string>) {
  const result = clientInput.safeParse(input);
  // Each problem named by its setting (`client_name: Too small…`); the redirect URIs' name the URI themselves.
  if (!result.success) throw new ValidationError('invalid_client_metadata', result.error.issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '));
  const unknown = result.data.scope?.split(' ').filter((scope) => !known.has(scope)) ?? [];
  if (unknown.length) {
    throw new ValidationError('invalid_client_metadata', `unknown scope ${unknown.join(', ')}: known are ${[...known].join(' ')} (API scopes exist when API_AUDIENCE is set: run the command with the server's API_AUDIENCE and API_SCOPES)`);
  }
  return result.data;
}

const newSecret = () => randomBytes(32).toString('base64url');
/** A random client id that never starts with '-' (it would read as an option on a command line). */
const newClientId = () => `c${randomBytes(12).toString('base64url')}`;

/** The metadata, without a secret: the caller decides whether there is a new one to make (`needsSecret`). */
function toMetadata(data: z.output<typeof clientInput>, clientId: string, issuedAt: number): ClientMetadata {
  const { client_id: _ignored, ...rest } = data;
  return { ...rest, client_id: clientId, response_types: data.grant_types.includes('authorization_code') ? ['code'] : [], client_id_issued_at: issuedAt };
}

const needsSecret = (metadata: ClientMetadata) => SECRET_AUTH_METHODS.includes(metadata.token_endpoint_auth_method);

function withoutSecret({ client_secret: _secret, ...metadata }: ClientMetadata): ClientMetadata {
  return metadata;
}

export interface ClientRegistryOptions {
  /**
   * Seals the secrets it makes and opens the one revealSecret reads (oidc/client-secret.ts): the servers'
   * configuredSecretBox, or a function that gives it at first need (the admin CLI: only a command that makes a secret
   * needs the server's key). Without it the registry refuses anything that needs a secret.
   */
  box?: SecretBoxSource;
  /**
   * Runs after every change to an existing client, before the command reports success. By default it announces the
   * change to every instance and waits until none can still use the old version (db/epoch-cache.ts), so that
   * "rotate-secret takes effect at once" holds for the whole deployment.
   */
  afterChange?: () => Promise<void>;
  /** The configured API's scopes (API_SCOPES, when API_AUDIENCE is set), which a client's `scope` may name. */
  apiScopes?: readonly string[];
}

export function createClientRegistry(connection: Connection, { box, afterChange, apiScopes = [] }: ClientRegistryOptions = {}): ClientRegistry {
  const known = knownScopes(apiScopes);
  const db = connection.db!;
  const clients = db.collection<ClientDoc>(collectionName('Client'));
  const changed =
    afterChange ??
    (async () => {
      await announceChange(connection, 'clients');
      await changeSettled();
    });

  const boxed = box && boxWhenNeeded(box);
  const sealer = () => {
    if (!boxed) throw new Error('this client registry was made without the data encryption key: it cannot make or read secrets');
    return boxed();
  };
  const seal = async (secret: string) => (await sealer()).seal(secret);

  /** The client as stored, its secret sealed. */
  async function stored(clientId: string): Promise<ClientMetadata> {
    const doc = await clients.findOne({ _id: clientId });
    if (!doc) throw new NotFoundError('client_not_found', `'${clientId}'`);
    return doc.payload;
  }

  return {
    async create(input) {
      const data = parse(input, known);
      const clientId = data.client_id ?? newClientId();
      const metadata = toMetadata(data, clientId, Math.floor(Date.now() / 1000));
      const secret = needsSecret(metadata) ? newSecret() : undefined;
      try {
        await clients.insertOne({ _id: clientId, payload: secret ? { ...metadata, client_secret: await seal(secret) } : metadata });
      } catch (error) {
        if (isDuplicateKey(error)) throw new ConflictError('client_exists', `client ${clientId} exists`);
        throw error;
      }
      return secret ? { ...metadata, client_secret: secret } : metadata;
    },

    async list() {
      // Admin path: bounded, sorted by id.
      return (await clients.find({}).sort({ _id: 1 }).limit(1000).toArray()).map((d) => withoutSecret(d.payload));
    },

    show: async (clientId) => withoutSecret(await stored(clientId)),

    async revealSecret(clientId) {
      return openedClient(await sealer(), await stored(clientId)).client_secret;
    },

    async update(clientId, changes, options = {}) {
      const current = await stored(clientId);
      const { client_secret: storedSecret, client_id_issued_at: issuedAt, response_types: _rt, ...editable } = current;
      // Only the fields given change: an undefined value means "not given", not "reset to the default".
      const given = Object.fromEntries(Object.entries(changes).filter(([, value]) => value !== undefined)) as Partial<ClientInput>;
      // Keys belong to private_key_jwt: a client moved to another method leaves its keys behind, as its secret.
      if (given.token_endpoint_auth_method !== undefined && given.token_endpoint_auth_method !== 'private_key_jwt') delete editable.jwks;
      const metadata = toMetadata(parse({ ...editable, ...given, client_id: clientId }, known), clientId, issuedAt);
      // Only the fields that change are written, never the whole document: a rotate-secret running meanwhile must
      // not have its new secret overwritten with the one read above.
      const set: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(metadata)) {
        if (JSON.stringify(value) !== JSON.stringify(current[key as keyof ClientMetadata])) set[`payload.${key}`] = value;
      }
      const newlySecret = needsSecret(metadata) && !storedSecret ? newSecret() : undefined; // public → confidential
      if (newlySecret) set['payload.client_secret'] = await seal(newlySecret);
      const unset: Record<string, 1> = {};
      if (storedSecret && !needsSecret(metadata)) unset['payload.client_secret'] = 1; // to a method without a secret
      if (current.jwks && !metadata.jwks) unset['payload.jwks'] = 1;
      const update: { $set?: Record<string, unknown>; $unset?: Record<string, 1> } = {};
      if (Object.keys(set).length) update.$set = set;
      if (Object.keys(unset).length) update.$unset = unset;
      const result = newlySecret ? { ...metadata, client_secret: newlySecret } : metadata;
      if (update.$set || update.$unset) {
        await clients.updateOne({ _id: clientId }, update as mongo.UpdateFilter<ClientDoc>);
        if (newlySecret) options.stored?.(result);
        await changed();
      }
      return result;
    },

    async remove(clientId) {
      const result = await clients.deleteOne({ _id: clientId });
      if (result.deletedCount === 1) await changed();
      // Once no instance can issue anything to the client any more: its grants, and every code and token issued
      // under them, go too, as do the tokens it got for itself (client credentials). Otherwise a client created later
      // with the same id would inherit the users' consent (no consent page for an app they never saw) and the old
      // refresh tokens. The filter on payload.clientId is
      // a scan, acceptable on this admin-only path; the request paths only ever read grants by _id.
      // A delete cut short before this (Ctrl-C during the wait above) is finished by running it again: the client is
      // gone then, but what is left of its grants is still found and revoked.
      const grants = await db.collection<{ _id: string }>(collectionName('Grant')).find({ 'payload.clientId': clientId }, { projection: { _id: 1 } }).toArray();
      for (const grant of grants) await revokeGrant(db, grant._id);
      // Its client-credentials tokens belong to no grant: they go by the client's id (a scan, as above).
      const tokens = await db.collection(collectionName('ClientCredentials')).deleteMany({ 'payload.clientId': clientId });
      if (result.deletedCount !== 1 && grants.length === 0 && tokens.deletedCount === 0) throw new NotFoundError('client_not_found', `'${clientId}'`);
    },

    async rotateSecret(clientId, options = {}) {
      // Never opened: a secret no configured key opens any more (DATA_ENCRYPTION_KEY lost) is replaced all the same.
      const current = withoutSecret(await stored(clientId));
      if (current.token_endpoint_auth_method === 'none') throw new ValidationError('public_client', 'a public client has no secret');
      if (!needsSecret(current)) throw new ValidationError('keyed_client', 'a private_key_jwt client has no secret: give it new keys (clients update --jwks-file)');
      const secret = newSecret();
      await clients.updateOne({ _id: clientId }, { $set: { 'payload.client_secret': await seal(secret) } });
      const rotated = { ...current, client_secret: secret };
      options.stored?.(rotated);
      await changed();
      return rotated;
    },
  };
}
