// English message catalogue. Templates and tests refer to messages by id; a translation is one more file with
// the same ids (see i18n.ts). `{name}` marks a value filled in at render time (escaped by the template).
import { captchaEn } from './captcha.en.ts';
import { noticesEn } from './notices.en.ts';
import { passwordsEn } from './passwords.en.ts';
import { recoveryEn } from './recovery.en.ts';
import { securityInfoEn } from './security-info.en.ts';
import { sessionsEn } from './sessions.en.ts';

/** Messages of the core pages; each larger area keeps its own file (`<area>.en.ts`), merged below. */
const core = {
  'app.name': 'Latchkey',
  'app.skip_to_content': 'Skip to main content',
  'app.title_step': '{step} – {title}',
  'app.title_error': 'Error: {title}',
  'footer.language': 'Language',
  'footer.links': 'Help and policies',
  'footer.help': 'Help',
  'footer.privacy': 'Privacy',
  'footer.terms': 'Terms',
  'lang.en': 'English',
  'lang.fr': 'Français',

  'login.title': 'Sign in',
  'login.subtitle': 'to continue to {client}',
  'login.identifier': 'Email or username',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.cant_access': "Can't access your account?",
  'login.invalid': 'Incorrect email, username or password.',
  'login.missing': 'Enter your email or username and your password.',
  'login.restarted': 'Your password was not checked: the sign-in page you used was out of date, so the sign-in has started again. Enter your password again.',
  'login.restarted_security_info': 'What you last sent about your verification methods was not saved: that page was out of date, so the sign-in has started again. What you saved there before is kept. Sign in to go on.',
  'login.show_password': 'Show password',
  'login.hide_password': 'Hide password',
  'login.remember': 'Keep me signed in',
  'login.remember_note': 'You stay signed in after this browser is closed. Not on a computer others use.',
  'login.cancel': 'Cancel',
  // After a temporary password (an administrator's) was accepted: the person chooses their own before going on.
  'password_change.title': 'Choose your own password',
  'password_change.heading': 'Choose your own password',
  'password_change.intro': 'The password you signed in with was set by an administrator for one use. Choose a new one that only you know to continue to {client}.',
  'password_change.submit': 'Save and continue',
  'password_change.elsewhere_title': 'Your password was already changed',
  'password_change.elsewhere_body': 'The new password saved first from this browser is your password now. A different one typed since, in another window or tab or after going back, was not saved.',
  'password_change.elsewhere_continue': 'Continue',
  'login.captcha_intro': 'Many sign-ins have failed from your network recently. To sign in, also enter the characters below.',
  // The password is checked only with the right characters: said, so that nobody wonders whether it was wrong.
  'login.captcha_wrong': 'The characters you entered did not match, so your password was not checked. Enter it again with the characters in the new picture.',
  'login.captcha_stale': 'Your password was not checked: the picture had expired (each lasts 10 minutes) or was already used. Enter your password again with the characters in the new picture.',
  // As either of the two above, once the page asks for no characters any more (security/captcha-gate.ts).
  'login.captcha_not_asked': 'Your password was not checked, as the characters did not match or had expired. No characters are needed now: enter your password again.',
  'login.captcha_wait_early': 'Your password was not checked yet: the characters were left empty before the wait was over. Enter your password again with the characters, or wait {wait} and leave them empty.',
  'login.captcha_wait_used_up': 'Your password was not checked. Too many sign-ins from your network went ahead without the characters this hour: enter the characters with your password, or try again later.',
  'home.title': '{app} sign-in service',
  'home.intro': 'This server signs people in to the applications that use it (an OpenID Connect provider). Open one of those applications to sign in.',
  'home.issuer': 'Issuer: {issuer}',
  'home.discovery': 'Discovery document',
  'home.demo': 'Try the demo application (it runs with npm run demo)',
  'home.recover': "Can't access your account?",
  'home.change_password': 'Change your password',
  'home.security_info': 'Review your security info',
  'home.sessions': 'See where you are signed in',

  // The door to the account's own pages (its security info, its sessions): one form for both.
  'account.open_captcha_intro': "Many sign-ins have failed from your network recently. To continue, also enter the characters below.",
  'account.open_submit': "Next",
  'account.back_to_app': 'Back to {client}',
  'account.temporary_password': "Your password was set by an administrator. Choose your own password first, then come back here.",

  'consent.title': 'Allow {client} to access your account?',
  'consent.signed_in_as': 'Signed in as {user}',
  'consent.intro': '{client} is asking to:',
  'consent.claims_intro': 'It also asks for these details:',
  'consent.lifetime': 'This permission lasts while you stay signed in here, at most {days} days.',
  // With offline_access the app keeps its refresh tokens after you sign out.
  'consent.lifetime_offline': 'This permission lasts at most {days} days, also after you sign out.',
  'consent.allow': 'Allow',
  'consent.cancel': 'Cancel',
  'scope.openid': 'Confirm that it is you',
  'scope.profile': 'See your name and username',
  'scope.email': 'See your email address',
  'scope.offline_access': 'Keep access while you are not using it',
  'scope.other': 'Use the permission "{scope}"',
  'claim.name': 'Your name',
  'claim.preferred_username': 'Your username',
  'claim.updated_at': 'When your name or username last changed',
  'claim.email': 'Your email address',
  'claim.email_verified': 'Whether your email address is verified',
  'claim.other': 'The detail "{claim}"',


  'logout.title': 'Sign out',
  'logout.question': 'Do you want to sign out of {app}?',
  'logout.question_client': 'Do you want to sign out of {client} and {app}?',
  'logout.yes': 'Sign out',
  'logout.no': 'Stay signed in',
  'logout.client_only': 'Only sign out of {client}',
  'logout.done_title': 'You have signed out',
  'logout.done_body': 'You can close this window, or go back to the application.',
  'restart.title': 'Signing in again',
  'restart.body': 'The sign-in page you opened can no longer be used, so the application’s sign-in starts again.',
  'restart.continue': 'Continue',
  'logout.done_client': 'You have signed out of {client}.',

  'error.title': 'Something went wrong',
  'error.title_not_found': 'Page not found',
  'error.title_expired': 'Sign-in page expired',
  'error.title_refused': 'Request not accepted',
  'error.title_unavailable': 'Temporarily unavailable',
  'error.support_code': 'Support code: {code}',
  'error.support_hint': 'If this keeps happening, contact your administrator and give them the support code.',
  'error.bad_request': 'The request could not be understood. Please go back and try again.',
  'error.csrf': 'This form has expired or was sent from another site. Go back, reload the page and try again.',
  'error.not_found': 'This page does not exist.',
  'error.conflict': 'That name is already in use.',
  'error.too_large': 'The form you sent was too large.',
  'error.too_many': 'Too many requests. Wait a minute, then try again.',
  'error.https_required': 'This page only opens over a secure connection. Open it again with an address that starts with https://.',
  'error.interaction_expired': 'This sign-in page has expired or was already used.',
  'error.start_again': 'Go back to the application you came from and sign in again.',
  'error.home': 'Go to the home page',
  'error.database_unavailable': "{app} can't reach its database right now. Nothing was changed: try again in a moment.",
  'error.unavailable': 'The service is temporarily unavailable. Please try again in a moment.',
  'error.server': 'An unexpected error occurred. Please try again.',
  'error.oidc': 'The application sent a request we cannot accept.',
  'error.logout_out_of_date': 'This sign-out page is out of date: it was opened before a sign-out made since, perhaps in another tab. To be sure you are signed out, sign out again from the application.',
  'error.developer_detail': 'For the application’s developer:',
} as const;

export const en = { ...core, ...recoveryEn, ...captchaEn, ...passwordsEn, ...noticesEn, ...securityInfoEn, ...sessionsEn } as const;

export type MessageId = keyof typeof en;
export type Catalogue = Record<MessageId, string>;
