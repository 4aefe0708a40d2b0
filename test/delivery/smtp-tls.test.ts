// Mail in production goes over verified TLS, whatever SMTP_URL's query says: against a real SMTP server that offers
// no STARTTLS (as a downgrading attacker in the path would make any server look), a code is refused, not sent in clear.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createEmailChannel } from '../../src/delivery/email.ts';
import { startSmtpSink, type SmtpSink } from './smtp-sink.ts';

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());

const message = { id: 'm1', to: 'ada@example.test', subject: 'Your code', text: 'Your verification code is 314159.', createdAt: new Date() };
const plainUrl = () => sink.url.replace('/?ignoreTLS=true', '');

describe('an email channel that requires TLS', () => {
  it.each([
    ['a plain smtp:// URL', plainUrl],
    ['a URL whose query turns TLS off', () => `${plainUrl()}/?ignoreTLS=true&requireTLS=false&tls.rejectUnauthorized=false`],
  ])('refuses to hand a code to a server without STARTTLS, given %s', async (_label, url) => {
    const channel = createEmailChannel({ smtpUrl: url(), from: 'Latchkey <no-reply@id.example.test>', requireTls: true });
    await expect(channel.send(message)).rejects.toMatchObject({ permanent: false });
    expect(sink.received).toHaveLength(0);
    expect(sink.recipientsTried).toBe(0);
  });

  it('sends in clear only where TLS is not required (development, or a relay on this machine)', async () => {
    const channel = createEmailChannel({ smtpUrl: plainUrl(), from: 'Latchkey <no-reply@id.example.test>' });
    await channel.send(message);
    expect(sink.received.map((mail) => mail.text?.trim())).toEqual(['Your verification code is 314159.']);
  });
});
