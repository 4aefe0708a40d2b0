// Our sign-in and consent pages for oidc-provider's interactions. GET /interaction/:uid shows the page for the
// current prompt; each POST checks CSRF, asserts the prompt it expects, and ends with the provider's result (a 303).
//
// The interaction cookie is scoped to /interaction/<uid>, so everything that needs the interaction lives below it.
import Router from '@koa/router';
import type { Context } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import { z } from 'zod';
import { AccountChangedError, revocationMsOf, type Accounts } from '../accounts/users.ts';
import type { User } from '../accounts/user-model.ts';
import { MAX_PASSWORD_INPUT_LENGTH } from '../accounts/passwords.ts';
import type { Config } from '../../config/index.ts';
import { readForm } from '../http/body.ts';
import { createRetryCookie, PASSWORD_REFUSALS, type Retry } from '../http/retry-cookie.ts';
import { issueCsrfToken, verifyCsrfToken } from '../http/csrf.ts';
import { createKeepSignedIn } from './keep-signed-in.ts';
import { createSignInRestarts, type RestartNote } from './sign-in-restarts.ts';
import { deviceOf, setDeviceCookie } from '../http/device-cookie.ts';
import { checkForm, csrfOnly, readCheckedForm } from '../http/checked-form.ts';
import { FlowExpiredError } from '../errors.ts';
import { renderPage } from '../http/render.ts';
import { useLocale } from '../http/request-context.ts';
import { supportedUiLocale } from '../http/i18n.ts';
import type { AppContext } from '../http/context.ts';
import type { MessageId } from '../http/messages/en.ts';
import { ACR, PASSWORD_CHECKED_AT_MS, PASSWORD_CHECKED_UNDER, claimsOf } from '../oidc/account.ts';
import { hasUnmetEssentialAcr } from '../oidc/acr.ts';
import { OIDC_SCOPES } from '../oidc/client-rules.ts';
import type { Pseudonymize } from '../audit/pseudonym.ts';
import { refusalAsShown, SIGN_IN_CAPTCHA_ERRORS, type CaptchaGate } from '../security/captcha-gate.ts';
import type { SignInAttempt, SignInChallenge } from '../security/sign-in-challenge.ts';
import { keepSignInLanguage } from '../flows/current-password.ts';
import { loginOfferedToSignIn, MAX_LOGIN_LENGTH, offerLoginToRecovery, usableLogin, withdrawLoginOffer } from '../flows/recovery/prefill.ts';
import { FLOW_SECONDS, LONGEST_FLOW_SECONDS } from '../flows/recovery/store.ts';
import { PASSWORD_REASONS, PasswordRejectedError } from '../accounts/password-rules.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { PasswordChanges } from './password-change.ts';
import { accountOfStep as accountOfStepOf, passwordCheckOf, type InteractionSteps, type PendingStep } from './interaction-steps.ts';
import { securityInfoRoutes, type SecurityInfoDeps } from './security-info-routes.ts';
import { requestFacts, type AuditLog } from '../audit/audit.ts';
import { detached } from '../db/request-scope.ts';

export interface InteractionDeps {
  provider: Provider;
  accounts: Accounts;
  config: Config;
  /** Keyed hash for logging login names. */
  pseudonymize: Pseudonymize;
  /** The key that seals the relying party's requests kept in browsers (sign-in-restarts.ts). */
  restartKey: Buffer;
  /** Whether sign-ins from an address must answer a CAPTCHA first (password spraying), and the failures it counts. */
  challenge: SignInChallenge;
  /** The CAPTCHA such a sign-in must pass: its answer, or its wait (security/captcha-gate.ts). */
  captcha: CaptchaGate;
  /** Temporary passwords replaced at sign-in (password-change.ts). */
  passwordChanges: PasswordChanges;
  /** The password rules' minimum, for the page where a temporary password is replaced. */
  policy: { current(): Promise<RecoveryPolicy> };
  /** Where a replaced temporary password is recorded (`password.changed`), and changes to security info. */
  audit: Pick<AuditLog, 'record'>;
  /** The security info page a sign-in may stop at (security-info.ts). */
  securityInfo: SecurityInfoDeps;
  clock?: () => number;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;
type StoredInteraction = InstanceType<Provider['Interaction']>;

/**
 * load()'s answer for a sign-in the provider refuses for good (SessionNotFound) whose authorization request is still
 * the relying party's, and valid: the router asks for it again (restartSignIn below) instead of sending the person
 * back to the application. `session_gone`: the interaction is live, but its session is gone. Mostly: prompt=login or
 * an expired max_age sent a signed-in person here, and the account's sessions were revoked before they signed in
 * again (a password reset, a "This wasn't me" lockdown, an admin's reset or disable: oidc/revocation.ts); also a
 * session signed out or timed out meanwhile. `expired`: the interaction expired while its page was open, or while a
 * recovery started from it ran (sign-in-restarts.ts).
 */
class RestartSignIn extends Error {
  readonly query: string;
  readonly reason: 'session_gone' | 'expired';

  constructor(query: string, reason: RestartSignIn['reason']) {
    super(`the sign-in is restarted: ${reason}`);
    this.query = query;
    this.reason = reason;
  }
}

/**
 * The authorization request of `interaction`, when it may be asked again through the browser. A device flow's
 * cannot be asked again here; a pushed one (PAR, RFC 9126) must not be: its parameters went over the back channel
 * and would come back through the browser's address bar, history and proxy logs.
 */
function restartableQuery(interaction: StoredInteraction): string | undefined {
  if (interaction.deviceCode || (interaction as { parJti?: string }).parJti) return undefined;
  return authorizationQuery(interaction.params);
}

/**
 * An authorization request's parameters as the provider stored them (strings; `resource` may be a list), as a query
 * for its authorization endpoint: exactly what was asked, which the endpoint validates again.
 */
function authorizationQuery(params: Record<string, unknown>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const each of Array.isArray(value) ? value : [value]) if (each !== undefined && each !== null) query.append(name, String(each));
  }
  return query.toString();
}

const loginForm = z.object({
  login: z.string().trim().max(MAX_LOGIN_LENGTH),
  password: z.string().max(MAX_PASSWORD_INPUT_LENGTH),
  csrf: z.string(),
  // The CAPTCHA, when the page asked for one (views/partials/captcha.ejs): "New picture" posts action=new-captcha.
  action: z.enum(['sign-in', 'new-captcha']).default('sign-in'),
  captchaId: z.string().max(64).default(''),
  captcha: z.string().max(64).default(''),
  // "Keep me signed in" (keep-signed-in.ts): a ticked checkbox sends 1, an unticked one nothing.
  remember: z.literal('1').optional(),
});
const newPasswordForm = z.object({ csrf: z.string(), password: z.string().max(MAX_PASSWORD_INPUT_LENGTH), confirm: z.string().max(MAX_PASSWORD_INPUT_LENGTH) });

/** The scopes the consent page words itself (`scope.<name>`): the OpenID Connect ones; an API's are listed as named. */
const KNOWN_SCOPES = new Set(OIDC_SCOPES);
/** The claims the consent page words (messages `claim.*`): those of the scopes. */
const KNOWN_CLAIMS = claimsOf();

export function interactionRoutes({ provider, accounts, config, pseudonymize, restartKey, challenge, captcha, passwordChanges, policy, audit, securityInfo, clock = Date.now }: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const csrfOptions = { secure: config.cookieSecure };
  const restarts = createSignInRestarts(config.cookieSecure, restartKey);

  /**
   * Loads the interaction named in the URL; anything else (ended, expired, another browser's) is FlowExpired, but one
   * whose session is gone, or that expired with this browser holding its request, is RestartSignIn. `onRestart` is
   * told of that first: it may leave the request asked again a note of what this request was, or refuse (throw).
   */
  async function load(ctx: Context, expectedPrompt?: string, onRestart?: (restart: RestartSignIn) => void | Promise<void>): Promise<Details> {
    const details = await provider.interactionDetails(ctx.req, ctx.res).catch(async (error: unknown) => {
      if (!(error instanceof oidcErrors.SessionNotFound)) throw error;
      const orphan = await interactionWithoutSession(ctx);
      const query = orphan ? restartableQuery(orphan) : undefined;
      const kept = orphan ? undefined : await keptForExpired(ctx);
      const restart = query ? new RestartSignIn(query, 'session_gone') : kept ? new RestartSignIn(kept, 'expired') : undefined;
      if (!restart) throw error;
      await onRestart?.(restart);
      throw restart;
    });
    if (details.uid !== ctx.params.uid) throw new FlowExpiredError('interaction uid does not match the cookie');
    const uiLocales = details.params.ui_locales;
    if (typeof uiLocales === 'string') useLocale(ctx as AppContext, uiLocales);
    if (expectedPrompt && details.prompt.name !== expectedPrompt) {
      throw new FlowExpiredError(`expected prompt ${expectedPrompt}, got ${details.prompt.name}`);
    }
    return details;
  }

  /**
   * This browser's interaction named in the URL, when it is live but the session it was started in is gone. Not one
   * whose session is now another account's (the provider's "session principal changed": someone signed in as
   * another account meanwhile), which stays refused; nor one this browser holds no cookie for (the uid alone, seen
   * in a URL, gives nobody the relying party's request).
   */
  async function interactionWithoutSession(ctx: Context): Promise<StoredInteraction | undefined> {
    const uid = ctx.params.uid;
    if (!uid || ctx.cookies.get(provider.cookieName('interaction'), { signed: true }) !== uid) return undefined;
    const interaction = await provider.Interaction.find(uid);
    const sessionUid = interaction?.session?.uid;
    if (!sessionUid) return undefined;
    return (await provider.Session.findByUid(sessionUid)) ? undefined : interaction;
  }

  /**
   * Keeps the relying party's request of `details` in this browser, for its page used too late (sign-in-restarts.ts);
   * once, as the page is first shown, so that it lasts from then: the sign-in's life and a quarter of an hour.
   */
  function keepRequest(ctx: Context, details: Details) {
    if (restarts.kept(ctx, details.uid) === undefined) keepRequestFor(ctx, details, config.ttl.interaction + FLOW_SECONDS);
  }

  /** Keeps it for `seconds` from now (a recovery started from the sign-in: as long as it may last, extended). */
  function keepRequestFor(ctx: Context, details: Details, seconds: number) {
    const query = restartableQuery(details);
    if (query) restarts.keep(ctx, details.uid, { query, expiresAtMs: (details.exp ?? 0) * 1000 }, seconds * 1000);
  }

  /**
   * The request this browser kept for the interaction named in the URL, once that interaction's life is over and it
   * is gone. Not before: one gone earlier had its answer.
   */
  async function keptForExpired(ctx: Context): Promise<string | undefined> {
    const uid = ctx.params.uid;
    const kept = uid ? restarts.kept(ctx, uid) : undefined;
    if (!kept || clock() < kept.expiresAtMs) return undefined;
    return (await provider.Interaction.find(uid!)) ? undefined : kept.query;
  }

  /** For a form that must not be carried out on the request asked again: its page has expired, as it says. */
  const refuseExpired = (restart: RestartSignIn) => {
    if (restart.reason === 'expired') throw new FlowExpiredError('a form of an expired interaction');
  };

  /** The form's CSRF token checked for interaction `uid`, then its fields against `schema`. */
  const validForm = <T>(ctx: Context, form: Record<string, string>, schema: z.ZodType<T>, uid: string) => checkForm(ctx, form, schema, `interaction:${uid}`, csrfOptions);
  const readValidForm = <T>(ctx: Context, schema: z.ZodType<T>, uid: string) => readCheckedForm(ctx, schema, `interaction:${uid}`, { limit: config.formBodyLimit, ...csrfOptions });

  async function clientName(details: Details): Promise<string> {
    const client = await provider.Client.find(String(details.params.client_id));
    return client?.clientName ?? String(details.params.client_id);
  }

  async function showLogin(ctx: Context, details: Details, extra: Retry = {}) {
    // Asked of everyone at this address alike, whoever they are about to sign in as (never a sign of an account).
    // One whose wait is not over is shown again, so that its wait goes on.
    const shown = (await challenge.required(ctx.ip)) ? await captcha.show(extra.captchaId) : undefined;
    // A login kept from a refusal of this page, else the one typed in a recovery started here, else the hint.
    const login = extra.login ?? loginOfferedToSignIn(ctx, details.uid, config.cookieSecure) ?? usableLogin(details.params.login_hint) ?? '';
    // The recovery's first page starts as this one shows the login; emptied here (a refusal kept ''), there too.
    if (login) offerLoginToRecovery(ctx, details.uid, login, config.cookieSecure);
    else if (extra.login !== undefined) withdrawLoginOffer(ctx, config.cookieSecure);
    keepRequest(ctx, details);
    await renderPage(ctx, 'login', {
      titleId: 'login.title',
      uid: details.uid,
      client: await clientName(details),
      csrf: issueCsrfToken(ctx, `interaction:${details.uid}`, csrfOptions),
      login,
      error: refusalAsShown(extra.error, Boolean(shown)),
      supportCode: extra.supportCode,
      remember: keepSignedIn.chosen(ctx),
      ...shown,
    });
  }

  async function showConsent(ctx: Context, details: Details) {
    const { missingOIDCScope = [], missingOIDCClaims = [], missingResourceScopes = {} } = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    // Everything the application will hold once allowed, not only what it did not hold yet: asked again
    // (prompt=consent, the only way to offline access), a page listing nothing would still grant it all. The
    // OpenID Connect scopes asked for (the library has already refused any the client may not have), those not yet
    // granted, and an API's scopes.
    const requested = String(details.params.scope ?? '').split(' ').filter((scope) => KNOWN_SCOPES.has(scope));
    const shown = [...new Set([...requested, ...missingOIDCScope, ...Object.values(missingResourceScopes).flat()])];
    const session = details.session!;
    const user = await accounts.findCurrent(session.accountId);
    const client = await clientName(details);
    keepRequest(ctx, details);
    await renderPage(ctx, 'consent', {
      titleId: 'consent.title',
      titleParams: { client },
      uid: details.uid,
      client,
      user: user?.email ?? user?.username ?? '',
      scopes: shown.map((scope) => ({ scope, known: KNOWN_SCOPES.has(scope) })),
      claims: missingOIDCClaims.map((claim) => ({ claim, known: KNOWN_CLAIMS.has(claim) })),
      days: Math.round(config.ttl.grant / 86400),
      csrf: issueCsrfToken(ctx, `interaction:${details.uid}`, csrfOptions),
    });
  }

  /**
   * The account whose temporary password was just accepted in this browser for this interaction, while it still must
   * be replaced: not once an administrator has acted on the account since (a new temporary password, a disable, a
   * lockdown: each revokes the account's access, `revokedAt`), even if undone meanwhile. `again`: the account read
   * anew, though this request read it already.
   */
  async function changingPassword(ctx: Context, details: Details, { again = false } = {}): Promise<User | undefined> {
    const pending = await passwordChanges.pending(ctx, details.uid);
    const user = pending && (await accountOfStep(pending, again));
    return user?.passwordChangeRequired ? user : undefined;
  }

  const accountOfStep = (step: PendingStep<unknown>, again = false) => accountOfStepOf(accounts, step, again);

  /** The new-password page; `error`: why the one posted was refused (`refuseNewPassword`), shown once. */
  async function showPasswordChange(ctx: Context, details: Details, user: User, { error, supportCode }: Pick<Retry, 'error' | 'supportCode'> = {}) {
    await renderPage(ctx, 'password-change', {
      titleId: 'password_change.title',
      uid: details.uid,
      client: await clientName(details),
      csrf: issueCsrfToken(ctx, `interaction:${details.uid}`, csrfOptions),
      username: user.username,
      minLength: (await policy.current()).passwordMinLength,
      error,
      supportCode,
    });
  }

  /**
   * The sign-in as the interaction's result: `checkedAtMs` is when the password was known good, and `user` the account
   * as that check read it (its revocation then).
   */
  function signedIn(ctx: Context, user: User, checkedAtMs: number) {
    const login = { accountId: user._id, acr: ACR.password, amr: ['pwd'], ts: Math.floor(checkedAtMs / 1000), remember: keepSignedIn.chosen(ctx) };
    return finish(ctx, { login, [PASSWORD_CHECKED_AT_MS]: checkedAtMs, [PASSWORD_CHECKED_UNDER]: revocationMsOf(user) }, false);
  }

  async function finish(ctx: Context, result: Parameters<Provider['interactionResult']>[2], merge: boolean) {
    const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: merge });
    restarts.drop(ctx, ctx.params.uid!); // its page, opened again, is the expired one: the request has its answer
    ctx.redirect(returnTo);
    ctx.status = 303; // never 307: the browser must not re-post the password (RFC 9700 §4.12)
  }

  /** An interaction whose result is recorded: where `finish` sent the browser, the provider's resume. */
  function resumeRecorded(ctx: Context, details: Details) {
    restarts.drop(ctx, details.uid); // as finish did, should this browser have missed its answer
    ctx.status = 303;
    ctx.redirect(details.returnTo);
  }

  /** A password sign-in cannot give what an essential acr request demands: fail as an unsuccessful sign-in. */
  async function refuseUnmetAcr(ctx: Context) {
    await finish(ctx, { error: 'access_denied', error_description: 'the requested authentication context class (acr) cannot be met' }, false);
  }

  // A refused sign-in answers with a redirect to its page (POST, redirect, GET), so a reload never posts the password
  // again; what the page shows then travels in a cookie scoped to the one interaction, read once. It holds no password.
  const retries = createRetryCookie('lk_signin_retry', config.cookieSecure, PASSWORD_REFUSALS);
  const keepSignedIn = createKeepSignedIn(config.cookieSecure, config.ttl.interaction);
  const retrySignIn = (ctx: Context, details: Details, error: MessageId | undefined, login: string, captchaId?: string) =>
    retries.redirect(ctx, `/interaction/${details.uid}`, { error, login, ...(captchaId && { captchaId }) });
  // A new password refused (the rules, or two that differ) likewise: its page says why, once, and a reload posts no
  // password again.
  const newPasswordRetries = createRetryCookie('lk_new_password_retry', config.cookieSecure, ['recover.password_mismatch', ...PASSWORD_REASONS]);
  const refuseNewPassword = (ctx: Context, details: Details, error: MessageId) => newPasswordRetries.redirect(ctx, `/interaction/${details.uid}`, { error });

  // An interaction whose session is gone (RestartSignIn) starts again, so that the person who has just reset their
  // password (the recovery's "back to sign in" comes here) signs in with it rather than meeting an expired page; so
  // does one that expired while this browser held its request (sign-in-restarts.ts). A GET (the page; its /recover
  // link too) asks the authorization endpoint for the same request anew, which the provider validates and decides
  // afresh with the browser's session as it is now (after a revocation none: a new sign-in, and consent, as the
  // grants went too). The relying party's state, nonce and PKCE challenge go along unchanged. A POST (a password
  // typed on the stale page) is answered with its page, which does that: nothing posted is checked, and no password
  // is posted again (a note of the login may be left for the new page). A stale interaction whose session is gone is
  // left to expire: a second tab or a reload of it restarts the same request, as the authorization URL in the
  // browser's history would; it never gets a result, so its resume cookie leads nowhere. An expired one's kept
  // request is asked again once.
  router.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if (!(error instanceof RestartSignIn)) throw error;
      await restartSignIn(ctx, error);
    }
  });

  async function restartSignIn(ctx: Context, { query, reason }: RestartSignIn) {
    ctx.state.log.info({ event: 'interaction.restarted', reason }, `sign-in restarted: ${reason.replace(/_/g, ' ')}`);
    if (ctx.method === 'POST') {
      ctx.status = 303;
      return ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}`);
    }
    // A kept request (sign-in-restarts.ts) is asked again once, whichever way this restart came: the sign-in it leads
    // to has its own page, and this one is done with.
    restarts.drop(ctx, ctx.params.uid!);
    // Where the provider takes authorization requests by POST, the request is asked again by POST: the relying party
    // may have posted it to keep its parameters (a login_hint, an id_token_hint) out of addresses, histories and logs.
    if (config.authorizationPost) {
      return renderPage(ctx, 'restart', { titleId: 'restart.title', action: provider.pathFor('authorization'), fields: [...new URLSearchParams(query)] });
    }
    ctx.status = 303;
    ctx.redirect(`${provider.pathFor('authorization')}?${query}`);
  }

  router.get('/', async (ctx) => {
    const details = await load(ctx);
    // Recorded already (a double click's other request did, and the browser shows this one's answer): on to the
    // provider, as that request's answer said. Only this browser reaches its interaction.
    if (details.prompt.name === 'login' && details.result?.login) return resumeRecorded(ctx, details);
    if (details.prompt.name === 'login' && hasUnmetEssentialAcr(details.params)) return refuseUnmetAcr(ctx);
    if (details.prompt.name === 'login') {
      const changing = await changingPassword(ctx, details);
      if (changing) return showPasswordChange(ctx, details, changing, newPasswordRetries.take(ctx, `/interaction/${details.uid}`));
      if (await securityInfoPages.showPending(ctx, details.uid)) return;
      // What this request's expired page left for it, when it was asked again (sign-in-restarts.ts).
      const query = restartableQuery(details);
      const restarted = query ? restarts.takeNote(ctx, query) : undefined;
      if (restarted?.then === 'recover') {
        // The new sign-in page is not shown: the relying party's hint starts "Who are you?", as that page would have.
        const hint = usableLogin(details.params.login_hint);
        if (hint) offerLoginToRecovery(ctx, details.uid, hint, config.cookieSecure);
        return continueToRecovery(ctx, details);
      }
      const retry = retries.take(ctx, `/interaction/${details.uid}`);
      if (restarted?.then === 'sign-in') return showLogin(ctx, details, { error: 'login.restarted', login: restarted.login, supportCode: restarted.supportCode });
      if (restarted?.then === 'security-info') return showLogin(ctx, details, { error: 'login.restarted_security_info', supportCode: restarted.supportCode });
      return showLogin(ctx, details, retry);
    }
    if (details.prompt.name === 'consent') return showConsent(ctx, details);
    throw new FlowExpiredError(`unknown prompt ${details.prompt.name}`);
  });

  router.post('/login', async (ctx) => {
    // When the password was checked, for the session (auth_time, and the account-level revocation: a reset or a
    // lockdown after it must void the sign-in). Without it the library stamps the session when the browser follows
    // the redirect, which may be long after the account was reset.
    // The result also keeps it to the millisecond (PASSWORD_CHECKED_AT_MS): a reset in the same second must void a
    // sign-in checked before it, and not one checked after it.
    const checkedAtMs = Date.now();
    // The form is read first (no database), so that the account is read while the interaction is: one round trip
    // less. That early read only fills this request's memory; nothing is decided before the interaction and the
    // CSRF token have been checked.
    // An address past its failure threshold must answer the CAPTCHA before any account is read (so not even early).
    const submitted = await readForm(ctx, config.formBodyLimit);
    // Tries from one address let through without a CAPTCHA are counted as they begin, not only as they fail, so
    // that many sent at once cannot all get past it (security/sign-in-challenge.ts).
    const attempt = await challenge.begin(ctx.ip);
    try {
      await passwordSignIn(ctx, submitted, attempt, checkedAtMs);
    } finally {
      attempt.end();
    }
  });

  /**
   * A sign-in posted on a page that can no longer be used: nothing of it is done, but the request asked again hears
   * of it (`note`): its page says the password was not checked, with the login as it was typed. Only from this
   * browser's own form (its CSRF token), so that another site cannot fill in a login for the next sign-in here.
   */
  function carryToRestart(ctx: Context, { query }: RestartSignIn, submitted: Record<string, string>, note: RestartNote) {
    try {
      verifyCsrfToken(ctx, `interaction:${ctx.params.uid}`, submitted.csrf, csrfOptions);
    } catch {
      return; // a forged form: the new page starts as any would
    }
    restarts.leaveNote(ctx, query, note);
  }

  /** A security info form posted on a page that can no longer be used: its CSRF token read to leave the note. */
  async function carryFormToRestart(ctx: Context, restart: RestartSignIn) {
    const submitted = await readForm(ctx, config.formBodyLimit).catch(() => ({}) as Record<string, string>);
    carryToRestart(ctx, restart, submitted, { then: 'security-info' });
  }

  /** The sign-in POST once its address's challenge is known (`attempt`). */
  async function passwordSignIn(ctx: Context, submitted: Record<string, string>, attempt: SignInAttempt, checkedAtMs: number) {
    const { challenged } = attempt;
    if (!challenged && typeof submitted.login === 'string') accounts.prefetchLogin(submitted.login);
    // A new picture asked for on an expired page is simply the new page, with its own picture.
    const details = await load(ctx, 'login', (restart) => {
      if (submitted.action !== 'new-captcha') carryToRestart(ctx, restart, submitted, { then: 'sign-in', login: submitted.login ?? '' });
    });
    const form = validForm(ctx, submitted, loginForm, details.uid);
    // Kept whatever the answer: a refused form comes back with the box as it was left, and a right password uses it.
    keepSignedIn.choose(ctx, details.uid, form.remember === '1');
    if (hasUnmetEssentialAcr(details.params)) return refuseUnmetAcr(ctx);
    // Every failed sign-in is logged so that an attack can be seen (many failures for one login, or from one
    // address), with a keyed hash of the login instead of the login itself.
    const logFailure = (reason: string) =>
      ctx.state.log.info({ event: 'signin.failed', factor: 'password', reason, ...(form.login && { loginHash: pseudonymize(form.login) }), ip: ctx.ip }, 'sign-in failed');
    if (form.action === 'new-captcha') return retrySignIn(ctx, details, undefined, form.login);
    if (!form.login || !form.password) {
      logFailure('missing_field');
      // Its CAPTCHA was not looked at: the page shows the same picture again, and its wait goes on.
      return retrySignIn(ctx, details, 'login.missing', form.login, challenged ? form.captchaId : undefined);
    }
    // Passed (and used up) before the password is looked at: no password checked, no lockout slot taken, no account
    // read for a sign-in without the right answer or the wait. Not a failure of the account's, nor counted as the
    // address's.
    if (challenged) {
      const outcome = await captcha.pass(form.captchaId, form.captcha, ctx.ip);
      if (!outcome.passed) {
        logFailure(`captcha_${outcome.reason}`);
        return retrySignIn(ctx, details, SIGN_IN_CAPTCHA_ERRORS[outcome.reason], form.login, 'keep' in outcome ? outcome.keep : undefined);
      }
    }
    // The interaction records the sign-in while the lockout is cleared (one round trip less); after a temporary
    // password, only once the person has chosen their own (POST /password).
    // The page's language is kept for the owner's notices at the same time.
    const recordInInteraction = async (user: User) => {
      await Promise.all([user.passwordChangeRequired ? askForOwnPassword(ctx, details, user, checkedAtMs) : proceed(ctx, details.uid, user, checkedAtMs), keepSignInLanguage(accounts, ctx, user)]);
    };
    // Every failure counts for the address and the installation, alike (wrong password, unknown login, locked or
    // disabled account), counted while the failure waits for its minimum answer time.
    const result = await accounts.signIn(form.login, form.password, deviceOf(ctx, config.cookieSecure), recordInInteraction, () => attempt.failed());
    if (!result.ok) {
      // A wrong password, an unknown login, a disabled or a locked account: one answer, no cookie changes, and one
      // reason in the log (which of those it was is not for the log either).
      logFailure('invalid');
      return retrySignIn(ctx, details, 'login.invalid', form.login);
    }
    ctx.state.log.info({ event: 'signin.succeeded', factor: 'password', accountId: result.user._id }, 'sign-in succeeded');
    withdrawLoginOffer(ctx, config.cookieSecure); // signed in: the next person at this browser does not get the login
    setDeviceCookie(ctx, result.deviceToken, config.cookieSecure);
  }

  /**
   * The language this sign-in was shown in, kept for the notices the owner gets later, whoever causes them. Not
   * kept is no reason to refuse a right password: the notices then speak the default language, or the recovery's.
   */
  async function askForOwnPassword(ctx: Context, details: Details, user: User, checkedAtMs: number) {
    // Begun when the password was checked: another temporary password set during the argon2 run voids this step.
    await passwordChanges.start(ctx, details.uid, passwordCheckOf(user, checkedAtMs));
    ctx.status = 303;
    ctx.redirect(`/interaction/${details.uid}`);
  }

  /** Nothing to do here (the step's time is over, it was used, or the account changed): the sign-in page. */
  function backToSignIn(ctx: Context, uid: string) {
    ctx.status = 303;
    ctx.redirect(`/interaction/${uid}`);
  }

  /**
   * Where another request of this browser that used up the step (`steps`) went, once it is through: a double click's
   * other request, whose answer the browser no longer shows. When that request recorded the sign-in, on to the
   * provider's resume as its answer said, rather than to an error or to the password again; else the sign-in page.
   */
  async function afterOtherRequest(ctx: Context, steps: Pick<InteractionSteps<unknown>, 'finishedFor'>, uid: string) {
    const accountId = (await steps.finishedFor(ctx, uid))?.accountId;
    if (accountId) {
      const details = await recordedDetails(ctx, uid);
      if (details?.result?.login?.accountId === accountId) return resumeRecorded(ctx, details);
    }
    backToSignIn(ctx, uid);
  }

  /** The interaction read anew (not this request's copy from before another request recorded its result), if `uid`. */
  async function recordedDetails(ctx: Context, uid: string): Promise<Details | undefined> {
    const details = await detached(() => provider.interactionDetails(ctx.req, ctx.res));
    return details.uid === uid ? details : undefined;
  }

  /**
   * The new-password form of a step another post of this browser used up. A double click's other post (sent with the
   * step's cookie, `finishedFor`) with the password that post saved leads where that one went: the recorded sign-in,
   * or the sign-in page, which shows the security info step that follows. Another password (a second tab), or the
   * form sent again once the step was over (the Back button: the sign-in recorded, or the security info step begun),
   * is told which password is in effect, and goes on with the sign-in from there: it is not led on as though its own
   * password had been saved. Nothing done with the step at all (its time ran out, it was cancelled): the sign-in page.
   */
  async function afterOtherPasswordPost(ctx: Context, uid: string, password: string) {
    const finished = await passwordChanges.finishedFor(ctx, uid);
    const details = await recordedDetails(ctx, uid);
    const recorded = details?.result?.login?.accountId;
    if (finished) {
      // Read anew after the other post's write, and only that post's password: one set since (an administrator's) is
      // never tested, whatever this post's form says. A failure to read counts as another password (nothing is led on).
      const saved = await accounts.hasPassword(finished.accountId, password, { savedWith: finished.revokedAt ?? new Date(0) }).catch((error: unknown) => {
        ctx.state.log.warn({ err: error }, "could not tell whether the saved password is this post's");
        return false;
      });
      if (saved) return recorded === finished.accountId ? resumeRecorded(ctx, details!) : backToSignIn(ctx, uid);
    } else if (!recorded && !(await securityInfo.steps.pending(ctx, uid))) {
      return backToSignIn(ctx, uid);
    }
    ctx.status = 409;
    await renderPage(ctx, 'password-chosen-elsewhere', { titleId: 'password_change.elsewhere_title', uid });
  }

  /** A right password (and the person's own): the security info page when the policy asks for it, else signed in. */
  async function proceed(ctx: Context, uid: string, user: User, checkedAtMs: number) {
    if (!(await securityInfoPages.begin(ctx, uid, user, checkedAtMs))) await signedIn(ctx, user, checkedAtMs);
  }

  const securityInfoPages = securityInfoRoutes(router, securityInfo, {
    pagePath: (uid) => `/interaction/${uid}`,
    formsPath: '/security-info',
    cancelPath: (uid) => `/interaction/${uid}/abort`,
    manage: false,
    config,
    accounts,
    policy,
    audit,
    clock,
    // A form of the page posted once the sign-in is over (its life, or its session gone): the request is asked again,
    // and its new page says that what was just sent from here was not saved (the person, back at a sign-in page, would
    // not know), and that what was saved before is kept.
    stepIdOf: async (ctx) => (await load(ctx, 'login', ctx.method === 'POST' ? (restart) => carryFormToRestart(ctx, restart) : undefined)).uid,
    readValidForm,
    csrfToken: (ctx, uid) => issueCsrfToken(ctx, `interaction:${uid}`, csrfOptions),
    accountOfStep,
    finished: signedIn,
    noStep: (ctx, uid) => afterOtherRequest(ctx, securityInfo.steps, uid),
    usedAlready: (ctx, uid) => afterOtherRequest(ctx, securityInfo.steps, uid),
  });

  // A new password posted on an expired page was not saved: the page says it has expired, rather than a sign-in page
  // that would take the password just chosen as a wrong one.
  router.post('/password', async (ctx) => {
    const details = await load(ctx, 'login', refuseExpired);
    const form = await readValidForm(ctx, newPasswordForm, details.uid);
    const afterOtherPost = () => afterOtherPasswordPost(ctx, details.uid, form.password);
    const first = await changingPassword(ctx, details);
    if (!first) return afterOtherPost();
    if (form.password !== form.confirm) return refuseNewPassword(ctx, details, 'recover.password_mismatch');
    let prepared;
    try {
      prepared = await accounts.prepareOwnPassword(first._id, form.password); // the rules, and not the temporary one
    } catch (error) {
      if (error instanceof PasswordRejectedError) return refuseNewPassword(ctx, details, error.reason);
      throw error;
    }
    // Judged again on the account as stored now: an administrator's new temporary password (the first one leaked,
    // say) may have landed during the argon2 runs; and written only over that account's revocation (one landing
    // after this read refuses the write).
    const user = await changingPassword(ctx, details, { again: true });
    if (!user) return afterOtherPost();
    // Used once, by one of any parallel posts: only that one writes a password and goes on; the others (a double
    // click, two passwords at once) wait for it and lead where it did.
    const finishing = await passwordChanges.finishOnce(ctx, details.uid, user._id);
    if (!finishing) return afterOtherPost();
    let changed: Date | undefined; // the account's revocation written with the new password
    try {
      // The new password, written with the account's revocation as any reset is: no session or token from before it
      // stays valid.
      try {
        changed = await accounts.replacePassword(prepared, user);
      } catch (error) {
        if (error instanceof AccountChangedError) return backToSignIn(ctx, details.uid);
        throw error;
      }
      ctx.state.log.info({ event: 'password.changed', reason: 'temporary', accountId: user._id }, 'temporary password replaced');
      await audit.record({ type: 'password.changed', reason: 'temporary', accountId: user._id, ...requestFacts(ctx) });
      // Signed in under the revocation this change wrote: a later one voids the sign-in.
      await proceed(ctx, details.uid, { ...user, revokedAt: changed }, Date.now());
    } finally {
      // Not changed (an administrator acted meanwhile, or the write failed): the other posts go back to the sign-in.
      await finishing.done(changed !== undefined, changed);
    }
  });

  router.post('/confirm', async (ctx) => {
    const details = await load(ctx, 'consent');
    await readValidForm(ctx, csrfOnly, details.uid);
    const { missingOIDCScope, missingOIDCClaims, missingResourceScopes } = details.prompt.details as {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
    if (!grant) throw new FlowExpiredError('grant vanished');
    if (missingOIDCScope?.length) grant.addOIDCScope(missingOIDCScope.join(' '));
    if (missingOIDCClaims?.length) grant.addOIDCClaims(missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await finish(ctx, { consent: { grantId } }, true);
  });

  // Cancel on an expired page is not turned into a sign-in page (nor carried out on the request asked again, which a
  // session made meanwhile in another tab could answer with a code): the page says it has expired, and to go back.
  router.post('/abort', async (ctx) => {
    const details = await load(ctx, undefined, refuseExpired);
    await readValidForm(ctx, csrfOnly, details.uid);
    withdrawLoginOffer(ctx, config.cookieSecure);
    await finish(ctx, { error: 'access_denied', error_description: 'End-User aborted interaction' }, false);
  });

  // "Can't access your account?": the recovery flow, told which sign-in to come back to. The interaction is
  // checked first, so an expired one is asked again here (or gets the expired page) rather than at the end of the
  // recovery.
  // The language the relying party asked for goes along as `ui_locales`: the recovery pages cannot read the
  // interaction (its cookie is scoped to /interaction/<uid>), and the flow keeps it from its first page on
  // (flows/recovery/store.ts). Not as the language cookie: that is the person's own choice, kept for a year.
  // Chosen on a page that had expired, it is chosen again on the new page of the request asked again (its recovery
  // must come back to a live sign-in). A link, so no CSRF token: another site could only send this browser's own
  // request, asked again, on into a recovery. Not after a session that is gone: who comes back to a sign-in from a
  // recovery then (its "Sign in") needs the sign-in page, not another recovery.
  router.get('/recover', async (ctx) => {
    const details = await load(ctx, undefined, (restart) => {
      if (restart.reason === 'expired') restarts.leaveNote(ctx, restart.query, { then: 'recover' });
    });
    continueToRecovery(ctx, details);
  });

  function continueToRecovery(ctx: Context, details: Details) {
    // Should the sign-in expire before the recovery ends, its "Sign in" asks for the same request again.
    keepRequestFor(ctx, details, config.ttl.interaction + LONGEST_FLOW_SECONDS);
    const uiLocale = supportedUiLocale(typeof details.params.ui_locales === 'string' ? details.params.ui_locales : undefined);
    ctx.status = 303;
    ctx.redirect(`/recover?from=${encodeURIComponent(details.uid)}${uiLocale ? `&ui_locales=${uiLocale}` : ''}`);
  }

  return router;
}
