// A sign-in page lives config.ttl.interaction from the relying party's request: a person who leaves it open longer
// (or whose recovery started from it, which lives 15 minutes or more from its own start, outlasts it) would meet
// "This sign-in page has expired" and have to find their way back to the application. Instead the relying party's
// same request is asked again, as for a sign-in whose session is gone (routes.ts). The request is kept for that in
// this browser only: a cookie scoped to that one sign-in's pages, set as its page is first shown (and again as a
// recovery starts from it), and dropped once the sign-in has its result or the request was asked again. It holds the
// relying party's parameters (a login_hint, an id_token_hint), which authorization by POST keeps out of addresses and
// histories: sealed (AES-GCM, with a key of its own from DATA_ENCRYPTION_KEY and the instances' shared secret:
// app.ts), so the browser's cookie store and anything that sees the Cookie header see nothing of them. A request is
// asked again only once its interaction's life is over: one gone before (answered, its browser having missed the
// answer's Set-Cookie) is not asked again.
//
// What the person did on the stale page goes along to the new one, in a note read once by the sign-in page of that
// same request: the login they typed (the password is never kept: it was not checked and is asked again), that what
// they sent from the security info page was not saved, or that they chose "Can't access your account?".
import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import { pathCookieName } from '../http/cookie-names.ts';
import { requestSupportCode } from '../http/context.ts';
import { supportCodeOfNote } from '../http/retry-cookie.ts';
import { usableLogin } from '../flows/recovery/prefill.ts';
import { createSecretBox } from '../security/encryption.ts';

/** Longer requests are not kept (a cookie holds about 4 KB): their sign-in ends on the expired page, as it did. */
const MAX_KEPT_QUERY = 2400;

/** A kept request. */
export interface KeptRequest {
  query: string;
  /** When its interaction's life ends (ms): it is asked again only from then. */
  expiresAtMs: number;
}

export interface SignInRestarts {
  /** Keeps `request`, the authorization request of sign-in `uid`, in this browser, for `maxAgeMs`. */
  keep(ctx: Context, uid: string, request: KeptRequest, maxAgeMs: number): void;
  /** The request kept for sign-in `uid` in this browser, if any. */
  kept(ctx: Context, uid: string): KeptRequest | undefined;
  /** Forgets it (the sign-in has its result, or its request was asked again: its page must not ask for it again). */
  drop(ctx: Context, uid: string): void;
  /** Leaves `note` for the sign-in page of request `query` once it is asked again, in this browser. */
  leaveNote(ctx: Context, query: string, note: RestartNote): void;
  /** The note left for request `query`, read once; undefined when there is none (one left for another request stays). */
  takeNote(ctx: Context, query: string): (RestartNote & { supportCode?: string }) | undefined;
}

/**
 * What the stale page of a sign-in asked again leaves for the new one: a sign-in was posted there (its password not
 * checked), with this login ('' if none, or none that can be kept); a form of the security info page the sign-in had
 * stopped at was posted there (nothing of it saved); or "Can't access your account?" was chosen there.
 */
export type RestartNote = { then: 'sign-in'; login: string } | { then: 'security-info' } | { then: 'recover' };

/** Long enough to follow the redirects (or press the restart page's Continue, without JavaScript). */
const NOTE_MAX_AGE_MS = 5 * 60_000;
/** A note names its request by a hash: a query can be long, and the new page has it to compare. */
const requestHash = (query: string) => createHash('sha256').update(query).digest('base64url');
/**
 * `key`: these cookies' own (what seals them opens no secret at rest, nor the other way round). A new one makes the
 * requests kept under the old one unreadable: their pages, used too late, are the expired page, as before.
 */
export function createSignInRestarts(secure: boolean, key: Buffer): SignInRestarts {
  const box = createSecretBox(key);
  const seal = (value: object) => box.seal(JSON.stringify(value));
  // Opened once (every sign-in page reads its kept request): a forged, damaged or foreign value opens to nothing.
  const open = (value: string | undefined): Record<string, unknown> | undefined => {
    if (!value) return undefined;
    try {
      const parsed: unknown = JSON.parse(box.open(value));
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };

  const name = pathCookieName('lk_signin_restart', secure);
  const options = (uid: string) => ({ httpOnly: true, secure, sameSite: 'lax' as const, path: `/interaction/${uid}`, overwrite: true });
  // For the new sign-in page, whose uid is not known yet: every sign-in page's path.
  const noteName = pathCookieName('lk_signin_restarted', secure);
  const noteOptions = { httpOnly: true, secure, sameSite: 'lax' as const, path: '/interaction', overwrite: true };

  return {
    keep(ctx, uid, { query, expiresAtMs }, maxAgeMs) {
      if (query.length > MAX_KEPT_QUERY) return;
      ctx.cookies.set(name, seal({ from: uid, query, exp: expiresAtMs }), { ...options(uid), maxAge: maxAgeMs });
    },
    kept(ctx, uid) {
      const value = open(ctx.cookies.get(name));
      const valid = value?.from === uid && typeof value.query === 'string' && typeof value.exp === 'number';
      return valid ? { query: value.query as string, expiresAtMs: value.exp as number } : undefined;
    },
    drop(ctx, uid) {
      if (ctx.cookies.get(name)) ctx.cookies.set(name, null, options(uid));
    },

    leaveNote(ctx, query, note) {
      const kept = note.then === 'sign-in' ? { then: note.then, login: usableLogin(note.login) ?? '' } : note;
      const supportCode = requestSupportCode(ctx);
      const value = seal({ request: requestHash(query), ...kept, ...(supportCode && { supportCode }) });
      ctx.cookies.set(noteName, value, { ...noteOptions, maxAge: NOTE_MAX_AGE_MS });
    },
    takeNote(ctx, query) {
      const note = open(ctx.cookies.get(noteName));
      if (note?.request !== requestHash(query)) return undefined;
      ctx.cookies.set(noteName, null, noteOptions);
      const supportCode = supportCodeOfNote(note);
      const withCode = supportCode ? { supportCode } : {};
      if (note.then === 'recover' || note.then === 'security-info') return { then: note.then, ...withCode };
      return note.then === 'sign-in' ? { then: 'sign-in', login: usableLogin(note.login) ?? '', ...withCode } : undefined;
    },
  };
}
