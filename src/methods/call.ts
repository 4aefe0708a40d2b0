// "Call my mobile phone" and "Call my office phone": after the complete number is typed and matched (as for a text),
// the number is called; the page shows a short number and the person presses it on the phone's keypad. The call says
// who calls and why, and that whoever did not ask should hang up: a person called out of the blue cannot confirm by
// reflex, since the number to press is only on the screen of whoever asked.
import type { User } from '../accounts/user-model.ts';
import type { VerificationMethod } from './method.ts';
import { decoyPhoneHint } from './mask.ts';
import { phoneReach } from './sms.ts';

/**
 * Keys the callee presses: two, the number matching of authenticator apps. Whoever is called without having asked
 * does not see the number; a guess confirms 1 time in 100 per try.
 */
export const CALL_NUMBER_DIGITS = 2;
/** Tries per call: a slip of the finger is asked again once; then the call ends (and "Call again" is on the page). */
export const CALL_ANSWER_TRIES = 2;

/**
 * The office phone, unless it is the mobile one: one phone is one method, whichever field names it (else a text to
 * it and a call to it would pass for two methods).
 */
const officePhoneOf = (user: User) => (user.securityInfo?.officePhone !== user.securityInfo?.mobilePhone ? user.securityInfo?.officePhone : undefined);

function callMethod(id: 'call_mobile' | 'call_office', registration: 'mobilePhone' | 'officePhone', decoyHint: (seed: Buffer) => string): VerificationMethod {
  const numberOf = registration === 'officePhone' ? officePhoneOf : (user: User) => user.securityInfo?.mobilePhone;
  return {
    id,
    kind: 'confirmation',
    strong: true,
    ...phoneReach(numberOf, decoyHint),
    delivery: {
      destination: (user) => ({ channel: 'voice', to: numberOf(user)! }),
      decoyDestination: '+15555550101', // a fictional number (the 555-01xx range)
      compose: (code, to, { t, locale, service, answerUrl }) => ({
        channel: 'voice',
        to,
        text: t('notice.call_prompt', { service }),
        language: locale,
        answerUrl,
        answerDigits: code.length,
      }),
    },
  };
}

export const callMobileMethod = callMethod('call_mobile', 'mobilePhone', decoyPhoneHint);
// An office number of its own in a decoy's hints: its last digits drawn from other bytes of the hash than the mobile's.
export const callOfficeMethod = callMethod('call_office', 'officePhone', (seed) => decoyPhoneHint(seed.subarray(2)));
