// The recovery scenario's mail server, in the load client: Latchkey sends its codes here over real SMTP (its
// production path: outbox, background sender, nodemailer), and the browser that asked for a code waits for it here,
// as a person waits for the email. Nothing is kept but the waiting browsers.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

/** The subject of a code email (English, the benchmark's only language): reset notices to the same address are not codes. */
const CODE_SUBJECT = 'Your verification code';

export interface Mailbox {
  /** An SMTP_URL for Latchkey. */
  url: string;
  /** Drops a code to `address` that nobody took (from an earlier flow that failed): call it before asking for a code. */
  forget(address: string): void;
  /** The code of the next code email to `address` (one browser per address at a time). */
  takeCode(address: string, signal: AbortSignal): Promise<string>;
  close(): Promise<void>;
}

export async function startMailbox(): Promise<Mailbox> {
  const unread = new Map<string, string>();
  const waiting = new Map<string, (code: string) => void>();
  const arrived = (address: string, code: string) => {
    const deliver = waiting.get(address);
    if (deliver) deliver(code);
    else unread.set(address, code);
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    // smtp-server's built-in certificate has expired (recovery-notes §4): plain SMTP on loopback.
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        callback();
        const code = mail.subject === CODE_SUBJECT ? /\b(\d{6,10})\b/.exec(mail.text ?? '')?.[1] : undefined;
        if (!code) return;
        for (const group of Array.isArray(mail.to) ? mail.to : mail.to ? [mail.to] : []) {
          for (const { address } of group.value) if (address) arrived(address.toLowerCase(), code);
        }
      }, callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}/?ignoreTLS=true`,
    forget: (address) => void unread.delete(address.toLowerCase()),
    takeCode(address, signal) {
      const key = address.toLowerCase();
      const code = unread.get(key);
      if (code) {
        unread.delete(key);
        return Promise.resolve(code);
      }
      return new Promise<string>((resolve, reject) => {
        const abort = () => {
          waiting.delete(key);
          reject(new Error('no code email arrived'));
        };
        signal.addEventListener('abort', abort, { once: true });
        waiting.set(key, (received) => {
          waiting.delete(key);
          signal.removeEventListener('abort', abort);
          resolve(received);
        });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
