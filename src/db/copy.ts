// Copies of stored documents, as the caches hand them out (epoch-cache.ts across requests, request-scope.ts within
// one), so that a caller that changes what it got changes nothing kept. The documents are small trees of plain
// objects, arrays, strings, numbers and dates; structuredClone copies those too, but it is general and was a
// measurable part of an introspection's server CPU (about 4 %, several copies a request). Plain objects, arrays and
// dates are copied here; anything else (a Buffer, a driver type) goes to structuredClone as before.

/** A deep copy of a stored document. Shares no object with `value`. */
export function copyDocument<T>(value: T): T {
  return copyValue(value) as T;
}

function copyValue(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copyValue);
  if (value instanceof Date) return new Date(value.getTime());
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const copy: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    // A stored key named "__proto__" is data: assigned, it would set the copy's prototype instead.
    if (key === '__proto__') Object.defineProperty(copy, key, { value: copyValue(field), enumerable: true, writable: true, configurable: true });
    else copy[key] = copyValue(field);
  }
  return copy;
}
