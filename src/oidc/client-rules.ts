// What a registered client may be, read by both sides that must agree on it: the provider's configuration (what
// discovery advertises and the token endpoint accepts) and the client registry (what an admin may register). One
// list each, so discovery never offers what no client can be registered for.
import { SIGNING_ALGS, type SigningAlg } from './keys.ts';

/**
 * How clients authenticate at the token, introspection and revocation endpoints. No JWT assertions
 * (client_secret_jwt, private_key_jwt): the registry holds no client keys, so no client could use them.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];

/** ID token signing algorithms: those Latchkey holds a key for in every generation (keys.ts). */
export const ID_TOKEN_ALGS = SIGNING_ALGS;
/**
 * For a client that registers none: RS256, the default OpenID Connect Dynamic Client Registration §2 names for
 * id_token_signed_response_alg and the one algorithm every relying party is expected to verify (Core §15.1).
 */
export const DEFAULT_ID_TOKEN_ALG: SigningAlg = 'RS256';
