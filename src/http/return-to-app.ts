// "Back to <application>" on the account pages. An application that links people from its own account settings to
// one of Latchkey's account pages (change the password, security info, sessions) can name itself and where to come
// back to: `?client_id=<its id>&return_to=<an address of its own>`. The pages then lead back there (a link beside
// the form, Cancel and Done, the page that says the work is done) instead of to the home page.
//
// Only a registered client, and only to an https address (http for a client whose own addresses are http, as in
// development) on the origin of one of its redirect or post-logout redirect URIs: these pages never send a person to
// an address the client did not register. The choice is kept for the visit in a signed cookie scoped to the account
// pages, and judged again against the client as registered now at every request (a client deleted or changed since
// leads nowhere but home).
import type { Context, Middleware } from 'koa';
import { pathCookieName } from './cookie-names.ts';

/** Where the account pages live: the cookie's path, and the pages that take the parameters. */
export const ACCOUNT_PAGES_PATH = '/account';
/** As long as a visit to the account pages may last: a page step lasts at most 30 minutes. */
const MAX_AGE_MS = 60 * 60_000;
/** A URL longer than this is no account settings page (and would not fit a cookie). */
const MAX_RETURN_URL_LENGTH = 1024;

/** The application to go back to, as a page shows it. */
export interface ReturnApp {
  name: string;
  url: string;
}

/** A client as registered now, as much as this needs of it. */
export interface RegisteredClient {
  name?: string;
  addresses: readonly string[];
}

export type FindRegisteredClient = (clientId: string) => Promise<RegisteredClient | undefined>;

/** The place an address names, when it is one a person may be sent back to (http or https, no credentials in it). */
function placeOf(address: string): URL | undefined {
  if (address.length > MAX_RETURN_URL_LENGTH || !URL.canParse(address)) return undefined;
  const url = new URL(address);
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password) return undefined;
  return url;
}

/** `returnTo` when `client` registered an address on its origin (and scheme), else undefined. */
export function allowedReturn(client: RegisteredClient, returnTo: string): string | undefined {
  const wanted = placeOf(returnTo);
  if (!wanted) return undefined;
  return client.addresses.some((address) => placeOf(address)?.origin === wanted.origin) ? wanted.href : undefined;
}

/**
 * Remembers the application an account page was opened from (when its parameters are allowed) and puts it on
 * `ctx.state.returnApp` for every account page of the visit.
 */
export function returnToApp(findClient: FindRegisteredClient, secure: boolean): Middleware {
  const cookieName = pathCookieName('latchkey.return', secure);
  const options = { httpOnly: true, secure, sameSite: 'lax' as const, path: ACCOUNT_PAGES_PATH, signed: true, overwrite: true };

  async function judge(clientId: string, returnTo: string): Promise<ReturnApp | undefined> {
    const client = clientId ? await findClient(clientId) : undefined;
    const url = client && allowedReturn(client, returnTo);
    return url ? { name: client.name || clientId, url } : undefined;
  }

  return async (ctx: Context, next) => {
    if (ctx.path !== ACCOUNT_PAGES_PATH && !ctx.path.startsWith(`${ACCOUNT_PAGES_PATH}/`)) return next();
    const { client_id: clientId, return_to: returnTo } = ctx.query;
    if (ctx.method === 'GET' && typeof clientId === 'string' && typeof returnTo === 'string') {
      // A link that names an application starts the visit over with it (or with none, when it is not allowed).
      const app = await judge(clientId, returnTo);
      if (app) ctx.cookies.set(cookieName, Buffer.from(JSON.stringify({ clientId, returnTo })).toString('base64url'), { ...options, maxAge: MAX_AGE_MS });
      else ctx.cookies.set(cookieName, null, options);
      ctx.state.returnApp = app;
      return next();
    }
    const kept = readKept(ctx.cookies.get(cookieName, { signed: true }));
    const app = kept && (await judge(kept.clientId, kept.returnTo));
    if (app) ctx.state.returnApp = app;
    return next();
  };
}

function readKept(value: string | undefined): { clientId: string; returnTo: string } | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { clientId, returnTo } = parsed as Record<string, unknown>;
    return typeof clientId === 'string' && typeof returnTo === 'string' ? { clientId, returnTo } : undefined;
  } catch {
    return undefined;
  }
}
