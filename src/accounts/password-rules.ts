// The rules a new password must meet, the same wherever one is chosen (account creation, the admin CLI, a reset):
// NIST SP 800-63B-4 §3.1.1.2 and OWASP ASVS 6.2. After NFKC, the length in code points is between the policy's
// minimum (15 by default: a password that is the only factor) and 1024; at least 64 are always allowed. No
// composition rules. Refused, each with its own reason, when the whole password is a common one (the zxcvbn-ts
// `passwords-common` list, including its l33t, reversed and capitalised forms), when it is built from the user's own
// identifiers (username, email address and its local part, display name), or from the service's name: the name the
// operator gives it (BRAND_NAME), which is what its users see, and "Latchkey"; and when it is predictable (NIST:
// "repetitive or sequential characters", and other expected passwords): at the default minimum of 15 the common list
// has almost nothing left to refuse, while "aaaaaaaaaaaaaaa", "123456789012345", "qwertyuiopasdfgh",
// "iloveyouiloveyou" or "Password123456789" fall to an attacker's first guesses all the same. zxcvbn's estimate of
// the guesses such patterns and common words need decides: fewer than 10^10 (its top score's threshold) is refused.
//
// Reasons are message ids (passwords.en.ts), so a page can show why and what to do instead.
import { MAX_PASSWORD_CODE_POINTS, normalizePassword } from './passwords.ts';
import { ValidationError } from '../errors.ts';

export const PASSWORD_REASONS = ['password.unprintable', 'password.too_short', 'password.too_long', 'password.identifier', 'password.service', 'password.common', 'password.predictable', 'password.reused', 'password.unchanged'] as const;
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
 * The common-password list and the English words are large (about 450 ms and 30 MB to load), so they are loaded on
 * the first check only, once per process. Only the whole password is compared with the list (NIST: not substrings):
 * an entry inside a longer password is fine, unless the rest is as predictable (the guesses estimate).
 */
interface Analysis {
  isCommon(password: string): boolean;
  isPredictable(password: string): boolean;
}

let analysis: Promise<Analysis> | undefined;

/** Fewer estimated guesses than this (zxcvbn's log10) is predictable: its highest score starts here. */
const FEWEST_GUESSES_LOG10 = 10;
/**
 * zxcvbn's analysis blocks the server and grows with the length: with its default of 100 l33t substitutions a random
 * 64-character password took 400 ms and a l33t-heavy one a second (an outside review measured it). With at most
 * L33T_SUBSTITUTIONS, 32 code points take about 30 ms; only that many are analysed. A longer password is predictable
 * only when it is a repetition or uses fewer than FEWEST_DISTINCT characters, both checked cheaply.
 */
const LONGEST_ANALYSED = 32;
const L33T_SUBSTITUTIONS = 20;
const FEWEST_DISTINCT = 5;
/** What may follow a repetition and still leave it one ("abcabcabc" + "1!"). */
const REPETITION_TAIL = 4;

/**
 * zxcvbn's own whole-password match catches the list's l33t, reversed and capitalised variants ("P@ssw0rd",
 * "drowssap"), but it reports the cheapest split of a password, which for some entries ("passwordpassword",
 * "1234567890qwerty", "Pa$$wordStandard") is two words rather than the entry; a lookup of the password and its
 * one-character l33t readings catches those. The list's entries have at most 20 characters; the (blocking,
 * length-dependent) analysis looks at passwords of up to LONGEST_ANALYSED, which leaves out only l33t spellings of
 * the longest entries with several characters spelled in two or three ("|\\/|" for "m").
 */
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

/** The password is one shorter part over and over, perhaps with a few characters after ("abcabcabc1"). */
function isRepetition(chars: readonly string[]): boolean {
  for (let unit = 1; unit * 2 <= chars.length; unit += 1) {
    // How far the password goes on repeating its first `unit` characters.
    let end = unit;
    while (end < chars.length && chars[end] === chars[end - unit]) end += 1;
    if (end >= unit * 2 && chars.length - end <= REPETITION_TAIL) return true;
  }
  return false;
}

async function loadAnalysis(): Promise<Analysis> {
  const [{ ZxcvbnFactory }, common, english] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common'), import('@zxcvbn-ts/language-en')]);
  const entries = common.dictionary['passwords-common'];
  const exact = new Set(entries);
  const zxcvbn = new ZxcvbnFactory({ dictionary: { ...common.dictionary, ...english.dictionary }, graphs: common.adjacencyGraphs, l33tMaxSubstitutions: L33T_SUBSTITUTIONS });
  // One analysis serves both questions about a password (checkNewPassword asks them one after the other).
  let last: { password: string; result: ReturnType<typeof zxcvbn.check> } | undefined;
  const analyse = (password: string) => {
    if (last?.password !== password) last = { password, result: zxcvbn.check(password) };
    return last.result;
  };
  return {
    isCommon(password) {
      const lower = password.toLowerCase();
      const length = [...lower].length;
      if (length <= LONGEST_ENTRY && l33tReadings(lower).some((reading) => exact.has(reading) || exact.has([...reading].reverse().join('')))) return true;
      if (length > LONGEST_ANALYSED) return false;
      return analyse(password).sequence.some(
        (match) => match.pattern === 'dictionary' && match.dictionaryName === 'passwords-common' && match.i === 0 && match.j === password.length - 1,
      );
    },
    isPredictable(password) {
      const chars = [...password.toLowerCase()];
      if (new Set(chars).size < FEWEST_DISTINCT || isRepetition(chars)) return true;
      if (chars.length > LONGEST_ANALYSED) return false;
      return analyse(password).guessesLog10 < FEWEST_GUESSES_LOG10;
    },
  };
}

function passwordAnalysis(): Promise<Analysis> {
  analysis ??= loadAnalysis().catch((error: unknown) => {
    analysis = undefined; // try again next time rather than remember a failed import
    throw error;
  });
  return analysis;
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

/**
 * What people put between words: taken out before the names are (`ada lovelace` is `adalovelace`), unlike the digits
 * and symbols a l33t spelling uses (`p@ssw0rd`).
 */
const SEPARATORS = /[\s\-_.,;:'"`/\\|+=~^()[\]{}<>]/gu;

/**
 * What the person added to their own names and the service's: the password with every longer form of the names, and
 * each reversed, taken out (longest first), as letters alone (`rest`) and as spelled (`spelled`, digits and symbols
 * kept); `found` when any name was there. `latchkey-demo-p@ssword` for the user demo leaves `pssword` and `p@ssword`.
 */
function beyondNames(password: string, names: readonly string[]): { rest: string; spelled: string; found: boolean } {
  const forms = identifierForms(names)
    .filter((form) => [...form].length >= SHORT_IDENTIFIER)
    .flatMap((form) => [form, [...form].reverse().join('')])
    .sort((a, b) => b.length - a.length);
  const strip = (text: string) => forms.reduce((left, form) => left.split(form).join(''), text);
  const own = letters(password);
  const rest = strip(own);
  return { rest, spelled: strip(password.normalize('NFKC').toLowerCase().replace(SEPARATORS, '')), found: rest !== own };
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
  // A line break (Unicode's own separators too), a tab or another control character: no sign-in form takes one (a
  // browser's password field drops line breaks), so such a password, piped to the admin CLI as two lines say, could
  // never be typed.
  if (/[\p{Cc}\u2028\u2029]/u.test(normalized)) return { ok: false, reason: 'password.unprintable' };
  if (length < Math.min(minLength, LONGEST_MINIMUM)) return { ok: false, reason: 'password.too_short' };
  if (length > MAX_PASSWORD_CODE_POINTS) return { ok: false, reason: 'password.too_long' };
  if (isFromIdentifiers(normalized, identifiers)) return { ok: false, reason: 'password.identifier' };
  if (isFromIdentifiers(normalized, [...serviceNames, ...CONTEXT_WORDS])) return { ok: false, reason: 'password.service' };
  const passwords = await passwordAnalysis();
  // The user's names and the service's together, with a few letters or one common password besides.
  const names = [...identifiers, ...serviceNames, ...CONTEXT_WORDS];
  const beyond = beyondNames(normalized, names);
  if (beyond.found && ([...beyond.rest].length <= MAX_EXTRA_LETTERS || passwords.isCommon(beyond.rest) || passwords.isCommon(beyond.spelled))) {
    // The user's own names, if they are in it; else only the service's were.
    return { ok: false, reason: beyondNames(normalized, identifiers).found ? 'password.identifier' : 'password.service' };
  }
  if (passwords.isCommon(normalized)) return { ok: false, reason: 'password.common' };
  if (passwords.isPredictable(normalized)) return { ok: false, reason: 'password.predictable' };
  return { ok: true };
}

const DETAIL: Record<PasswordReason, (minLength: number) => string> = {
  'password.unprintable': () => 'password contains a line break, a tab or another control character, which a sign-in form cannot take (give it on one line)',
  'password.too_short': (min) => `password must have at least ${min} characters`,
  'password.too_long': () => `password must have at most ${MAX_PASSWORD_CODE_POINTS} characters`,
  'password.identifier': () => 'password is built from the username, email address or name',
  'password.service': () => "password is built from the service's name",
  'password.common': () => 'password is on the list of common passwords',
  'password.predictable': () => 'password is predictable (repeated or sequential characters, keyboard patterns, common words)',
  'password.reused': () => 'the new password is the temporary one',
  'password.unchanged': () => 'the new password is the one the account has',
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
