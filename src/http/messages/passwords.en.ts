// English messages of the passwords area (merged into en.ts; see en.ts for the conventions). The reason ids are
// the ones accounts/password-rules.ts returns; `satisfies` makes a missing one a compile error.
import type { PasswordReason } from '../../accounts/password-rules.ts';

export const passwordsEn = {
  // Why a new password was refused (shown next to the field, then the guidance below).
  'password.unprintable': 'Your password cannot contain line breaks, tabs or other control characters: they cannot be typed when you sign in.',
  'password.too_short': 'Your password must have at least {min} characters.',
  'password.too_long': 'Your password can have at most {max} characters.',
  'password.identifier': 'Your password must not be built from your name, username or email address. Choose something others cannot guess from them.',
  'password.service': 'Your password must not be built from the name of this service. Choose something others cannot guess from it.',
  'password.common': 'This password is too common: it is on the list of passwords attackers try first. Choose another one.',
  'password.reused': 'This is the temporary password you were given. Choose a new one of your own.',
  'password.unchanged': 'This is the account’s current password. The account was locked down to keep out whoever may know it: choose a new one.',
  'password.predictable':
    'This password would be easy to guess: it is made of repeated or sequential characters, keyboard patterns, or a few common words and numbers. Add more words, or characters that do not follow a pattern.',

  // The rules, shown wherever a new password is chosen.
  'password.rules_title': 'Your new password',
  'password.rule_length': 'At least {min} characters (up to {max}). Spaces, symbols and emoji all count, and there are no other rules about which characters to use.',
  'password.rule_not_guessable': 'Not a common password, not a pattern such as repeated or sequential characters, and not made from your name, username or email address, or from the name of this service.',
  'password.guidance':
    'Tip: a passphrase of four or more unrelated words is long, easy to remember and hard to guess. Do not reuse a password from another site; a password manager can make one up and remember it for you.',

  // The change of a password its owner knows (flows/password-change.ts, views/change-password.ejs).
  'change_password.title': 'Change your password',
  'change_password.intro': 'Enter your current password, then choose a new one. Everyone signed in to your account is then signed out, on every device, and signs in again with the new password.',
  'change_password.current': 'Current password',
  'change_password.captcha_intro': 'Many sign-ins have failed from your network recently. To change your password, also enter the characters below.',
  'change_password.submit': 'Change password',
  'change_password.forgot': 'Forgot your password?',
  'change_password.same': 'This is your current password. Choose a new one.',
  'change_password.account_changed': 'Your account changed while your new password was being saved (its password was reset, or it was locked). Nothing was saved: enter your current password again.',
  'change_password.done_title': 'Your password is changed',
  'change_password.done_body': 'The password of {account} is changed. Everyone signed in to the account was signed out, on every device: sign in again with your new password.',
} as const satisfies Record<PasswordReason, string> & Record<string, string>;
