// A small JSON object as a cookie value: base64url, so that whatever a person typed (a login) is a valid value.
// Signing is the cookie options' job; the fields read back are still the caller's to check.

export function toCookieValue(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The object a cookie value holds; undefined when the value is absent or malformed. */
export function fromCookieValue(value: string | undefined): Record<string, unknown> | undefined {
  if (!value) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString());
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
