// "Email my alternate email": a code sent to the alternate address the user registered (not the sign-in address,
// which may be the very mailbox they lost).
import type { VerificationMethod } from './method.ts';
import { decoyEmailHint, maskEmail } from './mask.ts';

/** The longest email address there is (RFC 5321's 256-octet path less its brackets). */
export const MAX_EMAIL_LENGTH = 254;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Whether `value` has an address's shape (one @, a dot in the domain, no spaces): whether it exists, a code tells. */
export const isEmailAddress = (value: string): boolean => value.length <= MAX_EMAIL_LENGTH && EMAIL.test(value);

export const emailMethod: VerificationMethod = {
  id: 'email',
  kind: 'code',
  strong: false,
  isRegistered: (user) => Boolean(user.securityInfo?.alternateEmail),
  authenticator: (user) => user.securityInfo.alternateEmail ?? '',
  hint: (user) => maskEmail(user.securityInfo.alternateEmail!),
  decoyHint: decoyEmailHint,
  delivery: {
    destination: (user) => ({ channel: 'email', to: user.securityInfo.alternateEmail! }),
    decoyDestination: 'decoy@decoy.invalid',
    compose(code, to, { t, locale, expiresIn }) {
      const text = t('notice.code_email_body', { code, expiresIn });
      return { channel: 'email', to, subject: t('notice.code_email_subject'), text, language: locale };
    },
  },
};
