/** localhost, a name under .localhost, or a loopback address: a host only this machine reaches. */
export function isLoopbackHost(name: string): boolean {
  // Lower-cased here: URL leaves the host of a non-web scheme (smtp://LOCALHOST) as written.
  const hostname = name.toLowerCase();
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname === '[::1]';
}

/** A socket peer on this machine: 127.0.0.0/8 or ::1, IPv4 ones also in their IPv6-mapped form. */
export function isLoopbackAddress(address: string | undefined): boolean {
  return address === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(address ?? '');
}
