// A request-scoped identity map: within one HTTP request, a document read once by `_id` is served from memory
// afterwards (oidc-provider reads the interaction, the session and the client several times per request, and the
// account on every look-up). Writes made through the same code update or forget the entry, so a request sees its
// own writes; nothing outlives the request, so another request (or instance) never sees a stale copy.
//
//   app.use(requestScope());                                   // once, before anything that reads
//   const user = await remembered(`users:${id}`, () => users.findOne({ _id: id }));
//   remember(`users:${id}`, updated);  forget(`users:${id}`);  forgetAll();
//
// Values are handed out as copies (structuredClone), so a caller that changes what it got changes nothing here.
// Outside a request scope (admin commands, background work) every call simply goes to the database.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware } from 'koa';

const scope = new AsyncLocalStorage<Map<string, Promise<unknown>>>();

export function requestScope(): Middleware {
  return (_ctx, next) => scope.run(new Map(), next);
}

/** Runs `task` with a fresh identity map (tests, and work that is not an HTTP request but should behave like one). */
export function inRequestScope<T>(task: () => Promise<T>): Promise<T> {
  return scope.run(new Map(), task);
}

/** The value under `key`, loaded once per request; a failed load is not remembered. */
export async function remembered<T>(key: string, load: () => Promise<T>): Promise<T> {
  const map = scope.getStore();
  if (!map) return load();
  let entry = map.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = load();
    map.set(key, entry);
    entry.catch(() => {
      if (map.get(key) === entry) map.delete(key);
    });
  }
  return structuredClone(await entry);
}

/** The value under `key` if this request has it already; never loads. */
export async function peek<T>(key: string): Promise<T | undefined> {
  const entry = scope.getStore()?.get(key) as Promise<T> | undefined;
  return entry ? structuredClone(await entry) : undefined;
}

/** What this request just wrote under `key` (null: it deleted it). */
export function remember(key: string, value: unknown): void {
  scope.getStore()?.set(key, Promise.resolve(structuredClone(value)));
}

export function forget(key: string): void {
  scope.getStore()?.delete(key);
}

/** After a write whose effect on remembered entries is not known one by one (a delete by filter). */
export function forgetAll(): void {
  scope.getStore()?.clear();
}
