// Composes Latchkey: the only place where middleware order is decided.
//
//   issuer host → discovery and JWKS when ready in memory → scheme (trusted proxy) → request context → error pages
//   → security headers → discovery and JWKS (prepared) → request scope → session cookie hint → static files → health
//   → https only (Secure cookies) → our pages → provider (issuer path)
import Koa from 'koa';
import { createHmac } from 'node:crypto';
import mount from 'koa-mount';
import { join } from 'node:path';
import type { Connection } from 'mongoose';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { Logger } from './log.ts';
import { createPasswordHasher, type PasswordWorkStats } from './accounts/passwords.ts';
import { createAccounts, type Accounts } from './accounts/users.ts';
import type { LockedWhat } from './accounts/lockout.ts';
import type { User } from './accounts/user-model.ts';
import { DEFAULT_LOCALE } from './http/i18n.ts';
import { keepAuditEvents, type AuditRetention } from './audit/retention.ts';
import { createAuditLog } from './audit/audit.ts';
import { ferretDbVersion } from './db/connection.ts';
import { manageExpiry, type ExpiryManager } from './db/expiry.ts';
import { ADAPTER_COLLECTIONS, createAdapterFactory, createAdapterIndexes } from './oidc/adapter.ts';
import { createEpochCache, type EpochCache } from './db/epoch-cache.ts';
import { requestScope } from './db/request-scope.ts';
import { homePage } from './http/home.ts';
import { answerUnavailableDatabase } from './oidc/unavailable.ts';
import { supportCodeInProviderErrors } from './oidc/support-code.ts';
import { createKeyStore, SIGNING_KEYS } from './oidc/keys.ts';
import { jwksDocument } from './oidc/jwks-route.ts';
import { cookieNames, createProvider } from './oidc/provider.ts';
import { sessionCookieHint } from './oidc/session-hint.ts';
import { createAccessRevoker } from './oidc/revocation.ts';
import { createRevocationPasses } from './oidc/revocation-passes.ts';
import { sharedSecret } from './db/secrets.ts';
import { createPseudonymizer } from './audit/pseudonym.ts';
import { interactionRoutes } from './interactions/routes.ts';
import { requestContext } from './http/request-context.ts';
import { errorPages } from './http/error-page.ts';
import { securityHeaderFields, securityHeaders, securityHeaderSetter } from './http/security-headers.ts';
import { clientErrorHandler, type ClientErrorHandler } from './http/client-error.ts';
import { answerPreparedDocuments } from './http/prepared-documents.ts';
import { staticFiles } from './http/static.ts';
import { healthChecks } from './http/health.ts';
import { pinToIssuerHost, refusePlainHttp, trustedScheme } from './http/origin.ts';
import { discoveryDocument } from './oidc/discovery-document.ts';
import { endpointMethods } from './oidc/endpoint-methods.ts';
import { cacheTemplates } from './http/render.ts';
import { createDelivery } from './delivery/index.ts';
import { CAPTCHA_COLLECTION, createCaptcha } from './security/captcha.ts';
import { createPolicyStore, type PolicyStore } from './policy/store.ts';
import { configuredSecretBox, keyBeyondDatabase } from './security/encryption.ts';
import { unreadableSecretReporter } from './oidc/client-secret.ts';
import { createPasswordChanges, PASSWORD_CHANGES } from './interactions/password-change.ts';
import { passwordChangeRoutes } from './flows/password-change.ts';
import { returnToApp, type FindRegisteredClient } from './http/return-to-app.ts';
import { accountSecurityInfoRoutes } from './flows/account-security-info.ts';
import { ACCOUNT_SESSION_STEPS, accountSessionsRoutes } from './flows/account-sessions.ts';
import { createAccountAccess } from './oidc/account-access.ts';
import { createCurrentPasswordCheck } from './flows/current-password.ts';
import { createSecurityInfoSteps, SECURITY_INFO_STEPS } from './interactions/security-info.ts';
import { publishServerIdentity } from './delivery/server-identity.ts';
import { agreesWithServers, publishDataKeyCheck } from './security/data-key-check.ts';
import { CHALLENGES, USED_CHALLENGES } from './security/challenges.ts';
import { emailMethod } from './methods/email.ts';
import { smsMethod } from './methods/sms.ts';
import { callMobileMethod, callOfficeMethod } from './methods/call.ts';
import { CALL_ANSWERS } from './flows/recovery/call-answers.ts';
import { createTotpMethod, USED_TOTP_STEPS } from './methods/totp.ts';
import { appNotificationMethod } from './methods/app-notification.ts';
import { APP_ENROLMENTS, APP_REQUEST_NONCES, createAppDevices, DEVICE_REQUESTS_PER_MINUTE } from './methods/app-devices.ts';
import { appDeviceRoutes } from './methods/app-device-routes.ts';
import { createRecoveryFeature } from './flows/recovery/index.ts';
import { recoveryAccounts } from './flows/recovery/accounts.ts';
import { FLOWS, STEPS } from './flows/recovery/store.ts';
import { LOCKDOWN_PATH_PREFIX, LOCKDOWN_TOKENS } from './flows/recovery/lockdown.ts';
import { captchaRoutes } from './security/captcha-routes.ts';
import { createCaptchaGate } from './security/captcha-gate.ts';
import { createLimits, LIMITS } from './security/limits.ts';
import { createFirstPosts } from './db/first-post.ts';
import { createSignInChallenge } from './security/sign-in-challenge.ts';

export interface Latchkey {
  app: Koa;
  provider: Provider;
  accounts: Accounts;
  /** The recovery and lockout policy (defaults with the stored overrides). */
  policy: PolicyStore;
  /** argon2 work counters (the concurrency limit), for tests and benchmarks. */
  passwordWork: () => PasswordWorkStats;
  expiry: ExpiryManager;
  /** Deletes audit events older than AUDIT_RETENTION_DAYS, about once an hour. */
  auditRetention: AuditRetention;
  /** Registered clients in memory (db/epoch-cache.ts); an admin change empties it everywhere within seconds. */
  clientCache: EpochCache;
  /**
   * For the http server's 'clientError' event: what Node's parser refuses before Koa sees it, answered with the same
   * security headers and a support code (http/client-error.ts).
   */
  clientError: ClientErrorHandler;
  /** Marks the instance as going away: readyz answers 503; everything else still works (the drain). */
  markShuttingDown(): void;
  /**
   * Marks it so, and stops background work; resolves once the message sender's pass in flight has ended, so that
   * what it sent is recorded before the database connection closes.
   */
  beginShutdown(): Promise<void>;
}

export interface LatchkeyDeps {
  config: Config;
  connection: Connection;
  log: Logger;
  /** Now, in milliseconds: what session and token expiry is measured against (tests move it). */
  clock?: () => number;
}

/** Collections outside the adapter that hold expiring documents. */
const OTHER_EXPIRING = [LIMITS, SIGNING_KEYS, CAPTCHA_COLLECTION, FLOWS, STEPS, CHALLENGES, USED_CHALLENGES, CALL_ANSWERS, LOCKDOWN_TOKENS, USED_TOTP_STEPS, APP_ENROLMENTS, APP_REQUEST_NONCES, PASSWORD_CHANGES, SECURITY_INFO_STEPS, ACCOUNT_SESSION_STEPS];

export async function createLatchkey({ config, connection, log, clock = Date.now }: LatchkeyDeps): Promise<Latchkey> {
  const box = configuredSecretBox(config);
  const keyStore = createKeyStore(connection, {
    box,
    async beforeSealing() {
      if (!(await agreesWithServers(connection, config.dataEncryptionKey, config.previousDataEncryptionKeys))) {
        throw new Error(
          'DATA_ENCRYPTION_KEY is not the key the servers on this database use (nor in DATA_ENCRYPTION_KEY_PREVIOUS): nothing was stored, and this instance does not start; give every instance the same key',
        );
      }
    },
  });
  // The signing keys first: their checks of DATA_ENCRYPTION_KEY come before anything is sealed (the cookie keys too).
  const jwks = await keyStore.loadJwks();
  const [cookieKeys, hasher, pseudonymKey, recoverySecret] = await Promise.all([
    keyStore.cookieKeys(config.cookieKeys),
    createPasswordHasher(config.argon2, { box, limit: config.passwordWork }),
    sharedSecret(connection, 'log-pseudonym-key'),
    sharedSecret(connection, 'recovery-key'),
  ]);
  await createAdapterIndexes(connection);
  if (config.production) {
    // A managed service that refuses buildInfo is no FerretDB of ours: no warning, and the start goes on.
    const ferretDb = await ferretDbVersion(connection).catch(() => undefined);
    if (ferretDb) log.warn({ event: 'database.not_for_production', ferretDb }, 'MONGODB_URI is a FerretDB server, which is for development: two changes to one account at the same instant can lose one; use MongoDB in production (README "Production notes")');
  }
  const expiry = await manageExpiry(connection, [...ADAPTER_COLLECTIONS, ...OTHER_EXPIRING], {
    intervalSeconds: config.sweepIntervalSeconds,
    log,
  });
  const audit = createAuditLog(connection, clock);
  const auditRetention = keepAuditEvents(audit, { days: config.auditRetentionDays, log, clock });
  const policy = createPolicyStore(connection, clock);
  // The lockout notice goes out through the recovery feature, which needs the accounts: bound once both exist.
  let notifyLockout: (accountId: string, what: LockedWhat) => Promise<void> = async () => {};
  const accountCache = createEpochCache(connection, 'accounts');
  accountCache.start();
  const revokeAccountAccess = createAccessRevoker(connection);
  const secondPasses = createRevocationPasses(connection, revokeAccountAccess, { log, clock });
  secondPasses.start();
  const accounts = createAccounts(connection, hasher, revokeAccountAccess, {
    accountCache,
    secondPasses,
    failureMinMs: config.signInFailureMinMs,
    serviceName: config.brand.name,
    clock,
    audit,
    log,
    policy,
    onLocked: (accountId, what) => notifyLockout(accountId, what),
    configurationKey: config.dataEncryptionKey,
  });
  const clientCache = createEpochCache(connection, 'clients');
  clientCache.start();
  const adapter = createAdapterFactory(connection, {
    clock,
    isAccessCurrent: accounts.isAccessCurrent,
    clientCache,
    clientSecrets: box,
    onUnreadableClientSecret: unreadableSecretReporter(log, clock),
  });
  const provider = createProvider({ config, accounts, adapter, jwks, cookieKeys, clock });
  // Admin commands word their notices as this server does (links on its origin, its brand).
  await publishServerIdentity(connection, { issuer: config.issuer, brand: config.brand });
  // Admin commands seal with this key only. Another key than the last instance's is a configuration mistake the
  // operator must hear of: secrets one of them seals, the other cannot open.
  if ((await publishDataKeyCheck(connection, config.dataEncryptionKey, config.previousDataEncryptionKeys)) === 'different') {
    log.error({ event: 'data_key.different' }, 'DATA_ENCRYPTION_KEY is not the key the last instance started with on this database (nor in DATA_ENCRYPTION_KEY_PREVIOUS): give every instance the same key');
  }
  const delivery = createDelivery({ config, connection, log, clock }); // messages go out through its outbox and background sender
  await delivery.start();
  const captcha = createCaptcha({ connection, testAnswer: config.captchaTestAnswer, clock });
  // Its counts' keys are keyed hashes, as the recovery limits' are (with a key of their own), so no address is stored.
  const signInLimits = createLimits(connection, createHmac('sha256', recoverySecret).update('sign-in-limit-keys').digest('base64url'), clock);
  // One gate for the recovery's first page and the sign-in page: an address's waits instead of answers are one budget.
  const captchaGate = createCaptchaGate(captcha, signInLimits, policy);
  // The calls only where something can place them (VOICE_PROVIDER); the policy then decides whether they are offered.
  const methods = [emailMethod, smsMethod, ...(delivery.voice ? [callMobileMethod, callOfficeMethod] : []), appNotificationMethod, createTotpMethod({ connection, box, clock })];
  // Enrolled authenticator apps: a removed device must stop at once, so its account is read as stored now.
  const appDevices = createAppDevices({
    connection,
    issuer: config.issuer,
    findAccount: (id) => accounts.findAgain(id),
    setAppDevice: (id, device) => accounts.setSecurityInfo(id, { appDevice: device }),
    allowRequest: (deviceId, kind) => signInLimits.allow(`app-device-${kind}`, deviceId, DEVICE_REQUESTS_PER_MINUTE, 60),
    clock,
  });
  const recovery = createRecoveryFeature({
    connection,
    config,
    accounts: recoveryAccounts(accounts),
    policy,
    methods,
    ...(delivery.voice && { voice: delivery.voice }),
    appDevices,
    captcha: captchaGate,
    enqueue: delivery.enqueue,
    audit,
    secret: recoverySecret,
    configurationKey: config.dataEncryptionKey,
    clock,
  });
  notifyLockout = recovery.notifyLockout;
  cacheTemplates(config.env !== 'development'); // development re-reads templates so edits show at once
  // The provider answers its own errors; server errors are logged here (client errors are the RP's business).
  provider.on('server_error', (ctx, error) => {
    (ctx.state.log ?? log).error({ err: error }, 'provider server error');
    answerUnavailableDatabase(ctx, error);
  });

  let shuttingDown = false;
  const app = new Koa();
  app.keys = cookieKeys; // when mounted, the parent app's keys sign the provider's cookies
  app.proxy = config.trustProxy; // likewise, the parent's proxy setting decides https and client IPs
  // The client's address is the one the last proxy appended: entries further left are the client's own to write,
  // and taken as its address they would give each forged header a fresh per-IP budget.
  app.maxIpsCount = config.trustProxyHops;
  app.silent = true; // errors are logged by error-page.ts with their request id
  const logo = config.brand.logoUrl;
  const headerOptions = { hsts: config.production, imageOrigin: logo?.startsWith('https://') ? new URL(logo).origin : undefined };
  const setSecurityHeaders = securityHeaderSetter(headerOptions);
  const discovery = discoveryDocument(config.issuer, config.issuerPath);
  const publishedKeys = jwksDocument({ issuerPath: config.issuerPath, keyStore, loaded: jwks.keys }); // from the store: revocations show at once
  app.use(pinToIssuerHost(config.issuer));
  // Discovery and JWKS, which relying parties poll, are answered from memory ahead of everything only other requests
  // need, with the same headers; until ready (first build, JWKS refresh) they go on to their own middleware below.
  app.use(answerPreparedDocuments([discovery, publishedKeys], setSecurityHeaders, log));
  // The scheme the trusted proxy saw: after those documents (the same over http and https), before anything reads it.
  if (config.trustProxy) app.use(trustedScheme(config.trustProxyHops));
  app.use(requestContext(log, config.brand, [LOCKDOWN_PATH_PREFIX], config.cookieSecure));
  // Errors first, then the request scope inside it: a deferred write that fails gets the same error page as any
  // other failure (db/request-scope.ts).
  app.use(errorPages());
  app.use(securityHeaders(setSecurityHeaders));
  app.use(discovery.prepare);
  app.use(publishedKeys.prepare);
  app.use(requestScope()); // one read per document per request (db/request-scope.ts)
  app.use(sessionCookieHint(cookieNames(config.cookieSecure).session));
  app.use(staticFiles(join(import.meta.dirname, '../public')));
  app.use(healthChecks(connection, () => shuttingDown));
  // After the health checks, which a load balancer may ask over plain http, straight to the instance; before
  // everything that sets a cookie.
  if (config.cookieSecure) app.use(refusePlainHttp([...discovery.paths, ...publishedKeys.paths]));
  app.use(homePage({ issuer: config.issuer, demoAppUrl: config.demoAppUrl, policy }).routes());
  app.use(captchaRoutes(captcha).routes());
  // The authenticator app's enrolment and notifications; an enrolment's notice texts within the budget for notices.
  const noticeTextAllowed = async () => recovery.codes.limits.allowNoticeText(await policy.current());
  const tellDeviceOwner = (before: User) => recovery.notifier.notifyMethodsChanged(before, [{ method: 'app_device', registered: true }], 'app', DEFAULT_LOCALE, noticeTextAllowed);
  app.use(appDeviceRoutes(appDevices, config.issuer, audit, tellDeviceOwner).routes());
  app.use(recovery.routes.routes());
  app.use(recovery.routes.allowedMethods());
  if (delivery.devOutboxRoutes) app.use(delivery.devOutboxRoutes.routes()); // /dev/outbox: development and tests only
  const challenge = createSignInChallenge(signInLimits, policy, clock);
  const pseudonymize = createPseudonymizer(pseudonymKey);
  const passwordChanges = createPasswordChanges(connection, { secureCookies: config.cookieSecure, clock });
  const securityInfoKit = { methods, ...recovery.codes, notifier: recovery.notifier, box, appDevices };
  const securityInfo = { steps: createSecurityInfoSteps(connection, { secureCookies: config.cookieSecure, clock }), ...securityInfoKit };
  const restartKey = Buffer.from(keyBeyondDatabase(config.dataEncryptionKey, recoverySecret, 'sign-in-restarts'), 'base64url');
  const interactions = interactionRoutes({ provider, accounts, config, pseudonymize, restartKey, challenge, captcha: captchaGate, passwordChanges, policy, audit, securityInfo, clock });
  // The account's own pages, outside a sign-in: each asks for the current password first.
  const passwords = createCurrentPasswordCheck({ config, accounts, challenge, captcha: captchaGate, pseudonymize });
  const access = createAccountAccess(connection, {
    clock,
    onError: (error) => log.error({ err: error }, 'second pass of a session ended by its owner failed'),
    forgetDevice: (accountId, nonce) => accounts.forgetDevice(accountId, nonce),
  });
  // "Back to <application>" when an application's link named itself (http/return-to-app.ts).
  app.use(returnToApp(registeredClient(provider), config.cookieSecure));
  for (const router of [
    passwordChangeRoutes({ config, accounts, passwords, policy, audit, notifier: recovery.notifier, firstPosts: createFirstPosts(connection, LIMITS, 'password-change-post', keyBeyondDatabase(config.dataEncryptionKey, recoverySecret, 'first-posts'), clock) }),
    accountSecurityInfoRoutes({ config, accounts, passwords, policy, audit, securityInfo: securityInfoKit, connection, clock }),
    accountSessionsRoutes({ config, accounts, passwords, access, audit, notifier: recovery.notifier, policy, connection, clock }),
  ]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  app.use(endpointMethods(config.issuerPath, config.authorizationPost));
  app.use(supportCodeInProviderErrors());
  app.use(mount(config.issuerPath || '/', provider));

  return {
    app,
    provider,
    accounts,
    passwordWork: hasher.stats,
    policy,
    expiry,
    auditRetention,
    clientCache,
    clientError: clientErrorHandler(securityHeaderFields(headerOptions), log),
    markShuttingDown() {
      shuttingDown = true;
    },
    beginShutdown() {
      shuttingDown = true;
      expiry.stop();
      auditRetention.stop();
      clientCache.stop();
      accountCache.stop();
      secondPasses.stop();
      return delivery.stop();
    },
  };
}

/** A client as registered now (the provider's cache of it), with the addresses it registered. */
function registeredClient(provider: Provider): FindRegisteredClient {
  return async (clientId) => {
    const client = await provider.Client.find(clientId);
    if (!client) return undefined;
    return { ...(client.clientName && { name: client.clientName }), addresses: [...(client.redirectUris ?? []), ...(client.postLogoutRedirectUris ?? [])] };
  };
}
