// "Text my mobile phone": the user first types their complete number, which must equal the registered one once
// both are normalised (libphonenumber-js, E.164); only then is a code sent. The message ends with the
// origin-bound line (`@host #code`, no trailing newline) so phones can offer to fill the code in.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { VerificationMethod } from './method.ts';
import { decoyPhoneHint, maskPhone } from './mask.ts';

/** E.164 form of `input`, read in the registered number's country when it has no +prefix; undefined if invalid. */
export function normalizePhone(input: string, defaultCountry?: CountryCode): string | undefined {
  if (input.length > 40) return undefined;
  const parsed = parsePhoneNumberFromString(input, defaultCountry);
  return parsed?.isValid() ? parsed.number : undefined;
}

export function callingCode(e164: string): string | undefined {
  return parsePhoneNumberFromString(e164)?.countryCallingCode;
}

export const smsMethod: VerificationMethod = {
  id: 'sms',
  kind: 'code',
  strong: true,
  isRegistered: (user) => Boolean(user.securityInfo?.mobilePhone),
  hint: (user) => maskPhone(user.securityInfo.mobilePhone!),
  decoyHint: decoyPhoneHint,
  matchDestination(user, typed, policy) {
    const input = typed.trim();
    const registered = user?.securityInfo.mobilePhone;
    // Read in the registered number's country too, so the owner may type it as they dial it at home.
    if (registered && normalizePhone(input, parsePhoneNumberFromString(registered)?.country) === registered) {
      const code = callingCode(registered);
      return policy.allowedCountryCodes.length && (!code || !policy.allowedCountryCodes.includes(code)) ? 'country_refused' : 'match';
    }
    // Any other input is judged without the account (and so alike for a decoy): a complete international number
    // is not theirs; anything else is incomplete. Judged in the account's country, a national number would say
    // which country the registered one is in.
    return normalizePhone(input) ? 'mismatch' : 'invalid';
  },
  delivery: {
    destination: (user) => ({ channel: 'sms', to: user.securityInfo.mobilePhone! }),
    decoyDestination: '+15555550100', // a fictional number (the 555-01xx range)
    compose(code, to, { t, host, minutes }) {
      return { channel: 'sms', to, text: `${t('notice.code_sms_body', { code, minutes })}\n\n@${host} #${code}` };
    },
  },
};
