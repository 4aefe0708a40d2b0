// What every channel is: something that sends one message to one address, or throws a DeliveryError saying why it
// could not. A channel knows no method and no flow (ARCHITECTURE.md): it is told an address and a text, nothing
// about what the text is for. Retrying, backoff and bookkeeping belong to the sender, not to channels.

/** `push`: a notification for an enrolled authenticator app, which fetches it (app-push.ts). */
export type ChannelName = 'email' | 'sms' | 'voice' | 'push';
export const CHANNEL_NAMES: readonly ChannelName[] = ['email', 'sms', 'voice', 'push'];

/** What a message says and where it goes: what the method that composes it, the outbox and a channel share. */
export interface MessageContent {
  /** An email address, a phone number in E.164 form, or an authenticator app's device id. */
  to: string;
  /** Email only (required there). */
  subject?: string;
  text: string;
  /** Email only: the HTML alternative of `text`. */
  html?: string;
  /** Email: the language `text` is written in (its Content-Language); a call: the language its voice speaks. */
  language?: string;
  /**
   * A call or an app notification only (required there): where the keys the person presses (the number the app is
   * told) go, an answer URL of ours, and how many.
   */
  answerUrl?: string;
  answerDigits?: number;
}

/** One message as a channel sees it. */
export interface OutgoingMessage extends MessageContent {
  /** The outbox id: stable across retries, so receivers (a gateway, a mail server) can drop a duplicate. */
  id: string;
  /** When it was asked for (enqueued), not when this attempt runs: an email's Date, the outbox's order. */
  createdAt: Date;
}

export interface Channel {
  send(message: OutgoingMessage): Promise<void>;
}

/**
 * Why a send failed, in words safe to store and log: a stable code and the provider's status line, never the
 * message text (it carries codes), nor the address or number it was for (mail servers echo the recipient: "550
 * <ada@example.com>: Recipient address rejected"), which the outbox keeps for a day and logs keep longer. `permanent` failures (a refused address, a rejected request) are not retried:
 * trying again cannot help and a recovery code is only useful for minutes.
 */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  readonly code: string;
  readonly permanent: boolean;

  constructor(code: string, message: string, { permanent = false }: { permanent?: boolean } = {}) {
    super(withoutContacts(message));
    this.code = code;
    this.permanent = permanent;
  }
}

/**
 * `text` with email addresses and phone numbers masked: an international number (+ and 7 digits or more, separators
 * and all) or a bare run of 10 digits or more. Server addresses, ports and times stay: an operator needs them.
 */
function withoutContacts(text: string): string {
  return text
    .replace(/[^\s<>()[\]"',;:@]+@[^\s<>()[\]"',;:@]+/g, '‹address›')
    .replace(/\+\d[\d ().-]{5,}\d/g, (run) => (run.replace(/\D/g, '').length >= 7 ? '‹number›' : run))
    .replace(/(?<![\d.:])\d{10,}(?![\d.:])/g, '‹number›');
}

/** A DeliveryError for anything a channel threw; unknown errors are treated as transient. */
export function asDeliveryError(error: unknown): DeliveryError {
  if (error instanceof DeliveryError) return error;
  const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  return new DeliveryError(typeof code === 'string' ? code : 'EUNKNOWN', typeof message === 'string' ? message.slice(0, 300) : String(error));
}
