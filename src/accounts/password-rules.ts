// The rules a new password must meet, the same wherever one is chosen (account creation, the admin CLI, a reset):
// NIST SP 800-63B-4 §3.1.1.2 and OWASP ASVS 6.2. After NFKC, the length in code points is between the policy's
// minimum (15 by default: a password that is the only factor) and 1024; at least 64 are always allowed. No
// composition rules. Refused, each with its own reason, when the whole password is a common one (the zxcvbn-ts
// `passwords-common` list, including its l33t, reversed and capitalised forms), when it is built from the user's own
// identifiers (username, email address and its local part, display name), or from the service's name: the name the
// operator gives it (BRAND_NAME), which is what its users see, and "Latchkey".
//
// Reasons are message ids (passwords.en.ts), so a page can show why and what to do instead.
import { MAX_PASSWORD_CODE_POINTS, normalizePassword } from './passwords.ts';
import { ValidationError } from '../errors.ts';

export const PASSWORD_REASONS = ['password.too_short', 'password.too_long', 'password.identifier', 'password.service', 'password.common'] as const;
export type PasswordReason = (typeof PASSWORD_REASONS)[number];

export type PasswordCheck = { ok: true } | { ok: false; reason: PasswordReason };

export interface PasswordRuleOptions {
  /** The policy's minimum (`passwordMinLength`), in code points. */
  minLength: number;
  /** The user's own names: username, email, display name (empty ones are ignored). */
  identifiers: readonly string[];
  /** The service's names besides "Latchkey": the operator's brand name (config BRAND_NAME). */
  serviceNames?: readonly string[] | undefined;
}

/** Whatever the policy says, a password of this many code points is never too short (NIST: allow at least 64). */
export const LONGEST_MINIMUM = 64;

/** The software's own name, refused like the service's name (NIST: context-specific words) whatever the brand. */
const CONTEXT_WORDS = ['latchkey'];

/**
 * How many other letters a password may add to an identifier and still count as "built from" it: "ada" + "xyz"
 * or "lovelace" + "2024!!" is the identifier with decoration; five more letters make a different password.
 */
const MAX_EXTRA_LETTERS = 4;
/** Identifiers shorter than this are only refused when the password is nothing but them, repeated. */
const SHORT_IDENTIFIER = 4;

/**
 * The common-password list is large (49,233 entries; about 450 ms and 30 MB to load), so it is loaded on the
 * first check only, once per process. Only the whole password is compared (NIST: not substrings): an entry inside
 * a longer password is fine.
 */
interface CommonList {
  isCommon(password: string): boolean;
}

let commonList: Promise<CommonList> | undefined;

/**
 * zxcvbn's own whole-password match catches the list's l33t, reversed and capitalised variants ("P@ssw0rd",
 * "drowssap"), but it reports the cheapest split of a password, which for some entries ("passwordpassword",
 * "1234567890qwerty", "Pa$$wordStandard") is two words rather than the entry; a lookup of the password and its
 * one-character l33t readings catches those. The list's entries have at most 20 characters and a l33t spelling at
 * most triples that, so a longer password is never a whole match and the (blocking, length-dependent) analysis is
 * skipped.
 */
const LONGEST_COMMON_SPELLING = 64;
const LONGEST_ENTRY = 20;
/** At most this many readings are looked up (a password of digits only has many). */
const MAX_READINGS = 512;

/** zxcvbn's l33t table (data/l33tTable), one-character substitutions only, read backwards. */
const L33T: Record<string, string> = {
  '4': 'a', '@': 'a', '8': 'b', '(': 'c', '{': 'c', '[': 'c', '<': 'ckv', '6': 'dg', '3': 'e', '#': 'fh', '9': 'gq', '&': 'g',
  '1': 'il', '!': 'il', '|': 'il', '7': 'lt', '0': 'o', '$': 's', '5': 's', '+': 't', '>': 'v', '/': 'v', '%': 'x', '2': 'z',
};

/** The password as typed, then with l33t characters read as letters (each combination, up to MAX_READINGS). */
function l33tReadings(lower: string): string[] {
  let readings = [''];
  for (const char of lower) {
    const options = [char, ...(L33T[char] ?? '')];
    readings = readings.flatMap((head) => options.map((option) => head + option)).slice(0, MAX_READINGS);
  }
  return readings;
}

async function loadCommonList(): Promise<CommonList> {
  const [{ ZxcvbnFactory }, { dictionary }] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common')]);
  const entries = dictionary['passwords-common'];
  const exact = new Set(entries);
  const zxcvbn = new ZxcvbnFactory({ dictionary: { 'passwords-common': entries } });
  return {
    isCommon(password) {
      const lower = password.toLowerCase();
      const length = [...lower].length;
      if (length <= LONGEST_ENTRY && l33tReadings(lower).some((reading) => exact.has(reading) || exact.has([...reading].reverse().join('')))) return true;
      if (length > LONGEST_COMMON_SPELLING) return false;
      return zxcvbn
        .check(password)
        .sequence.some((match) => match.pattern === 'dictionary' && match.dictionaryName === 'passwords-common' && match.i === 0 && match.j === password.length - 1);
    },
  };
}

function common(): Promise<CommonList> {
  commonList ??= loadCommonList().catch((error: unknown) => {
    commonList = undefined; // try again next time rather than remember a failed import
    throw error;
  });
  return commonList;
}

/** Lowercase letters only: spaces, digits, punctuation and symbols are what people decorate a name with. */
function letters(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{M}]/gu, '');
}

/** The identifiers as a password might use them: whole, the email's local part, and each longer word. */
function identifierForms(identifiers: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const identifier of identifiers) {
    const text = identifier.trim();
    if (!text) continue;
    forms.add(letters(text));
    const at = text.lastIndexOf('@');
    const local = at > 0 ? text.slice(0, at) : text;
    forms.add(letters(local));
    forms.add(letters(local.split('+')[0]!));
    for (const word of local.split(/[^\p{L}\p{M}]+/u)) if ([...word].length >= SHORT_IDENTIFIER) forms.add(letters(word));
  }
  forms.delete('');
  return [...forms];
}

/** True when `password` is `identifier` repeated, or (for longer identifiers) with a few other letters added. */
function isBuiltFrom(password: string, identifier: string): boolean {
  if (!password.includes(identifier)) return false;
  const rest = [...password.split(identifier).join('')].length;
  return rest === 0 || ([...identifier].length >= SHORT_IDENTIFIER && rest <= MAX_EXTRA_LETTERS);
}

function isFromIdentifiers(password: string, identifiers: readonly string[]): boolean {
  const own = letters(password);
  if (!own) return false;
  const reversed = [...own].reverse().join('');
  return identifierForms(identifiers).some((identifier) => isBuiltFrom(own, identifier) || isBuiltFrom(reversed, identifier));
}

/** Whether `password` may be chosen as a new password, and if not, why (a message id). */
export async function checkNewPassword(password: string, { minLength, identifiers, serviceNames = [] }: PasswordRuleOptions): Promise<PasswordCheck> {
  const normalized = normalizePassword(password);
  const length = [...normalized].length;
  if (length < Math.min(minLength, LONGEST_MINIMUM)) return { ok: false, reason: 'password.too_short' };
  if (length > MAX_PASSWORD_CODE_POINTS) return { ok: false, reason: 'password.too_long' };
  if (isFromIdentifiers(normalized, identifiers)) return { ok: false, reason: 'password.identifier' };
  if (isFromIdentifiers(normalized, [...serviceNames, ...CONTEXT_WORDS])) return { ok: false, reason: 'password.service' };
  if ((await common()).isCommon(normalized)) return { ok: false, reason: 'password.common' };
  return { ok: true };
}

const DETAIL: Record<PasswordReason, (minLength: number) => string> = {
  'password.too_short': (min) => `password must have at least ${min} characters`,
  'password.too_long': () => `password must have at most ${MAX_PASSWORD_CODE_POINTS} characters`,
  'password.identifier': () => 'password is built from the username, email address or name',
  'password.service': () => "password is built from the service's name",
  'password.common': () => 'password is on the list of common passwords',
};

/**
 * A new password that breaks a rule: "show the form again" with `reason` (a message id; `values` fill it in).
 * A ValidationError (400, code `invalid_password`), so callers that only know that family still handle it.
 */
export class PasswordRejectedError extends ValidationError {
  override readonly messageId: PasswordReason;
  readonly reason: PasswordReason;
  readonly values: { min: number; max: number };

  constructor(reason: PasswordReason, minLength: number) {
    super('invalid_password', DETAIL[reason](minLength));
    this.messageId = reason;
    this.reason = reason;
    this.values = { min: minLength, max: MAX_PASSWORD_CODE_POINTS };
  }
}

/** Throws PasswordRejectedError unless `password` meets the rules. */
export async function assertNewPassword(password: string, options: PasswordRuleOptions): Promise<void> {
  const check = await checkNewPassword(password, options);
  if (!check.ok) throw new PasswordRejectedError(check.reason, Math.min(options.minLength, LONGEST_MINIMUM));
}
