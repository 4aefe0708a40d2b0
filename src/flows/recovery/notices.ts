// Security notices: after a reset, an unlock or a lockout the owner is told on every contact they registered, in
// their language, and each notice carries a single-use "This wasn't me" link (flows/recovery/lockdown.ts).
// Messages go through the delivery outbox, so no page waits for a mail server.
import type { User } from '../../accounts/user-model.ts';
import { translator, type Translate } from '../../http/i18n.ts';
import type { OutgoingMessage } from '../../methods/method.ts';
import { LOCKDOWN_PATH_PREFIX, type Lockdowns } from './lockdown.ts';
import { escapeHtml } from '../../delivery/branded-email.ts';

export type NoticeKind = 'reset' | 'unlock' | 'lockout';

export interface Notifier {
  /**
   * Tells the owner on every registered contact; returns how many were told. `textAllowed`: asked before the text
   * message goes (a notice anyone can cause, a lockout, must not run up the text bill); without it, it goes.
   */
  notify(user: User, kind: NoticeKind, locale: string, textAllowed?: () => Promise<boolean>): Promise<number>;
}

interface NotifierDeps {
  enqueue(message: OutgoingMessage): Promise<unknown>;
  lockdowns: Lockdowns;
  /** Where links point: the issuer's origin. */
  origin: string;
  clock?: () => number;
}

/** The notice's paragraphs as HTML, its link clickable (the brand's frame is added on the way out). */
function emailHtml(paragraphs: string[], link: string): string {
  return paragraphs.map((p) => `<p>${escapeHtml(p).replace(escapeHtml(link), `<a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`)}</p>`).join('');
}

export function createNotifier({ enqueue, lockdowns, origin, clock = Date.now }: NotifierDeps): Notifier {
  function compose(t: Translate, user: User, kind: NoticeKind, link: string) {
    const values = { account: user.username, time: new Date(clock()).toUTCString() };
    const subject = t(`notice.${kind}_subject`);
    const what = t(`notice.${kind}_body`, values);
    return { subject, what, notMe: t('notice.not_me', { link }) };
  }

  return {
    async notify(user, kind, locale, textAllowed) {
      const t = translator(locale);
      // One link for all of this notice's copies: whichever the owner opens first locks the account down.
      const link = `${origin}${LOCKDOWN_PATH_PREFIX}${await lockdowns.issue(user._id)}`;
      const { subject, what, notMe } = compose(t, user, kind, link);
      const emails = [...new Set([user.email, user.securityInfo?.alternateEmail].filter((e): e is string => Boolean(e)))];
      for (const to of emails) await enqueue({ channel: 'email', to, subject, text: `${what}\n\n${notMe}\n`, html: emailHtml([what, notMe], link) });
      const phone = user.securityInfo?.mobilePhone;
      const texted = Boolean(phone) && (!textAllowed || (await textAllowed()));
      if (texted) await enqueue({ channel: 'sms', to: phone!, text: t('notice.sms_security', { account: user.username, what: subject, link }) });
      return emails.length + (texted ? 1 : 0);
    },
  };
}
