// Security notices: after a reset, an unlock, a lockout, a change of the ways to verify them or a lockdown (both by an
// administrator) the owner is told on every contact they registered, in the language they last signed in with: their
// email addresses, and their mobile phone by text when its country is one the policy texts. Not the office phone: a
// call to a desk, which someone else may answer, says nothing the emails do not. A notice of a change to the account
// carries a single-use "This wasn't me" link (flows/recovery/lockdown.ts); one of a lockout or of a method turned off
// does not: anyone can cause those with wrong guesses, nothing in the account changed, and a lockdown would lock the
// owner out of their own browser too, with a reset by two methods (or an administrator) the only way back.
// Messages go through the delivery outbox, so no page waits for a mail server.
import type { User } from '../../accounts/user-model.ts';
import type { MethodId } from '../../policy/policy.ts';
import type { MessageId } from '../../http/messages/en.ts';
import { DEFAULT_LOCALE, SUPPORTED_LOCALES, translator, type Translate } from '../../http/i18n.ts';
import type { OutgoingMessage } from '../../methods/method.ts';
import { LOCKDOWN_PATH_PREFIX, type Lockdowns } from './lockdown.ts';
import { escapeHtml } from '../../delivery/branded-email.ts';
import { maskEmail, maskPhone } from '../../methods/mask.ts';
import { MAX_CONSECUTIVE_PROOF_FAILURES } from '../../security/proof-ceiling.ts';

export type NoticeKind = 'reset' | 'changed' | 'unlock' | 'lockout' | 'lockout_disabled' | 'device_disabled' | 'signed_out';
/** Notices of what someone failed to do: nothing changed, so no "This wasn't me" to lock the account down with. */
const NOTHING_CHANGED: readonly NoticeKind[] = ['lockout', 'lockout_disabled', 'device_disabled'];

/** One verification method changed: set to a new value (told only as a masked hint), or removed. */
export type MethodChange =
  | { method: 'alternate_email' | 'mobile_phone' | 'office_phone'; to: string | null }
  | { method: 'authenticator' | 'app_device'; registered: boolean };

/** Who changed the ways to verify an account (`notifyMethodsChanged`). */
export type ChangedBy = 'admin' | 'password' | 'app';

const METHODS_BODY = { admin: 'notice.methods_body', password: 'notice.methods_body_password', app: 'notice.methods_body_app' } as const;

export interface Notifier {
  /**
   * Tells the owner on every registered contact; returns how many were told. Each notice speaks the language the
   * owner last signed in with; `locale` only when none is kept. `textAllowed`: asked before the text message goes (a
   * notice anyone can cause, a lockout, must not run up the text bill); without it, it goes.
   */
  notify(user: User, kind: NoticeKind, locale: string, textAllowed?: () => Promise<boolean>): Promise<number>;
  /**
   * Tells the owner that the ways to verify them changed. `before`: the account as it was, so that the contacts
   * told are the ones registered before the change (a replaced alternate email or phone hears of it). Never the
   * new values in full: masked hints. `by`: who made it, as far as the server knows (an administrator's command;
   * someone signed in with the account's password on "Your security info"; an app that enrolled itself with a
   * one-time link, whoever made the link): an owner told that an administrator made a change they did not make
   * would not press "This wasn't me".
   */
  notifyMethodsChanged(before: User, changes: MethodChange[], by: ChangedBy, locale: string, textAllowed?: () => Promise<boolean>): Promise<number>;
  /**
   * Tells the owner that a method no longer counts as a recovery proof after too many wrong ones in a row
   * (security/proof-ceiling.ts). `textAllowed` as for `notify`: anyone can cause it.
   */
  notifyMethodDisabled(user: User, method: MethodId, locale: string, textAllowed?: () => Promise<boolean>): Promise<number>;
  /**
   * Tells the owner that an administrator locked the account down (`users lock-down`) and how to get back in. No
   * "This wasn't me" link: the account is locked down already.
   */
  notifyLockedDown(user: User, locale: string): Promise<number>;
}

/** A recovery method as the notices name it. */
const METHOD_NAMES: Record<MethodId, MessageId> = {
  email: 'notice.method_alternate_email',
  sms: 'notice.method_mobile_phone',
  call_mobile: 'notice.method_mobile_phone',
  call_office: 'notice.method_office_phone',
  app_notification: 'notice.method_app_device',
  totp: 'notice.method_authenticator',
};

interface NotifierDeps {
  enqueue(message: OutgoingMessage): Promise<unknown>;
  lockdowns: Lockdowns;
  /** Where links point: the issuer's origin. */
  origin: string;
  /**
   * Whether texts may go to this number now: the policy's allowed countries hold for notices too (anyone can cause a
   * lockout notice, and a number registered before its country was refused must not be texted at the operator's cost).
   */
  textsTo(phone: string): Promise<boolean>;
  /**
   * Whom the owner contacts about it (the policy's helpdesk, else BRAND_HELP_URL), if anyone: an owner who did not do
   * what a notice tells needs a person to turn to as well as the link (NIST SP 800-63B-4 §4.2, notification of a
   * recovery event with contact details).
   */
  helpContact(): Promise<string | undefined>;
  clock?: () => number;
}

/** The notice's paragraphs as HTML, its web links clickable (the brand's frame is added on the way out). */
function emailHtml(paragraphs: string[], links: string[]): string {
  const linked = (html: string) => links.reduce((out, link) => out.replace(escapeHtml(link), `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`), html);
  return paragraphs.map((p) => `<p>${linked(escapeHtml(p))}</p>`).join('');
}

/**
 * The addresses to write to, each mailbox once ("Ada@Example.com" and "ada@example.com" are one), as first spelled.
 * Compared lower-cased whole, local part too: a domain's case never matters, and RFC 5321 (§2.4) lets a local part's
 * matter but asks servers not to, which the common ones follow (Latchkey lower-cases the addresses it is given; mixed
 * case comes from accounts written to the database some other way). Every notice twice in one inbox is the likelier
 * harm than a case-sensitive mailbox missed.
 */
function mailboxes(addresses: (string | undefined)[]): string[] {
  const byMailbox = new Map<string, string>();
  for (const address of addresses) if (address && !byMailbox.has(address.toLowerCase())) byMailbox.set(address.toLowerCase(), address);
  return [...byMailbox.values()];
}

/** One change as the notice words it ("mobile phone set to *****23", "authenticator app removed"). */
function describeChange(t: Translate, change: MethodChange): string {
  if ('registered' in change) return t(`notice.${change.method}_${change.registered ? 'registered' : 'removed'}`);
  const method = t(`notice.method_${change.method}`);
  if (change.to === null) return t('notice.method_removed', { method });
  return t('notice.method_set', { method, hint: change.method === 'alternate_email' ? maskEmail(change.to) : maskPhone(change.to) });
}

/**
 * The language a notice speaks: the one the owner last signed in with, whoever caused it (someone else's wrong
 * passwords, an administrator, a recovery run in another language); `fallback` when none is kept (the default
 * language, or the recovery's for the notice of the owner's own reset).
 */
function ownersLanguage(user: User, fallback: string): string {
  return user.language && SUPPORTED_LOCALES.includes(user.language) ? user.language : fallback;
}

/** A notice's subject and first paragraph, in the owner's language. */
type Wording = (t: Translate, values: { account: string; time: string }) => { subject: string; what: string };

/**
 * How a notice goes: `textAllowed` asked before its text message (see Notifier); `withLockdownLink` whether it carries
 * "This wasn't me"; `text`, the text message's words when it has no link (by default: nobody got in, nothing changed).
 */
interface Sending {
  textAllowed?: (() => Promise<boolean>) | undefined;
  withLockdownLink: boolean;
  text?: 'notice.sms_information' | 'notice.sms_lockdown';
}

export function createNotifier({ enqueue, lockdowns, origin, textsTo, helpContact, clock = Date.now }: NotifierDeps): Notifier {
  /** The "This wasn't me" link: one for all of a notice's copies, so whichever the owner opens first locks the account down. */
  async function lockdownLink(user: User, locale: string): Promise<string> {
    // In a language other than the default, the link asks for it too (the page honours ui_locales below a language
    // the person picked), so the page it opens speaks as the notice did.
    const language = locale === DEFAULT_LOCALE ? '' : `?ui_locales=${encodeURIComponent(locale)}`;
    return `${origin}${LOCKDOWN_PATH_PREFIX}${await lockdowns.issue(user._id)}${language}`;
  }

  async function send(user: User, fallbackLocale: string, wording: Wording, { textAllowed, withLockdownLink, text: textId = 'notice.sms_information' }: Sending): Promise<number> {
    const locale = ownersLanguage(user, fallbackLocale);
    const t = translator(locale);
    const link = withLockdownLink ? await lockdownLink(user, locale) : undefined;
    // The time in the notice's own language ("30 novembre 2026 à 20:49:46 UTC"), in UTC: the server cannot know the reader's zone.
    const time = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'long', timeZone: 'UTC' }).format(clock());
    const { subject, what } = wording(t, { account: user.username, time });
    const contact = await helpContact();
    const paragraphs = [what, ...(link ? [t('notice.not_me', { link })] : []), ...(contact ? [t('notice.help', { contact })] : [])];
    const links = [link, contact].filter((value): value is string => Boolean(value && /^https?:\/\//.test(value)));
    const emails = mailboxes([user.email, user.securityInfo?.alternateEmail]);
    for (const to of emails) await enqueue({ channel: 'email', to, subject, text: `${paragraphs.join('\n\n')}\n`, html: emailHtml(paragraphs, links), language: locale });
    const phone = user.securityInfo?.mobilePhone;
    const texted = Boolean(phone) && (await textsTo(phone!)) && (!textAllowed || (await textAllowed()));
    const text = link ? t('notice.sms_security', { account: user.username, what: subject, link }) : t(textId, { account: user.username, what: subject });
    if (texted) await enqueue({ channel: 'sms', to: phone!, text });
    return emails.length + (texted ? 1 : 0);
  }

  return {
    notify(user, kind, locale, textAllowed) {
      return send(user, locale, (t, values) => ({ subject: t(`notice.${kind}_subject`), what: t(`notice.${kind}_body`, values) }), { textAllowed, withLockdownLink: !NOTHING_CHANGED.includes(kind) });
    },

    notifyMethodsChanged(before, changes, by, locale, textAllowed) {
      return send(before, locale, (t, values) => ({
        subject: t('notice.methods_subject'),
        what: t(METHODS_BODY[by], { ...values, changes: changes.map((change) => describeChange(t, change)).join('; ') }),
      }), { textAllowed, withLockdownLink: true });
    },

    notifyMethodDisabled(user, method, locale, textAllowed) {
      const wording: Wording = (t, values) => ({
        subject: t('notice.method_disabled_subject'),
        what: t('notice.method_disabled_body', { ...values, method: t(METHOD_NAMES[method]), count: MAX_CONSECUTIVE_PROOF_FAILURES }),
      });
      return send(user, locale, wording, { textAllowed, withLockdownLink: false });
    },

    notifyLockedDown(user, locale) {
      const wording: Wording = (t, values) => ({ subject: t('notice.lockdown_subject'), what: t('notice.lockdown_body', values) });
      return send(user, locale, wording, { withLockdownLink: false, text: 'notice.sms_lockdown' });
    },
  };
}
