// English messages of the recovery and unlock flow (merged into en.ts; see en.ts for the conventions). Page copy
// follows the original pages in ../shared/product/ beside SPEC.md.
export const recoveryEn = {
  'recover.title': 'Get back into your account',
  'recover.back': 'Back to sign in',
  'recover.next': 'Next',
  /** The method list's button once a method's part is shown below it, so the page has one "Next" (the code's). */
  'recover.use_method': 'Use this method',
  'recover.cancel': 'Cancel',
  'recover.finish': 'Finish',
  'recover.breadcrumb': 'Progress',
  'recover.crumb_step1': 'verification step 1',
  'recover.crumb_step2': 'verification step 2',
  'recover.crumb_password': 'choose a new password',
  'recover.crumb_unlock': 'unlock your account',
  'recover.crumb_done': '(done)',
  // Page titles: the step first (see views/layout.ejs).
  'recover.title_verify': 'Verification step {step}',
  'recover.title_cancelled': 'Recovery cancelled',
  'recover.title_expired': 'Recovery expired',
  'recover.title_blocked': 'Too many attempts',

  'recover.identify_heading': 'Who are you?',
  'recover.identify_intro': 'To recover your account, begin by entering your email or username and the characters in the picture or audio below.',
  'recover.identifier': 'Email or Username',
  'recover.identifier_example': 'Example: user@example.com or username',
  'recover.identifier_missing': 'Enter your email or username.',
  'recover.captcha_wrong': 'The characters you entered did not match. Try the new picture.',

  'recover.goal_heading': 'Why are you having trouble signing in?',
  'recover.goal_reset': 'I forgot my password',
  'recover.goal_reset_help': "No worries, we'll help you to reset your password using the security info you registered with us.",
  'recover.goal_unlock': "I know my password, but still can't sign in",
  'recover.goal_unlock_help':
    "This might happen because you tried signing in with an incorrect password too many times. If you choose this option, you'll keep your existing password and we'll unlock your account so you can sign in again.",
  'recover.goal_missing': 'Choose one of the two options.',

  'recover.choose_first': 'Please choose the first contact method we should use for verification:',
  'recover.choose_second': 'Please choose the second contact method we should use for verification:',
  'recover.method_email': 'Email my alternate email',
  'recover.method_sms': 'Text my mobile phone',
  'recover.method_totp': 'Enter a code from my authenticator app',
  'recover.method_missing': 'Choose a contact method.',
  'recover.no_methods':
    'There is no other verification method we can use for your account. Contact your administrator to get back in.',

  'recover.email_intro': 'Email my alternate email address ({hint}).',
  'recover.email_send': 'Email',
  'recover.sms_to': 'Text me at {hint}',
  'recover.sms_intro':
    'In order to protect your account, we need you to enter your complete mobile phone number ({hint}) below. You will then receive a text message with a verification code which can be used to reset your password.',
  'recover.sms_intro_unlock':
    'In order to protect your account, we need you to enter your complete mobile phone number ({hint}) below. You will then receive a text message with a verification code which can be used to unlock your account.',
  'recover.phone_label': 'Enter your phone number',
  'recover.sms_send': 'Text',
  'recover.phone_mismatch': 'This phone number does not match the one we have for your account.',
  'recover.phone_invalid': 'Enter your complete phone number, starting with + and its country code (for example +1 415 555 0132).',
  'recover.phone_country': 'We cannot send text messages to this country. Choose another method.',

  'recover.code_sent_email': "We've emailed a verification code to your alternate email address ({hint}).",
  'recover.code_sent_sms': "We've sent you a text message containing a verification code to your phone ({hint}).",
  'recover.totp_intro': 'Enter the code shown in your authenticator app.',
  'recover.code_label': 'Enter your verification code',
  'recover.code_format': 'Enter the {digits}-digit code, digits only.',
  'recover.code_wrong': 'That code did not work. Check it and try again, or ask for a new one.',
  'recover.code_expired': 'That code has expired or was used too many times. Ask for a new one with “Try again”.',
  'recover.try_again': 'Try again',
  'recover.contact_admin': 'Contact your administrator',
  'recover.support_hint_before': 'If you are unable to reset your password after retrying, please',
  'recover.support_hint_before_unlock': 'If you are unable to unlock your account after retrying, please',
  'recover.support_link': 'contact Support',
  'recover.support_hint_after': 'for assistance. Give them the support code {code}.',
  'recover.support_none': 'Ask your administrator for help, and give them the support code {code}.',

  'recover.password_heading': 'Choose a new password',
  'recover.password_new': 'Enter new password',
  'recover.password_confirm': 'Confirm new password',
  'recover.password_mismatch': 'The two passwords are not the same.',

  'recover.unlock_heading': 'Unlock your account',
  'recover.unlock_intro': 'You have proved who you are. Unlock your account now; your password stays as it is.',
  'recover.unlock_button': 'Unlock my account',

  'recover.done_reset': 'Your password has been reset',
  'recover.done_unlock': 'Your account has been unlocked',
  'recover.done_reset_body': 'You can now sign in with your new password. For your safety, you have been signed out everywhere.',
  'recover.done_unlock_body': 'You can now sign in with your password.',
  'recover.sign_in': 'Sign in',
  'recover.done_no_app': 'Go back to the application you were signing in to, and sign in there.',

  'recover.expired': 'This recovery has expired or was finished. Start again.',
  'recover.out_of_date': 'This page was out of date, so nothing was changed. Here is where you are now.',
  'recover.send_limited': 'We can’t send another code right now. If a code we sent has reached you, enter it below; otherwise press “Try again” in a few minutes.',
  'recover.more_proof': 'For your account’s safety, we need one more verification before we can go on. Nothing was changed.',
  'recover.lockdown_new_password': 'This account was locked after a change to it was reported as not yours, so only a new password unlocks it: the old one will no longer work.',
  'recover.start_again': 'Start again',
  'recover.blocked':
    'For your security, account recovery is blocked for now after too many attempts. Try again tomorrow, or contact your administrator.',
  'recover.too_many': 'Too many attempts from your network. Wait a while and try again.',
  'recover.method_disabled':
    'This method can no longer be used to recover your account, after too many wrong attempts in a row. Choose another method, or contact your administrator to turn it back on.',
  'recover.method_unavailable':
    'This method can’t be checked right now because of a problem on our side. Nothing was used up: choose another method, or contact your administrator.',
  'recover.cancelled': 'Account recovery was cancelled. Nothing was changed.',

  'lockdown.title': 'Secure your account',
  'lockdown.intro':
    'If you did not make this change, secure your account now: everyone signed in to it will be signed out, and nobody can sign in until the account is recovered with all of its verification methods or an administrator helps.',
  'lockdown.button': 'This wasn’t me: secure my account',
  'lockdown.done': 'Your account is secured. Use “Can’t access your account?” on the sign-in page, or contact your administrator, to get back in.',
  'lockdown.invalid': 'This link has expired or was already used.',

  'notice.code_email_subject': 'Your verification code',
  'notice.code_email_body': 'Your verification code is {code}. It expires in {minutes} minutes. If you did not ask for it, ignore this message: nothing changes in your account.',
  'notice.code_sms_body': 'Your verification code is {code}. It expires in {minutes} minutes.',
  'notice.reset_subject': 'Your password was reset',
  'notice.reset_body': 'The password of your account {account} was reset on {time}. Everyone signed in to it was signed out.',
  'notice.unlock_subject': 'Your account was unlocked',
  'notice.unlock_body': 'Your account {account} was unlocked on {time}, after verification.',
  'notice.lockout_subject': 'Your account was locked',
  'notice.lockout_body':
    'Your account {account} was locked on {time} after too many sign-in attempts with a wrong password. Whoever made them did not get in, and nothing in your account changed. It usually unlocks by itself after a while, or from “Can’t access your account?”, where you can also choose a new password if you think someone may know yours.',
  'notice.methods_subject': 'The ways to verify your identity were changed',
  'notice.methods_body': 'An administrator changed the ways to verify your identity for your account {account}, which are used to recover it, on {time}: {changes}.',
  'notice.method_alternate_email': 'alternate email',
  'notice.method_mobile_phone': 'mobile phone',
  'notice.method_office_phone': 'office phone',
  'notice.method_authenticator': 'authenticator app',
  'notice.method_set': '{method} set to {hint}',
  'notice.method_removed': '{method} removed',
  'notice.authenticator_registered': 'a new authenticator app registered',
  'notice.authenticator_removed': 'authenticator app removed',
  'notice.method_disabled_subject': 'A way to verify your identity was turned off',
  'notice.method_disabled_body':
    'Your {method} can no longer be used to recover your account {account}: on {time}, it reached {count} wrong attempts in a row. Someone may be trying to get into your account; nobody got in with it, and nothing in your account changed. Your administrator can turn it back on (so does a completed recovery of your account, where your other methods are enough for one).',
  'notice.not_me': 'If this wasn’t you, secure your account: {link}',
  'notice.sms_security': 'Security notice for your account {account}: {what}. Not you? {link}',
  'notice.sms_information': 'Security notice for your account {account}: {what}. Nobody got in; nothing in your account changed.',
} as const;
