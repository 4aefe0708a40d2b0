// Keys that a document store may refuse as field names, escaped on the way in and back on the way out. MongoDB
// before 5.0, and FerretDB always, refuse a field name with a dot ("invalid key … must not contain '.'"), and every
// version refuses one that starts with '$'. oidc-provider keys some of what it stores by resource indicator, a URL
// (an interaction's `missingResourceScopes`, a grant's `resources`), so a sign-in that asks for an API token would
// fail at the write. Escaped, those keys are stored as percent codes: '%' → %25, '.' → %2E, '$' → %24. That maps
// every key to exactly one stored key and back (a key that had "%2E" in it is stored as "%252E"). A value with no
// key to change is returned as it is, not copied, so the usual payload costs a walk and no allocation.

const ESCAPES: Record<string, string> = { '%': '%25', '.': '%2E', $: '%24' };
const UNESCAPES: Record<string, string> = { '%25': '%', '%2E': '.', '%24': '$' };

const escapeKey = (key: string) => key.replace(/[%.$]/g, (char) => ESCAPES[char]!);
const unescapeKey = (key: string) => key.replace(/%(?:25|2E|24)/g, (code) => UNESCAPES[code]!);

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

/** Whether any key of `value`, at any depth, matches `pattern`. */
function hasKey(value: unknown, pattern: RegExp): boolean {
  if (Array.isArray(value)) return value.some((item) => hasKey(item, pattern));
  if (!isPlainObject(value)) return false;
  return Object.entries(value).some(([key, item]) => pattern.test(key) || hasKey(item, pattern));
}

/** A copy of `value` with every key renamed; values that are not plain objects or arrays are shared. */
function renameKeys(value: unknown, rename: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((item) => renameKeys(item, rename));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [rename(key), renameKeys(item, rename)]));
}

/** `value` with its keys made storable (see above); `value` itself when none needs it. */
export function escapeFieldNames<T>(value: T): T {
  return hasKey(value, /[%.$]/) ? (renameKeys(value, escapeKey) as T) : value;
}

/** What escapeFieldNames was given, from what it returned; `value` itself when no key was escaped. */
export function unescapeFieldNames<T>(value: T): T {
  return hasKey(value, /%/) ? (renameKeys(value, unescapeKey) as T) : value;
}
