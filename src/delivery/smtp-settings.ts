// SMTP_URL, read the way nodemailer reads it, and the transport options Latchkey sends with.
//
// nodemailer accepts any string (a bare "mail.example.com" quietly becomes localhost:587) and lets the URL's query
// switch TLS off (?ignoreTLS=true, ?tls.rejectUnauthorized=false). Recovery codes must not cross a network in clear,
// nor go to a server an attacker stands in for. So SMTP_URL is checked at start, and where TLS is required it is
// enforced by the transport: smtps:// (TLS from the first byte), or smtp:// whose STARTTLS upgrade is mandatory
// (nodemailer's requireTLS refuses a server that does not offer it, or a stripped offer), with the certificate
// verified either way.
import type { TransportOptions } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';
import { parseConnectionUrl } from 'nodemailer/lib/shared';
import { isLoopbackHost } from '../http/loopback.ts';

/** The domain of a From header ("Latchkey <no-reply@example.com>" → example.com), lower-cased; undefined if none. */
export function mailDomain(from: string): string | undefined {
  return /@([^\s@>]+)>?\s*$/.exec(from)?.[1]?.toLowerCase();
}

const REROUTING_KEYS = ['service', 'proxy', 'sendmail', 'streamTransport', 'jsonTransport', 'SES'] as const;

/** What is wrong with SMTP_URL, in words an operator can act on; empty when nothing is. */
export function smtpUrlProblems(smtpUrl: string, { requireTls }: { requireTls: boolean }): string[] {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    return ['SMTP_URL must be a URL such as smtps://user:password@mail.example.com (or smtp://…:587 for STARTTLS)'];
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') return [`SMTP_URL must start with smtp:// or smtps://, not ${url.protocol}//`];
  if (!url.hostname) return ['SMTP_URL names no mail server: smtps://user:password@mail.example.com'];
  const options = parseConnectionUrl(smtpUrl) as Record<string, unknown> & { tls?: Record<string, unknown> };
  // Query keys that send the mail elsewhere than the URL's host (a well-known service's server, through a proxy) or
  // through another transport than SMTP (one that only prints or stores it, and reports it "sent"): the host the
  // checks here and in smtpNeedsTls read must be the one mail goes to.
  const elsewhere = REROUTING_KEYS.filter((key) => options[key] !== undefined && options[key] !== false);
  if (elsewhere.length) return elsewhere.map((key) => `SMTP_URL's ?${key} is not supported: write the mail server's own host and port in the URL`);
  if (!requireTls) return [];
  const weakening = [
    options.ignoreTLS !== undefined && options.ignoreTLS !== false && '?ignoreTLS',
    options.requireTLS !== undefined && options.requireTLS !== true && '?requireTLS',
    options.tls?.rejectUnauthorized !== undefined && options.tls.rejectUnauthorized !== true && '?tls.rejectUnauthorized',
  ].filter((setting): setting is string => Boolean(setting));
  return weakening.map((setting) => `SMTP_URL's ${setting} would let codes go out without verified TLS: remove it (mail to another machine always requires TLS in production)`);
}

/**
 * Whether mail to this server must go over verified TLS: in production, unless the server is on this machine (a
 * local relay, which then carries the mail on; nothing on the network can read or answer in its place).
 */
export function smtpNeedsTls(smtpUrl: string, production: boolean): boolean {
  if (!production) return false;
  const host = URL.canParse(smtpUrl) ? new URL(smtpUrl).hostname : '';
  return !isLoopbackHost(host);
}

/** The transport's options: the URL's, bounded in time, and with TLS enforced last so that no query undoes it. */
export function smtpTransportOptions(smtpUrl: string, { requireTls, timeouts }: { requireTls: boolean; timeouts: SMTPTransport.Options }): TransportOptions {
  const fromUrl = parseConnectionUrl(smtpUrl) as SMTPTransport.Options;
  if (!requireTls) return { ...timeouts, ...fromUrl } as TransportOptions;
  return { ...timeouts, ...fromUrl, requireTLS: true, ignoreTLS: false, tls: { ...fromUrl.tls, rejectUnauthorized: true } } as TransportOptions;
}
