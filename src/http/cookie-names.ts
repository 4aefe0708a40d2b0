// With Secure cookies, a name's prefix makes browsers enforce the cookie's attributes, so a sibling subdomain or a
// plain-http page cannot plant or overwrite it. Over plain http (development) neither prefix is allowed, so the
// name is bare.

/** A cookie for the whole site (Path=/, no Domain): `__Host-` binds it to this exact host. */
export function siteCookieName(name: string, secure: boolean): string {
  return secure ? `__Host-${name}` : name;
}

/** A cookie scoped to a path, which `__Host-` forbids: `__Secure-` still makes it https-only. */
export function pathCookieName(name: string, secure: boolean): string {
  return secure ? `__Secure-${name}` : name;
}
