// The oidc-provider configuration: everything protocol-related is the library's; this file only chooses.
// Choices that differ from the library's defaults say why.
import Provider, { errors, interactionPolicy, type Adapter, type ClaimsParameter, type Client, type Configuration, type JWK, type KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../../config/index.ts';
import type { Accounts } from '../accounts/users.ts';
import { renderPage } from '../http/render.ts';
import { respondWithError } from '../http/error-page.ts';
import { LogoutOutOfDateError } from '../errors.ts';
import { pathCookieName, siteCookieName } from '../http/cookie-names.ts';
import { ACR_VALUES, findAccountWith, SCOPE_CLAIMS } from './account.ts';
import { deviceNonceOf } from '../accounts/lockout.ts';
import { deviceCookieName } from '../http/device-cookie.ts';
import { bitsOfOpaqueRandomness } from './token-ids.ts';
import { ReplayedError } from './adapter.ts';
import { allowedScopes, withheldClaims, CLIENT_ASSERTION_ALGS, CLIENT_AUTH_METHODS, DEFAULT_ID_TOKEN_ALG, knownScopes } from './client-rules.ts';

export interface ProviderDeps {
  config: Config;
  accounts: Accounts;
  adapter: (model: string) => Adapter;
  jwks: { keys: JWK[] };
  cookieKeys: string[];
  /** Now, in milliseconds (tests move it). */
  clock?: () => number;
}

/** The longest a private_key_jwt assertion may be valid from now (assertJwtClientAuthClaimsAndHeader below). */
const ASSERTION_MAX_SECONDS = 3600;

/** Our boolean client metadata (extraClientMetadata below); the library's Client type does not know it. */
function clientFlag(client: object, name: 'first_party' | 'pkce_required'): boolean | undefined {
  return (client as Record<string, unknown>)[name] as boolean | undefined;
}

/** Names of the provider's cookies: the session's is the site's; the interaction cookies are scoped to its path. */
export function cookieNames(secure: boolean) {
  return {
    session: siteCookieName('latchkey.session', secure),
    interaction: pathCookieName('latchkey.interaction', secure),
    resume: pathCookieName('latchkey.resume', secure),
  };
}

export function createProvider({ config, accounts, adapter, jwks, cookieKeys, clock = Date.now }: ProviderDeps): Provider {
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: config.cookieSecure, signed: true };
  // Authorization by POST arrives cross-site from the RP: the session cookie must then be SameSite=None.
  const sessionCookieOptions = config.authorizationPost ? { ...cookieOptions, sameSite: 'none' as const } : cookieOptions;
  const scopes = knownScopes(config.api?.scopes ?? []);

  const configuration: Configuration = {
    adapter,
    clients: [], // every client lives in MongoDB (admin CLI), so changes apply without a restart
    // The browser's device cookie, set by the password's answer, comes back with the request that resumes the sign-in.
    findAccount: findAccountWith(accounts, (ctx) => deviceNonceOf(ctx.cookies.get(deviceCookieName(config.cookieSecure), { signed: false }))),
    jwks,
    cookies: { keys: cookieKeys, names: cookieNames(config.cookieSecure), long: sessionCookieOptions, short: cookieOptions },
    enableHttpPostMethods: config.authorizationPost,
    // Each looked-up token kind has its own value length, so introspection reads one collection, not three.
    formats: { bitsOfOpaqueRandomness },
    claims: SCOPE_CLAIMS,
    scopes: [...scopes],
    acrValues: ACR_VALUES,
    responseTypes: ['code'], // no implicit or hybrid flows (RFC 9700 §2.1.2)
    // PKCE (S256, the only method v9 accepts) for every client, not only public ones (RFC 9700 §2.1.1, ASVS 10.4.6).
    // The one exception is an admin's explicit `pkce_required: false` on a confidential client that cannot send it
    // (the OpenID conformance suite's Basic OP tests, for one). A public client has nothing else protecting its
    // code, so it always needs PKCE, whatever is stored (RFC 9700 §2.1.1).
    pkce: {
      required: (_ctx, client) => client.tokenEndpointAuthMethod === 'none' || clientFlag(client, 'pkce_required') !== false,
    },
    // The RP must always name its redirect URI; it is then compared exactly with the registered ones.
    allowOmittingSingleRegisteredRedirectUri: false,
    // Every refresh rotates; reuse of a rotated token revokes the grant (library default revokeGrantPolicy).
    rotateRefreshToken: true,
    // Only the methods a client can be registered for, so discovery advertises no other; private_key_jwt
    // assertions only with asymmetric algorithms (client-rules.ts). Introspection and
    // revocation authenticate clients the same way; the library does not say so in discovery, and RFC 8414 §2
    // reads a missing revocation_endpoint_auth_methods_supported as client_secret_basic only, so we say it. A public
    // client (`none`) may revoke its tokens but learns nothing by introspection (features.introspection below).
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    enabledJWA: { clientAuthSigningAlgValues: [...CLIENT_ASSERTION_ALGS] },
    // A private_key_jwt assertion names this issuer alone as its audience, not an endpoint's URL, which the library
    // would also take: a client that also talks to a malicious server could be led to sign an assertion for our
    // token endpoint's URL there, which that server would replay here (the audience injection that RFC 7523's
    // update, draft-ietf-oauth-rfc7523bis, closes this way; openid-client sends the issuer). It is valid for an
    // hour at most: its single use is remembered until it expires, and a longer one is a credential kept around.
    async assertJwtClientAuthClaimsAndHeader(ctx, claims) {
      if (claims.aud !== ctx.oidc.issuer) throw new errors.InvalidClientAuth('audience (aud) must be the issuer identifier, as a single string');
      if (typeof claims.exp !== 'number' || claims.exp > Math.floor(clock() / 1000) + ASSERTION_MAX_SECONDS) {
        throw new errors.InvalidClientAuth(`the client assertion must expire within ${ASSERTION_MAX_SECONDS} seconds`);
      }
    },
    discovery: {
      introspection_endpoint_auth_methods_supported: CLIENT_AUTH_METHODS.filter((method) => method !== 'none'),
      revocation_endpoint_auth_methods_supported: [...CLIENT_AUTH_METHODS],
      // With private_key_jwt among the methods, RFC 8414 §2 wants each endpoint's algorithms said; the library says
      // only the token endpoint's.
      introspection_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
      revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGS],
    },
    // Which web origins may call userinfo and the client-authenticated endpoints (token, introspection,
    // revocation) from a browser. Written out, though it is the library's default policy today, so that it is ours
    // to review and no library upgrade changes it unseen: userinfo (called with a token) and public clients (which
    // hold no secret) may be called from the origin of one of the client's registered redirect URIs; a
    // confidential client's secret never belongs in a browser, so its calls are refused from any origin, and an
    // opaque origin ("null": sandboxed frames, file: pages) proves nothing. Discovery and JWKS are open to all.
    clientBasedCORS(ctx, origin, client) {
      if (origin === 'null') return false;
      if (ctx.oidc.route !== 'userinfo' && client.clientAuthMethod !== 'none') return false;
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      // A client stored without one (the registry always stores one) signs as the registry would default it.
      id_token_signed_response_alg: DEFAULT_ID_TOKEN_ALG,
    },
    extraClientMetadata: {
      properties: ['first_party', 'pkce_required'],
      validator(_ctx, key, value, metadata) {
        if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${key} must be a boolean`);
        // A client's allowed `scope` may name an API scope this deployment no longer has (API_SCOPES changed,
        // API_AUDIENCE unset). The library would refuse the whole client for it; dropping the value only narrows
        // what the client may ask for. (The library lets this hook change the metadata before checking it.)
        // With none of them left (a service's API scopes on a server started without its API_AUDIENCE), the client
        // cannot be served as registered: said in words, rather than the library's "scope must be a non-empty string".
        if (typeof metadata.scope === 'string') {
          const known = metadata.scope.split(' ').filter((scope) => scopes.has(scope));
          if (!known.length && metadata.scope.trim()) {
            throw new errors.InvalidClientMetadata(`none of the client's scopes (${metadata.scope}) exists on this server: API scopes need the server's API_AUDIENCE and API_SCOPES`);
          }
          metadata.scope = known.join(' ');
        }
        // A client registered without one may ask for the default (client-rules.ts), and the library enforces it
        // only when it is written down: otherwise an API scope asked for without its resource would be granted as
        // a plain scope of the sign-in's token.
        else metadata.scope = [...allowedScopes(undefined)].join(' ');
      },
    },
    ttl: {
      AccessToken: config.ttl.accessToken,
      AuthorizationCode: config.ttl.authorizationCode,
      ClientCredentials: config.ttl.clientCredentials,
      Grant: config.ttl.grant,
      IdToken: config.ttl.idToken,
      Interaction: config.ttl.interaction,
      // A session ends when it has been idle for SESSION_IDLE_TIMEOUT, and at the latest TTL_SESSION after its
      // sign-in however much it is used (ASVS 7.3.1, 7.3.2). Each save re-arms the idle time, never past that end.
      Session(_ctx, session) {
        const loginTs = session?.loginTs;
        if (!loginTs) return config.ttl.sessionIdle;
        const remaining = loginTs + config.ttl.session - Math.floor(clock() / 1000);
        return Math.max(1, Math.min(config.ttl.sessionIdle, remaining));
      },
      // A rotated refresh token inherits what is left of its predecessor's lifetime, so every chain has an absolute
      // end (ASVS 10.4.8), sender-constrained (DPoP) chains included, unlike the library's default.
      RefreshToken(ctx) {
        const remaining = ctx?.oidc.entities.RotatedRefreshToken?.remainingTTL;
        // A rotation in the chain's last second may be saved in the next one, with nothing left: the library
        // refuses a lifetime below 1 (a 500), so the new token gets that one second and no more.
        return remaining === undefined ? config.ttl.refreshToken : Math.max(1, remaining);
      },
    },
    features: {
      devInteractions: { enabled: false },
      // Claims asked for one by one (OIDC Core §5.5) only within the scopes the client may ask for: a claim of
      // another scope is dropped from the request (not refused, as §5.5 lets an OP leave out what it will not
      // release), so neither a consent page nor a first-party client's grant ever holds it.
      claimsParameter: { enabled: true, assertClaimsParameter: keepClaimsWithinScopes },
      clientCredentials: { enabled: true },
      // A client may introspect or revoke only the tokens issued to it.
      // A client's own tokens only, and never for a public client: its client_id is no secret, and introspection
      // must require some authorization (RFC 7662 §2.1). It learns `active: false`, as for a token it does not hold.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => client.clientAuthMethod !== 'none' && token.clientId === client.clientId },
      revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        // The library's ready-made form HTML is not used: our template builds the form from the issuer's URL and
        // the session's logout token, both escaped, so nothing from the request is written into the page raw.
        async logoutSource(ctx) {
          const client = ctx.oidc.client;
          await renderPage(ctx, 'logout', {
            titleId: 'logout.title',
            action: `${config.issuer}/session/end/confirm`,
            xsrf: String(ctx.oidc.session?.state?.secret ?? ''),
            clientName: client?.clientName ?? undefined,
          });
        },
        async postLogoutSuccessSource(ctx) {
          const client = ctx.oidc.client;
          await renderPage(ctx, 'logged-out', { titleId: 'logout.done_title', clientName: client?.clientName ?? undefined });
        },
      },
      resourceIndicators: config.api ? resourceIndicatorsFor(config.api, config.ttl.accessToken) : { enabled: false },
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: policyWithInactiveAccounts(),
    },
    // First-party clients (flag set by an admin) skip the consent page: their grant is created, or extended with
    // whatever this request asks for, on the spot. Everyone else gets the library's behaviour.
    async loadExistingGrant(ctx: KoaContextWithOIDC) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
      const found = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      const existing = found?.accountId === session.accountId ? found : undefined;
      if (clientFlag(client, 'first_party') !== true) return existing;
      const grant = existing ?? new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      const grantedBefore = JSON.stringify(grant.openid);
      grant.addOIDCScope([...ctx.oidc.requestParamOIDCScopes].join(' '));
      if (ctx.oidc.requestParamClaims.size) grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      // Saved only when new or widened: a silent sign-in asking for what it has writes nothing, and so cannot store
      // again a grant that the owner's Sign out of this browser revoked while this request was under way.
      if (!existing || JSON.stringify(grant.openid) !== grantedBefore) await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    // Errors the provider cannot send back to the RP (e.g. an unregistered redirect_uri) get our error page, with
    // the provider's public description: it tells the RP's developer what to fix.
    async renderError(ctx, out, error) {
      // The sign-out page's own form, refused: a person's page out of date (another tab signed out first), not a
      // relying party's bad request, and said so.
      const staleSignOut = ctx.oidc?.route === 'end_session_confirm' && out.error === 'invalid_request';
      if (staleSignOut) return respondWithError(ctx, new LogoutOutOfDateError(out.error_description));
      await respondWithError(ctx, error, { error: out.error, description: out.error_description ?? '' });
    },
  };

  return answerReplaysAsSuch(new Provider(config.issuer, configuration));
}

/**
 * The adapter refuses a replayed DPoP proof or client assertion at its insert (ReplayedError), which a parallel use
 * reaches after passing the library's own look-up: unique() then says "not unique", and each caller (DPoP, client
 * authentication) answers with its own error, as for a replay the look-up found.
 */
function answerReplaysAsSuch(provider: Provider): Provider {
  const detection = (provider as unknown as { ReplayDetection: { unique(...args: unknown[]): Promise<boolean> } }).ReplayDetection;
  const unique = detection.unique.bind(detection);
  detection.unique = async (...args) => {
    try {
      return await unique(...args);
    } catch (error) {
      if (error instanceof ReplayedError) return false;
      throw error;
    }
  };
  return provider;
}

/**
 * Rewrites the request's `claims` parameter without the claims of scopes `client` may not ask for (the library's
 * hook runs once the parameter is known to be a JSON object whose `userinfo` and `id_token` are objects; everything
 * after it reads the parameter again).
 */
async function keepClaimsWithinScopes(ctx: KoaContextWithOIDC, claims: ClaimsParameter, client: Client): Promise<void> {
  const withheld = withheldClaims(client.scope ?? undefined);
  let dropped = false;
  for (const container of ['userinfo', 'id_token'] as const) {
    const asked = claims[container];
    if (!asked) continue;
    // The library's own check, which this hook replaces: each member is null or an object (a string there would
    // reach the login prompt's checks and fail as a server error).
    for (const value of Object.values(asked)) {
      if (value !== null && (typeof value !== 'object' || Array.isArray(value))) throw new errors.InvalidRequest(`claims.${container} members must be null or objects`);
    }
    for (const claim of Object.keys(asked)) {
      if (!withheld.has(claim)) continue;
      delete asked[claim];
      dropped = true;
    }
  }
  if (dropped) ctx.oidc.params!.claims = JSON.stringify(claims);
}

function resourceIndicatorsFor(api: { audience: string; scopes: string[] }, accessTokenTTL: number) {
  return {
    enabled: true,
    defaultResource: () => undefined,
    useGrantedResource: () => false,
    // Each client gets only the API scopes it was registered for (client-rules.ts). The library already answers
    // invalid_scope to a client registered with a `scope` that asks for another; this also covers clients
    // registered without one, which get no API scope, and so no token for the API at all (not an audience-only one).
    getResourceServerInfo(_ctx: KoaContextWithOIDC, resource: string, client: Client) {
      if (resource !== api.audience) throw new errors.InvalidTarget();
      const allowed = allowedScopes(client.scope ?? undefined);
      const scope = api.scopes.filter((s) => allowed.has(s)).join(' ');
      if (!scope) throw new errors.InvalidTarget('this client is not allowed any scope of this resource');
      return { scope, audience: api.audience, accessTokenTTL, accessTokenFormat: 'jwt' as const };
    },
  };
}

/**
 * The library's policy (login, then consent), plus one login check: a session whose account has since been
 * disabled or deleted no longer counts as signed in (findAccount finds nothing for it), so the user is asked to
 * sign in again, and prompt=none answers login_required.
 */
function policyWithInactiveAccounts() {
  const policy = interactionPolicy.base();
  const inactive = new interactionPolicy.Check(
    'account_inactive',
    'the signed-in account is no longer active',
    'login_required',
    (ctx) => Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.account,
  );
  policy.get('login')!.checks.add(inactive, 0);
  return policy;
}
