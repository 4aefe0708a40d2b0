// "Text my mobile phone": the user first types their complete number, which must equal the registered one once
// both are normalised (libphonenumber-js, E.164); only then is a code sent. The message ends with the
// origin-bound line (`@host #code`, no trailing newline) so phones can offer to fill the code in.
import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import type { RecoveryPolicy } from '../policy/policy.ts';
import type { User } from '../accounts/user-model.ts';
import type { DestinationCheck, VerificationMethod } from './method.ts';
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

/**
 * The country or territory a number belongs to (ISO 3166 code, e.g. "JM"), finer than its calling code (+1 is also
 * twenty-odd Caribbean and Pacific territories, pumping's favourites); its calling code ("+1") when the metadata
 * names no one country; undefined for what is no number.
 */
export function phoneRegion(e164: string): string | undefined {
  const parsed = parsePhoneNumberFromString(e164);
  return parsed && (parsed.country ?? `+${parsed.countryCallingCode}`);
}

/**
 * Kinds of numbers that cannot be a person's mobile phone, and that cost money to text or call (SMS pumping's
 * favourites: premium-rate and shared-cost numbers share their revenue; personal numbers forward anywhere), as
 * libphonenumber's metadata classes them.
 */
const NOT_A_MOBILE = new Set(['PREMIUM_RATE', 'SHARED_COST', 'TOLL_FREE', 'UAN', 'PERSONAL_NUMBER', 'PAGER', 'VOICEMAIL']);

/** Whether this (E.164) number may be registered as a mobile phone by its owner: not one of NOT_A_MOBILE's kinds. */
export function mayBeMobile(e164: string): boolean {
  const type = parsePhoneNumberFromString(e164)?.getType();
  return !type || !NOT_A_MOBILE.has(type);
}

/** Whether text messages may go to this (E.164) number's country: every country when the policy lists none. */
export function countryAllowed(e164: string, policy: RecoveryPolicy): boolean {
  if (policy.allowedCountryCodes.length === 0) return true;
  const code = callingCode(e164);
  return Boolean(code && policy.allowedCountryCodes.includes(code));
}

/** What the typed number says without any account (see VerificationMethod.judgeTyped). */
function judgeTyped(typed: string, policy: RecoveryPolicy): 'invalid' | 'country_refused' | undefined {
  // Fewer digits than any phone number has (the shortest valid numbers have 4 after a country code of 1).
  if ((typed.match(/\d/g) ?? []).length < 5) return 'invalid';
  // From the typed number alone: answered after a match, "not to this country" would confirm the number. (A
  // registered number in a refused country is not offered at all: `reachable`.)
  const international = normalizePhone(typed.trim());
  return international && !countryAllowed(international, policy) ? 'country_refused' : undefined;
}

/**
 * What every method that reaches a phone shares: the number it uses (`numberOf`), its masked hint, and the check of
 * the complete number the person types before anything is sent or a call placed.
 */
export function phoneReach(numberOf: (user: User) => string | undefined, decoyHint: (seed: Buffer) => string) {
  return {
    isRegistered: (user: User) => Boolean(numberOf(user)),
    authenticator: (user: User) => numberOf(user) ?? '',
    hint: (user: User) => maskPhone(numberOf(user)!),
    decoyHint,
    reachable: (user: User, policy: RecoveryPolicy) => countryAllowed(numberOf(user)!, policy),
    judgeTyped,
    matchDestination(user: User | undefined, typed: string, policy: RecoveryPolicy): DestinationCheck {
      const input = typed.trim();
      const international = normalizePhone(input);
      const early = judgeTyped(input, policy);
      if (early) return early;
      const registered = user && numberOf(user);
      // Read in the registered number's country too, so the owner may type it as they dial it at home.
      if (registered && normalizePhone(input, parsePhoneNumberFromString(registered)?.country) === registered) return 'match';
      // Any other input is judged without the account (and so alike for a decoy): a complete international number
      // is not theirs; anything else is incomplete. Judged in the account's country, a national number would say
      // which country the registered one is in.
      return international ? 'mismatch' : 'invalid';
    },
  };
}

export const smsMethod: VerificationMethod = {
  id: 'sms',
  kind: 'code',
  strong: true,
  ...phoneReach((user) => user.securityInfo?.mobilePhone, decoyPhoneHint),
  delivery: {
    destination: (user) => ({ channel: 'sms', to: user.securityInfo.mobilePhone! }),
    decoyDestination: '+15555550100', // a fictional number (the 555-01xx range)
    compose(code, to, { t, host, expiresIn, service }) {
      // Who sends it first (a text names no sender the person can trust), and what to do with one not asked for.
      return { channel: 'sms', to, text: `${t('notice.code_sms_body', { service, code, expiresIn })}\n\n@${host} #${code}` };
    },
  },
};
