// Email over SMTP with nodemailer: a text part and, when given, an HTML alternative (multipart/alternative).
import nodemailer from 'nodemailer';
import { DeliveryError, type Channel, type OutgoingMessage } from './channel.ts';
import { mailDomain, smtpTransportOptions } from './smtp-settings.ts';

export interface EmailSettings {
  /** smtp://user:pass@host:587 (STARTTLS when offered) or smtps://… (implicit TLS); query parameters are nodemailer options. */
  smtpUrl: string;
  /** The From header of every message. */
  from: string;
  /** Refuse to send without verified TLS (smtp-settings.ts): production, to a server on another machine. */
  requireTls?: boolean;
}

// nodemailer waits up to 2 minutes to connect and 10 minutes on an idle socket by default. One stuck attempt
// would hold its channel's lane and outlive the claim lease (sender.ts), so attempts are bounded well below it.
const TIMEOUTS = { connectionTimeout: 15_000, greetingTimeout: 15_000, socketTimeout: 30_000, dnsTimeout: 10_000 };

export function createEmailChannel({ smtpUrl, from, requireTls = false }: EmailSettings): Channel {
  // The URL's own parameters win over these time limits; nothing in it wins over required TLS.
  const transport = nodemailer.createTransport(smtpTransportOptions(smtpUrl, { requireTls, timeouts: TIMEOUTS }));
  const domain = mailDomain(from) ?? 'latchkey.invalid';

  return {
    async send(message: OutgoingMessage): Promise<void> {
      let info;
      try {
        info = await transport.sendMail({
          from,
          to: message.to,
          subject: message.subject ?? '',
          text: message.text,
          ...(message.html !== undefined && { html: message.html }),
          headers: {
            // RFC 3834 §5: a machine wrote it, so vacation and other automatic replies leave it be (they would go to no-reply).
            'Auto-Submitted': 'auto-generated',
            ...(message.language !== undefined && { 'Content-Language': message.language }),
          },
          date: message.createdAt,
          // Stable across retries: a mailbox that got an attempt whose answer was lost can drop the copy.
          messageId: `<${message.id}@${domain}>`,
        });
      } catch (error) {
        throw smtpFailure(error);
      }
      // A server that refuses some recipients but not all still resolves: the refusal is only in `rejected`.
      // Not retried: the accepted recipients already have the message, a retry would send it to them again.
      if (info.rejected.length > 0) {
        throw new DeliveryError('EREJECTED', `recipient refused: ${String(info.rejectedErrors?.[0]?.message ?? 'no reason given')}`.slice(0, 300), {
          permanent: true,
        });
      }
    },
  };
}

/**
 * nodemailer's error as a DeliveryError. Its code says where it failed (EENVELOPE: the server refused a
 * recipient; EMESSAGE: the message; ESOCKET/ECONNECTION/ETIMEDOUT: the connection). An SMTP 5xx reply is a
 * permanent refusal (RFC 5321 §4.2.1), a 4xx a "try later"; ETLS: the upgrade to TLS failed.
 */
function smtpFailure(error: unknown): DeliveryError {
  const { code, responseCode, message } = (error ?? {}) as { code?: unknown; responseCode?: unknown; message?: unknown };
  // A failed STARTTLS is not the recipient's refusal, whatever its reply code: a server that will not upgrade may be
  // one an attacker in the path answers for, for a while, so it is tried again within the message's send window.
  const permanent = code !== 'ETLS' && typeof responseCode === 'number' && responseCode >= 500 && responseCode < 600;
  return new DeliveryError(typeof code === 'string' ? code : 'ESMTP', typeof message === 'string' ? message.slice(0, 300) : 'SMTP send failed', { permanent });
}
