// "Approve a notification on my authenticator app": a method of kind 'confirmation', as a call is. Its delivery
// leaves a notification for the account's enrolled app (delivery/app-push.ts); the page shows a short number, and
// the person types it into the app, which signs its answer with the device's key (methods/app-devices.ts). Number
// matching: whoever did not ask sees a notification but not the number, so approving by reflex confirms nothing,
// and a wrong number counts as a wrong proof.
import type { User } from '../accounts/user-model.ts';
import type { VerificationMethod } from './method.ts';

export const hasAppDevice = (user: User): boolean => Boolean(user.securityInfo?.appDevice?.id);

export const appNotificationMethod: VerificationMethod = {
  id: 'app_notification',
  kind: 'confirmation',
  strong: true,
  isRegistered: hasAppDevice,
  authenticator: (user) => user.securityInfo?.appDevice?.id ?? '',
  // The device's name is the person's own words, which no decoy could imitate: no hint, for anyone.
  hint: () => '',
  decoyHint: () => '',
  delivery: {
    destination: (user) => ({ channel: 'push', to: user.securityInfo!.appDevice!.id }),
    decoyDestination: 'decoy-device',
    // The number is never in the notification: only the screen of whoever asked shows it.
    compose: (code, to, { t, locale, service, answerUrl }) => ({ channel: 'push', to, text: t('notice.push_prompt', { service }), language: locale, answerUrl, answerDigits: code.length }),
  },
};
