// A request-scoped identity map: within one HTTP request, a document read once by `_id` is served from memory
// afterwards (oidc-provider reads the interaction, the session and the client several times per request, and the
// account on every look-up). Writes made through the same code update or forget the entry, so a request sees its
// own writes; nothing outlives the request, so another request (or instance) never sees a stale copy.
//
//   app.use(requestScope());                                   // once, before anything that reads
//   const user = await remembered(`users:${id}`, () => users.findOne({ _id: id }));
//   remember(`users:${id}`, updated);  forget(`users:${id}`);  await forgetAll();
//   await defer(`delete:sessions:${id}`, () => sessions.deleteOne({ _id: id }));  // done at the request's end,
//   takeDeferred('delete:sessions:');     // unless a later write of the request takes it along (one round trip)
//
// Values are handed out as copies (copy.ts), so a caller that changes what it got changes nothing here.
// Outside a request scope (admin commands, background work: `detached`) every call simply goes to the database.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Middleware } from 'koa';
import { copyDocument } from './copy.ts';

interface Scope {
  /** Documents read or written in this request, by key. */
  docs: Map<string, Promise<unknown>>;
  /** Writes put off to the end of the request, by key (see `defer`). */
  deferred: Map<string, () => Promise<unknown>>;
  /** The run of deferred writes in progress: a second caller waits for it rather than starting its own. */
  running?: Promise<void> | undefined;
}

const scope = new AsyncLocalStorage<Scope>();

/**
 * Opens a scope per request. Deferred writes run when the request's handlers are done, before the answer leaves,
 * so no client ever sees an answer whose writes have not happened; a deferred write that fails fails the request.
 */
export function requestScope(): Middleware {
  return (_ctx, next) => inRequestScope(next);
}

/** Runs `task` with a fresh identity map (tests, and work that is not an HTTP request but should behave like one). */
export async function inRequestScope<T>(task: () => Promise<T>): Promise<T> {
  const current: Scope = { docs: new Map(), deferred: new Map() };
  return scope.run(current, async () => {
    let result: T;
    try {
      result = await task();
    } catch (error) {
      await runDeferred(current).catch(() => {}); // the task's own error is the one to report
      throw error;
    }
    await runDeferred(current);
    return result;
  });
}

/**
 * Runs every deferred write once, including any deferred meanwhile; resolves when all have landed. Callers at the
 * same moment (oidc-provider revokes several grants at once, each forgetting all) share one run, so none goes on
 * before a write another took has landed, and no write runs twice. A write that fails does not stop the others;
 * the first failure is thrown once all have been tried.
 */
async function runDeferred(current: Scope): Promise<void> {
  // Again while writes remain: some may have been deferred as a shared run was ending.
  while (current.running || current.deferred.size > 0) {
    current.running ??= writeDeferred(current).finally(() => {
      current.running = undefined;
    });
    await current.running;
  }
}

async function writeDeferred(current: Scope): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (let next = current.deferred.entries().next(); !next.done; next = current.deferred.entries().next()) {
    const [key, write] = next.value;
    current.deferred.delete(key);
    try {
      await write();
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure) throw failure.error;
}

/**
 * Runs `task` outside any request's scope: work a request sets going without waiting for it (a second revocation
 * pass, the delivery sender's next pass) must neither be served the request's copies, long stale by then, nor defer
 * its writes to a request that has already ended (they would never run). Timers and promises it starts stay outside.
 */
export function detached<T>(task: () => T): T {
  return scope.exit(task);
}

/**
 * Puts a write off to the end of the request, so that a later write of the same request can take it along in its
 * own round trip (`takeDeferred`); outside a request scope it runs at once. The caller records the write's effect
 * (`remember`) so the request itself already sees it.
 */
export async function defer(key: string, write: () => Promise<unknown>): Promise<void> {
  const current = scope.getStore();
  if (current) current.deferred.set(key, write);
  else await write();
}

/** Removes the deferred writes whose keys start with `prefix` and returns the rest of their keys, for a caller that will do them itself. */
export function takeDeferred(prefix: string): string[] {
  const current = scope.getStore();
  if (!current) return [];
  const taken: string[] = [];
  for (const key of current.deferred.keys()) {
    if (key.startsWith(prefix)) {
      current.deferred.delete(key);
      taken.push(key.slice(prefix.length));
    }
  }
  return taken;
}

/** The value under `key`, loaded once per request; a failed load is not remembered. */
export async function remembered<T>(key: string, load: () => Promise<T>): Promise<T> {
  const map = scope.getStore()?.docs;
  if (!map) return load();
  let entry = map.get(key) as Promise<T> | undefined;
  if (!entry) {
    entry = load();
    map.set(key, entry);
    entry.catch(() => {
      if (map.get(key) === entry) map.delete(key);
    });
  }
  return copyDocument(await entry);
}

/** The value under `key` if this request has it already; never loads. */
export async function peek<T>(key: string): Promise<T | undefined> {
  const entry = scope.getStore()?.docs.get(key) as Promise<T> | undefined;
  return entry ? copyDocument(await entry) : undefined;
}

/** What this request just wrote under `key` (null: it deleted it). */
export function remember(key: string, value: unknown): void {
  scope.getStore()?.docs.set(key, Promise.resolve(copyDocument(value)));
}

export function forget(key: string): void {
  scope.getStore()?.docs.delete(key);
}

/**
 * After a write whose effect on remembered entries is not known one by one (a delete by filter). Deferred writes
 * run first: forgotten entries are read again from the database, which must not miss them.
 */
export async function forgetAll(): Promise<void> {
  const current = scope.getStore();
  if (!current) return;
  await runDeferred(current);
  current.docs.clear();
}
