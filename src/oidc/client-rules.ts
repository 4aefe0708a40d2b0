// What a registered client may be, read by both sides that must agree on it: the provider's configuration (what
// discovery advertises and the token endpoint accepts) and the client registry (what an admin may register). One
// list each, so discovery never offers what no client can be registered for.

/**
 * How clients authenticate at the token, introspection and revocation endpoints. No JWT assertions
 * (client_secret_jwt, private_key_jwt): the registry holds no client keys, so no client could use them.
 */
export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type ClientAuthMethod = (typeof CLIENT_AUTH_METHODS)[number];
