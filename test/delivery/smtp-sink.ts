// A real SMTP server for tests (smtp-server + mailparser): it keeps what it received and can be told to refuse
// recipients. STARTTLS and AUTH are disabled: smtp-server's built-in certificate has expired (recovery-notes §4).
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';

export interface SmtpSink {
  /** An SMTP_URL for this sink. */
  url: string;
  received: ParsedMail[];
  /** RCPT TO commands seen, refused ones included: how many attempts reached the server. */
  recipientsTried: number;
  /** When set, every RCPT TO is refused with this reply code (451: try later, 550: no such mailbox). */
  refuseWith: number | undefined;
  /** When set, each message's final reply waits this long (ms): a slow server, mid-send. */
  replyDelayMs: number | undefined;
  close(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const sink: Omit<SmtpSink, 'url' | 'close'> = { received: [], recipientsTried: 0, refuseWith: undefined, replyDelayMs: undefined };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      sink.recipientsTried += 1;
      if (sink.refuseWith === undefined) return callback();
      // Worded as Postfix does, echoing the recipient.
      const reason = sink.refuseWith >= 500 ? 'Recipient address rejected: User unknown' : 'Recipient address rejected: Try again later';
      callback(Object.assign(new Error(`<${address.address}>: ${reason}`), { responseCode: sink.refuseWith }));
    },
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        sink.received.push(mail);
        setTimeout(callback, sink.replyDelayMs ?? 0);
      }, callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return Object.assign(sink, {
    // ignoreTLS: never try STARTTLS, even if a server offered it (query parameters are nodemailer options).
    url: `smtp://127.0.0.1:${port}/?ignoreTLS=true`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
