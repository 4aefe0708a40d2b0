// `npm run admin -- clients …`: registering relying parties. The rules live in clients.ts; this file maps
// options to them and prints the result. A client secret is printed only by the commands that create one.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClientRegistry, GRANT_TYPES, type ClientInput, type ClientMetadata, type ClientRegistry } from './clients.ts';
import { defineCommand, pick, UsageError, type Area, type OptionSpecs, type Values } from './command.ts';
import { fields, isoDate, table, yesNo, type Output } from './output.ts';
import type { AdminSession } from './session.ts';
import { allowedScopes, CLIENT_AUTH_METHODS, DEFAULT_ID_TOKEN_ALG, ID_TOKEN_ALGS } from '../oidc/client-rules.ts';
import { recordAdminChange } from './admin-audit.ts';

const settings = {
  name: { type: 'string', value: '<name>', help: 'Name shown to users on the sign-in and consent pages' },
  'redirect-uri': {
    type: 'string',
    multiple: true,
    value: '<uri>',
    help: 'Where users return after signing in; https, or http on localhost / 127.0.0.1 / [::1]; no fragment (a native app: see --native)',
  },
  'post-logout-uri': { type: 'string', multiple: true, value: '<uri>', help: 'Where users may return after signing out' },
  'grant-type': {
    type: 'string',
    multiple: true,
    value: '<grant>',
    help: `${GRANT_TYPES.join(' | ')}; default: authorization_code and refresh_token`,
  },
  'auth-method': {
    type: 'string',
    value: '<method>',
    help: 'client_secret_basic (default) | client_secret_post | private_key_jwt (a JWT signed with the client\'s own key: give --jwks-file) | none (a public client, without a secret)',
  },
  'jwks-file': {
    type: 'string',
    value: '<path>',
    help: 'For private_key_jwt: the public key(s) the client signs with, in a JSON file (a JWK Set {"keys": [...]} or one JWK) or a PEM file (openssl ... -pubout; its kid is its RFC 7638 thumbprint); replaces the keys held',
  },
  'id-token-alg': { type: 'string', value: '<alg>', help: `${ID_TOKEN_ALGS.join(' | ')}: how ID tokens are signed; default ${DEFAULT_ID_TOKEN_ALG}` },
  'pkce-required': {
    type: 'boolean',
    help: 'PKCE is required of every client (default); --no-pkce-required only for one that cannot send it, such as a conformance test client',
  },
  scope: {
    type: 'string',
    value: '<scopes>',
    help: 'The scopes the client may ask for, space-separated: OpenID Connect scopes and the API scopes of API_SCOPES. Default: every OpenID Connect scope and no API scope',
  },
  'first-party': { type: 'boolean', help: 'Skip the consent page: for your own applications only (--no-first-party undoes it)' },
  native: {
    type: 'boolean',
    help: 'A desktop, mobile or command-line app (RFC 8252): public (--auth-method none); redirect URIs on http://127.0.0.1 or http://[::1] with any port at sign-in, https, or a private-use scheme such as com.example.app:/callback',
  },
} as const satisfies OptionSpecs;

const SECRET_WARNING =
  'Store the client secret now: it is not shown again and cannot be read back. ' +
  '`npm run admin -- clients rotate-secret <client-id>` replaces a lost one.';

/** The settings given on the command line; options left out are absent, so an update keeps their values. */
function changesFrom(values: Values<typeof settings>): Partial<ClientInput> {
  const changes: Partial<ClientInput> = {};
  if (values.name !== undefined) changes.client_name = values.name;
  if (values['redirect-uri']) changes.redirect_uris = values['redirect-uri'];
  if (values['post-logout-uri']) changes.post_logout_redirect_uris = values['post-logout-uri'];
  if (values['grant-type']) changes.grant_types = values['grant-type'].map((grant) => pick(GRANT_TYPES, grant, '--grant-type'));
  if (values['auth-method'] !== undefined) changes.token_endpoint_auth_method = pick(CLIENT_AUTH_METHODS, values['auth-method'], '--auth-method');
  if (values['jwks-file'] !== undefined) changes.jwks = clientKeysFrom(values['jwks-file']);
  if (values['first-party'] !== undefined) changes.first_party = values['first-party'];
  if (values.native !== undefined) changes.application_type = values.native ? 'native' : 'web';
  if (values['pkce-required'] !== undefined) changes.pkce_required = values['pkce-required'];
  if (values.scope !== undefined) changes.scope = values.scope;
  if (values['id-token-alg'] !== undefined) changes.id_token_signed_response_alg = pick(ID_TOKEN_ALGS, values['id-token-alg'], '--id-token-alg');
  return changes;
}

/** The members RFC 7638 §3.2 hashes for each kind of key, in the order its canonical JSON takes them. */
const THUMBPRINT_MEMBERS: Record<string, string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'], OKP: ['crv', 'kty', 'x'] };

/** A PEM public key (what `openssl … -pubout` writes) as a JWK, its kid the key's RFC 7638 thumbprint. */
function jwkOfPem(pem: string, path: string): Record<string, unknown> {
  if (pem.includes('PRIVATE KEY')) throw new UsageError(`--jwks-file ${path}: this is a private key; give its public key (openssl pkey -in ${path} -pubout) and keep the private one with the client`);
  let jwk: Record<string, unknown>;
  try {
    jwk = createPublicKey(pem).export({ format: 'jwk' }) as Record<string, unknown>;
  } catch {
    throw new UsageError(`--jwks-file ${path}: not a PEM public key`);
  }
  const members = THUMBPRINT_MEMBERS[jwk.kty as string] ?? [];
  const canonical = JSON.stringify(Object.fromEntries(members.map((member) => [member, jwk[member]])));
  return { ...jwk, kid: createHash('sha256').update(canonical).digest('base64url'), use: 'sig' };
}

/**
 * The client's public keys from a file: a JWK Set, one JWK taken as a set of one, or one PEM public key. The
 * registry checks the keys.
 */
function clientKeysFrom(path: string): NonNullable<ClientInput['jwks']> {
  let text: string;
  try {
    // `npm run admin` runs in the project's folder; a relative path is the admin's, from where they typed it (INIT_CWD).
    text = readFileSync(resolve(process.env.INIT_CWD ?? process.cwd(), path), 'utf8');
  } catch (error) {
    throw new UsageError(`--jwks-file ${path}: cannot be read (${(error as Error).message})`);
  }
  if (text.trimStart().startsWith('-----BEGIN')) return { keys: [jwkOfPem(text, path)] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--jwks-file ${path}: neither JSON nor a PEM public key (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError(`--jwks-file ${path}: expected a JWK Set or a JWK`);
  return 'keys' in parsed ? (parsed as NonNullable<ClientInput['jwks']>) : { keys: [parsed as Record<string, unknown>] };
}

/** The client's registered keys, as an administrator tells them apart. */
const keysText = (client: ClientMetadata) => (client.jwks?.keys ?? []).map((key) => `${String(key.kty)} ${String(key.kid ?? '(no kid)')}`);

function describe(client: ClientMetadata, secret?: string): string[] {
  return fields([
    ['client id', client.client_id],
    ...(secret ? [['client secret', secret] as [string, string]] : []),
    ['name', client.client_name],
    ['redirect URIs', client.redirect_uris],
    ['post-logout URIs', client.post_logout_redirect_uris],
    ['grant types', client.grant_types.join(', ')],
    ['auth method', client.token_endpoint_auth_method],
    ...(client.jwks ? [['client keys', keysText(client)] as [string, string[]]] : []),
    ['application type', client.application_type ?? 'web'],
    ['first party', yesNo(client.first_party)],
    // PKCE guards an authorization code: a client that never gets one has nothing for it to guard.
    ['PKCE required', client.grant_types.includes('authorization_code') ? yesNo(client.pkce_required !== false) : 'not applicable (no authorization code)'],
    ['ID token alg', client.id_token_signed_response_alg ?? DEFAULT_ID_TOKEN_ALG],
    ['allowed scopes', allowedScopesText(client)],
    ['registered', isoDate(client.client_id_issued_at * 1000)],
  ]);
}

/** The scopes a client may ask for, saying so when that is the default for a client registered without any. */
function allowedScopesText(client: ClientMetadata): string {
  const allowed = [...allowedScopes(client.scope)].join(' ');
  return client.scope === undefined ? `${allowed} (default: no API scope)` : allowed;
}

const PUBLIC_FIRST_PARTY_WARNING =
  'warning: this public client skips the consent page. Any app can claim a public client\'s id and a redirect URI it ' +
  'controls on the device (RFC 8252 §8.6), so users will not see which app they sign in to. Prefer consent.';

function warnIfPublicFirstParty(out: Output, client: ClientMetadata): void {
  if (client.first_party && client.token_endpoint_auth_method === 'none') out.note(PUBLIC_FIRST_PARTY_WARNING);
}

/** Prints a client together with a secret that was just created; the only place a secret is printed. */
function printWithNewSecret(out: Output, client: ClientMetadata, headline: string): void {
  out.result(client, () => [headline, ...describe(client, client.client_secret)]);
  out.note(SECRET_WARNING);
}

/**
 * The registry. A command that makes a secret seals it with the servers' DATA_ENCRYPTION_KEY, read from the
 * server's environment only then (this shell's key must be theirs: security/data-key-check.ts); the others need
 * only MONGODB_URI.
 */
async function registry(session: AdminSession): Promise<ClientRegistry> {
  const connection = await session.connection();
  return createClientRegistry(connection, { box: () => session.serversSecretBox(), apiScopes: session.apiScopes() });
}

const create = defineCommand({
  name: 'create',
  summary: 'Registers a relying party and prints its client id and, once, its secret.',
  options: {
    ...settings,
    name: { ...settings.name, required: true },
    'client-id': { type: 'string', value: '<id>', help: 'Choose the client id (3-64 of A-Z a-z 0-9 _ -); random by default' },
  },
  details: [
    'Example:',
    '  npm run admin -- clients create --name "Wiki" --redirect-uri https://wiki.example.com/oidc/callback \\',
    '    --post-logout-uri https://wiki.example.com/',
  ].join('\n'),
  async run(context) {
    const { values, out } = context;
    const input: ClientInput = { client_name: values.name, ...changesFrom(values), ...(values['client-id'] && { client_id: values['client-id'] }) };
    const client = await (await registry(context.session)).create(input);
    warnIfPublicFirstParty(out, client);
    if (client.client_secret) printWithNewSecret(out, client, 'Client registered.');
    else out.result(client, () => [client.jwks ? 'Client registered (it signs with its own key: no secret).' : 'Client registered (public: it has no secret).', ...describe(client)]);
    // After the secret is shown: should the log fail, the command says so, and the secret is not lost.
    await recordAdminChange(context.session, { type: 'client.created', target: client.client_id });
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'Lists the registered clients (never their secrets).',
  options: {},
  async run(context) {
    const clients = await (await registry(context.session)).list();
    context.out.result(clients, () =>
      table(
        ['CLIENT ID', 'NAME', 'GRANT TYPES', 'AUTH METHOD', 'FIRST PARTY', 'SCOPES'],
        clients.map((c) => [c.client_id, c.client_name, c.grant_types.join(','), c.token_endpoint_auth_method, yesNo(c.first_party), c.scope ?? '(default)']),
        '(no clients)',
      ),
    );
  },
});

const show = defineCommand({
  name: 'show',
  summary: "Shows one client's settings (never its secret).",
  arg: 'client-id',
  options: {},
  async run(context) {
    const client = await (await registry(context.session)).show(context.arg);
    context.out.result(client, () => describe(client));
  },
});

const update = defineCommand({
  name: 'update',
  summary: 'Changes the settings given; a repeatable option replaces the whole list. The secret is kept.',
  arg: 'client-id',
  options: settings,
  details: 'Example (replaces both redirect URIs):\n  npm run admin -- clients update Xy12 --redirect-uri https://a.example/cb --redirect-uri https://b.example/cb',
  async run(context) {
    const changes = changesFrom(context.values);
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give at least one option');
    const clients = await registry(context.session);
    const before = await clients.show(context.arg);
    // Turning a public client into a confidential one creates its first secret, which must be shown as soon as it is
    // stored (before the wait for every instance, which an interruption would cut short).
    const client = await clients.update(context.arg, changes, { stored: (updated) => printWithNewSecret(context.out, updated, 'Client updated; it now has a secret.') });
    warnIfPublicFirstParty(context.out, client);
    const changed = Object.keys(changes).filter((key) => JSON.stringify(before[key as keyof ClientMetadata]) !== JSON.stringify(client[key as keyof ClientMetadata]));
    if (!client.client_secret) context.out.result(client, () => [changed.length ? 'Client updated.' : 'Nothing changed: the client already had these settings.', ...describe(client)]);
    // Which settings changed, not their values: enough to find the change, and nothing of a secret. None, no record.
    if (changed.length) await recordAdminChange(context.session, { type: 'client.updated', target: client.client_id, method: changed.join(',') });
  },
});

const remove = defineCommand({
  name: 'delete',
  summary: 'Removes a client: the provider refuses it from its next request on.',
  arg: 'client-id',
  options: {},
  async run(context) {
    await (await registry(context.session)).remove(context.arg);
    await recordAdminChange(context.session, { type: 'client.deleted', target: context.arg });
    context.out.result({ deleted: context.arg }, () => [`Client ${context.arg} deleted.`]);
  },
});

const rotateSecret = defineCommand({
  name: 'rotate-secret',
  summary: 'Gives a client a new secret and prints it once; the old secret stops working at once.',
  arg: 'client-id',
  options: {},
  async run(context) {
    // Shown as soon as it is stored, before the wait for every instance to see it: the previous secret is void by then,
    // and an interruption during the wait must not lose the new one.
    const client = await (await registry(context.session)).rotateSecret(context.arg, {
      stored: (rotated) => printWithNewSecret(context.out, rotated, 'New client secret issued; the previous one no longer works once this command returns.'),
    });
    await recordAdminChange(context.session, { type: 'client.secret_rotated', target: client.client_id });
  },
});

export const clientsArea: Area = {
  name: 'clients',
  summary: 'Register and manage relying parties (OpenID Connect clients)',
  commands: [create, list, show, update, remove, rotateSecret],
};
