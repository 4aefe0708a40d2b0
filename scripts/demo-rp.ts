// The demo relying party of `npm run demo` (and of the browser test): the smallest web app that signs people in
// with Latchkey the way a real one should — authorization code flow with PKCE (S256), state and nonce, the code
// exchanged by openid-client, and RP-initiated logout. It is an example to read, not part of Latchkey.
//
//   GET /          signed out: a "Sign in" link; signed in: who you are and the ID token's claims, for as long as
//                  Latchkey still honours its access token (asked at userinfo at every visit)
//   GET /login     starts the flow (verifier, state, nonce kept in a signed httpOnly cookie) → Latchkey
//   GET /callback  Latchkey sends the browser back here; the code is exchanged, then → /
//   GET /logout    forgets the local session → Latchkey's sign-out page → back to /
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import Koa, { type Context } from 'koa';
import * as oidc from 'openid-client';

export interface DemoRpOptions {
  /** Latchkey's issuer URL; discovery starts from it. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The origin browsers use for this app, e.g. http://localhost:3001. The client's registered URIs derive from it. */
  origin: string;
}

export interface DemoRp {
  app: Koa;
  redirectUri: string;
  postLogoutRedirectUri: string;
}

const SCOPE = 'openid profile email';
// Cookies ignore ports, so on localhost the app shares its cookie jar with Latchkey: the names must not collide.
const FLOW_COOKIE = 'demo_rp.flow';
const SESSION_COOKIE = 'demo_rp.session';
// As long as Latchkey's own sign-in lasts (TTL_INTERACTION's default): the walk in the README (a lockout, a recovery
// by a texted code, then back) takes more than ten minutes, and must not end in "Sign-in expired".
const FLOW_MAX_AGE_MS = 30 * 60 * 1000;
/** The end-session `state` that marks a return from signing out. */
const SIGNED_OUT = 'signed-out';

/** The pending sign-in: what the callback must find again to accept the response. */
interface Flow {
  verifier: string;
  state: string;
  nonce: string;
}

interface SignedIn {
  idToken: string;
  /** Asked again at every page: Latchkey stops honouring it once the person signs out everywhere or changes password. */
  accessToken: string;
  claims: Record<string, unknown>;
  name: string;
  email: string;
}

/** Builds the app: runs discovery against the issuer now, so a wrong issuer fails at start rather than at sign-in. */
export async function createDemoRp(options: DemoRpOptions): Promise<DemoRp> {
  const redirectUri = `${options.origin}/callback`;
  const postLogoutRedirectUri = `${options.origin}/`;
  const appHost = new URL(options.origin).hostname;
  const issuer = new URL(options.issuer);
  const config = await oidc.discovery(issuer, options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
    // openid-client refuses plain http unless told; only the local development issuer is http.
    execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
  });
  // Sessions live in memory: restarting the demo signs everyone out of it, which is fine for a demo.
  const sessions = new Map<string, SignedIn>();

  const app = new Koa();
  app.keys = [randomBytes(32).toString('base64url')];
  const cookie = { httpOnly: true, sameSite: 'lax' as const, signed: true, overwrite: true, secure: options.origin.startsWith('https:') };

  function currentSession(ctx: Context): { id: string; user: SignedIn } | undefined {
    const id = ctx.cookies.get(SESSION_COOKIE, { signed: true });
    const user = id ? sessions.get(id) : undefined;
    return id && user ? { id, user } : undefined;
  }

  async function login(ctx: Context) {
    const flow: Flow = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
    ctx.cookies.set(FLOW_COOKIE, Buffer.from(JSON.stringify(flow)).toString('base64url'), {
      ...cookie,
      path: '/callback',
      maxAge: FLOW_MAX_AGE_MS,
    });
    // The person's language goes on to Latchkey's pages: the one the link asked for, else the browser's first.
    const uiLocales = typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : ctx.get('accept-language').split(',')[0]?.split(';')[0]?.trim();
    const url = oidc.buildAuthorizationUrl(config, {
      ...(uiLocales && { ui_locales: uiLocales }),
      redirect_uri: redirectUri,
      scope: SCOPE,
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    ctx.redirect(url.href);
  }

  async function callback(ctx: Context) {
    const flow = readFlow(ctx.cookies.get(FLOW_COOKIE, { signed: true }));
    ctx.cookies.set(FLOW_COOKIE, null, { ...cookie, path: '/callback' });
    if (!flow) {
      ctx.status = 400;
      // A request written by hand (not started here) may still bring Latchkey's error: a developer wants to see it.
      const answer = typeof ctx.query.error === 'string' ? html`<p class="detail">Latchkey's answer: <code>${ctx.query.error}</code> ${String(ctx.query.error_description ?? '')}</p>` : '';
      ctx.body = page('Sign-in expired', html`<h1>Sign-in expired</h1><p>This sign-in was not started here, or took too long.</p>${answer}${signInLink('Try again')}`);
      return;
    }
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      // Checks state, the iss response parameter, PKCE, and the ID token's signature, audience and nonce.
      tokens = await oidc.authorizationCodeGrant(config, new URL(ctx.url, options.origin), {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      if (!(error instanceof oidc.AuthorizationResponseError)) throw error;
      // access_denied: the person pressed Cancel (or the sign-in could not meet what was asked). Said in words;
      // the code stays visible for a developer.
      ctx.status = 400;
      const sentence = error.error === 'access_denied' ? 'You cancelled the sign-in, so you are not signed in.' : 'The sign-in did not complete, so you are not signed in.';
      ctx.body = page('Not signed in', html`<h1>Not signed in</h1><p>${sentence}</p><p class="detail">Latchkey's answer: <code>${error.error}</code></p>${signInLink('Try again')}`);
      return;
    }
    const claims = tokens.claims()!;
    // The ID token carries only the subject here (Latchkey releases profile and email claims at userinfo).
    const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
    const id = randomBytes(24).toString('base64url');
    sessions.set(id, {
      idToken: tokens.id_token!,
      accessToken: tokens.access_token,
      claims: { ...claims },
      name: typeof info.name === 'string' ? info.name : String(info.preferred_username ?? claims.sub),
      email: typeof info.email === 'string' ? info.email : '',
    });
    ctx.cookies.set(SESSION_COOKIE, id, { ...cookie, path: '/' });
    ctx.redirect('/');
  }

  function logout(ctx: Context) {
    const session = currentSession(ctx);
    ctx.cookies.set(SESSION_COOKIE, null, { ...cookie, path: '/' });
    if (!session) return ctx.redirect('/');
    sessions.delete(session.id);
    // Latchkey asks the person to confirm, ends its own session, then sends the browser to postLogoutRedirectUri.
    // Latchkey hands `state` back with the redirect: the home page then says that the sign-out happened.
    ctx.redirect(oidc.buildEndSessionUrl(config, { id_token_hint: session.user.idToken, post_logout_redirect_uri: postLogoutRedirectUri, state: SIGNED_OUT }).href);
  }

  /**
   * Whether Latchkey still honours the session's access token, asked at its userinfo endpoint. A real application
   * would also refresh it, or listen for Latchkey's sign-out; this one signs the person out locally once it is
   * refused (signed out everywhere, a new password, or simply expired).
   */
  async function stillHonoured(user: SignedIn): Promise<boolean> {
    try {
      await oidc.fetchUserInfo(config, user.accessToken, String(user.claims.sub));
      return true;
    } catch (error) {
      if (error instanceof oidc.WWWAuthenticateChallengeError) return false;
      throw error;
    }
  }

  async function home(ctx: Context) {
    let session = currentSession(ctx);
    let ended = false;
    if (session && !(await stillHonoured(session.user))) {
      sessions.delete(session.id);
      ctx.cookies.set(SESSION_COOKIE, null, { ...cookie, path: '/' });
      [session, ended] = [undefined, true];
    }
    if (!session) {
      const signedOut = ctx.query.state === SIGNED_OUT ? html`<p class="notice" role="status">You have signed out.</p>` : '';
      const endedNote = ended ? html`<p class="notice" role="status">Your sign-in has ended at Latchkey (you signed out everywhere, changed your password, or it expired). Sign in again to go on.</p>` : '';
      ctx.body = page('Demo App', html`<h1>Demo App</h1>${signedOut}${endedNote}<p>A sample application that signs you in with Latchkey.</p>${signInLink('Sign in')}`);
      return;
    }
    const { user } = session;
    ctx.body = page(
      'Signed in · Demo App',
      html`<h1>Demo App</h1>
<p class="who">Signed in as ${user.name}${user.email ? html` (${user.email})` : ''}</p>
<table>
<caption>Claims in the ID token</caption>
<thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
<tbody>${Object.entries(user.claims).map(([key, value]) => html`<tr><th scope="row">${key}</th><td>${claimText(value)}</td></tr>`)}</tbody>
</table>
<p><a class="button" href="/logout">Sign out</a></p>
<h2>Your account at Latchkey</h2>
<p>An application's account settings can link to Latchkey's own pages, with the login filled in (<code>login_hint</code>) and a way back here (<code>client_id</code> and <code>return_to</code>):</p>
<ul>
<li><a href="${accountPage('/account/password', user.email)}">Change your password</a></li>
<li><a href="${accountPage('/account/security-info', user.email)}">Review your security info</a></li>
<li><a href="${accountPage('/account/sessions', user.email)}">See where you are signed in</a></li>
</ul>`,
    );
  }

  /** One of Latchkey's account pages (on the issuer's origin), opening with `login` filled in and leading back here. */
  function accountPage(path: string, login: string) {
    const url = new URL(path, issuer.origin);
    if (login) url.searchParams.set('login_hint', login);
    url.searchParams.set('client_id', options.clientId);
    url.searchParams.set('return_to', `${options.origin}/`);
    return url.href;
  }

  app.use(async (ctx, next) => {
    ctx.set({ 'Content-Security-Policy': CSP, 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' });
    await next();
  });
  app.use(async (ctx) => {
    if (ctx.method !== 'GET') {
      ctx.status = 405;
      return;
    }
    if (ctx.hostname !== appHost) {
      // Cookies belong to a host name: opened as 127.0.0.1, the app's and Latchkey's cookies would not come back.
      ctx.status = 421;
      ctx.body = page('Open the app at its address', html`<h1>Open the app at its address</h1><p>This app runs at <a href="${options.origin}/">${options.origin}/</a>. Use that address (with <code>${appHost}</code>, not <code>${ctx.hostname}</code>): the sign-in's cookies belong to it.</p>`);
      return;
    }
    if (ctx.path === '/') return home(ctx);
    if (ctx.path === '/login') return login(ctx);
    if (ctx.path === '/callback') return callback(ctx);
    if (ctx.path === '/logout') return logout(ctx);
    ctx.status = 404;
    ctx.body = page('Not found', html`<h1>Not found</h1><p><a href="/">Home</a></p>`);
  });

  return { app, redirectUri, postLogoutRedirectUri };
}

export interface RunningDemoRp extends DemoRp {
  server: Server;
  stop(): Promise<void>;
}

/** Creates the app and listens on host:port (the origin must point there). */
export async function startDemoRp(options: DemoRpOptions & { port: number; host?: string }): Promise<RunningDemoRp> {
  const rp = await createDemoRp(options);
  const server = createServer(rp.app.callback());
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolveListen());
  });
  return {
    ...rp,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
    },
  };
}

function readFlow(value: string | undefined): Flow | undefined {
  if (!value) return undefined;
  try {
    const flow = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Partial<Flow>;
    if (typeof flow.verifier === 'string' && typeof flow.state === 'string' && typeof flow.nonce === 'string') return flow as Flow;
  } catch {
    // A cookie we cannot read is treated like no cookie.
  }
  return undefined;
}

function claimText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

// --- HTML: every interpolated value is escaped unless it is itself built with html`…`.

class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fragment(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(fragment).join('');
  return escapeHtml(String(value));
}

function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return new Html(strings.reduce((out, part, i) => out + part + (i < values.length ? fragment(values[i]) : ''), ''));
}

function signInLink(label: string): Html {
  return html`<p><a class="button" href="/login">${label}</a></p>`;
}

const STYLE = `
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: #1b1f24; background: #f6f3ee; }
main { max-width: 40rem; margin: 2rem auto; padding: 1.5rem; background: #fff; border: 1px solid #c9c2b6; border-radius: 8px; }
@media (max-width: 42rem) { main { margin: 1rem; padding: 1rem; } }
.button { display: inline-block; padding: .6rem 1.2rem; background: #6b3fa0; color: #fff; border-radius: 4px; text-decoration: none; }
.button:focus { outline: 3px solid #6b3fa0; outline-offset: 2px; }
.who { font-size: 1.15rem; font-weight: 600; overflow-wrap: anywhere; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
caption { text-align: left; font-weight: 600; margin-bottom: .25rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #ddd; }
th { white-space: nowrap; }
td { overflow-wrap: anywhere; }
`;
// The one inline style is allowed by its hash; nothing else (no scripts at all).
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

function page(title: string, body: Html): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title><style>${new Html(STYLE)}</style></head>
<body><main>
${body}
</main></body>
</html>`.text;
}
