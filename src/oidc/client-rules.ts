// What a registered client may be, read by both sides that must agree on it: the provider's configuration (what
// discovery advertises and the token endpoint accepts) and the client registry (what an admin may register). One
// list each, so discovery never offers what no client can be registered for.
import { SIGNING_ALGS, type SigningAlg } from './keys.ts';
import { claimsOf, SCOPE_CLAIMS } from './account.ts';

/**
 * How clients authenticate at the token, introspection and revocation endpoints: a secret, a JWT signed with the
 * client's own private key (private_key_jwt, RFC 7523 §2.2, the asymmetric authentication RFC 9700 §2.5
 * recommends; the registry keeps the client's public keys), or nothing (a public client). Not client_secret_jwt:
 * it needs the secret itself at the server, which Latchkey keeps sealed and never uses but to compare.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
/** The methods that use a client secret: a client registered for one gets a secret, any other has none. */
export const SECRET_AUTH_METHODS: readonly ClientAuthMethod[] = ['client_secret_basic', 'client_secret_post'];
/** The algorithms a private_key_jwt assertion may be signed with: asymmetric only (no HS256, which needs a secret). */
export const CLIENT_ASSERTION_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA', 'Ed25519'] as const;

/** ID token signing algorithms: those Latchkey holds a key for in every generation (keys.ts). */
export const ID_TOKEN_ALGS = SIGNING_ALGS;
/**
 * For a client that registers none: RS256, the default OpenID Connect Dynamic Client Registration §2 names for
 * id_token_signed_response_alg and the one algorithm every relying party is expected to verify (Core §15.1).
 */
export const DEFAULT_ID_TOKEN_ALG: SigningAlg = 'RS256';

/** The OpenID Connect scopes: openid, offline_access, and one per group of claims (account.ts). */
export const OIDC_SCOPES: readonly string[] = [
  'openid',
  'offline_access',
  ...Object.entries(SCOPE_CLAIMS)
    .filter(([scope, claims]) => claims && scope !== 'openid')
    .map(([scope]) => scope),
];

/** Every scope a client may be registered for: the OpenID Connect scopes and the configured API's. */
export const knownScopes = (apiScopes: readonly string[]): Set<string> => new Set([...OIDC_SCOPES, ...apiScopes]);

/**
 * The scopes a client may ask for. A client registered with a `scope` (RFC 7591 §2) may ask for those alone: the
 * library answers invalid_scope for any other it knows. A client registered without one (every client registered
 * before the setting existed) may ask for every OpenID Connect scope, as before, and for no API scope: an API scope
 * is given to a client only by naming it.
 */
export function allowedScopes(registered: string | undefined): Set<string> {
  return new Set(registered === undefined ? OIDC_SCOPES : registered.split(' ').filter(Boolean));
}

/**
 * The claims a client may receive: those of the scopes it may ask for. A claim no scope releases (`sid`, `iss`) is
 * not limited here. The `claims` request parameter names claims one by one, and must not reach past the scopes.
 */
export function withheldClaims(registered: string | undefined): Set<string> {
  const allowed = allowedScopes(registered);
  return claimsOf((scope) => !allowed.has(scope));
}
