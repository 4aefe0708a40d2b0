// Masked hints, as the recovery pages show them: enough for the owner to recognise, too little for anyone else.
//   j*****@e*****.com      *****23
//
// A decoy (an identifier without an account) shows hints made up from a keyed hash, so every hint a real address
// can give must be one a decoy can give too: a hint no decoy could show would prove, from one page, that the
// account exists. So a real hint shows only what the decoy's picks cover: a first character among a-z and 0-9
// (anything else shows as *), and a domain ending from a list of common ones (any other ending is not shown).

/** Endings shown as they are; a real address with any other ending shows none, and so do some decoys. */
const SHOWN_ENDINGS = new Set([
  'com', 'net', 'org', 'edu', 'gov', 'info', 'biz', 'io', 'me', 'co', 'us', 'ca', 'uk', 'ie', 'fr', 'de', 'be', 'nl', 'lu',
  'ch', 'at', 'it', 'es', 'pt', 'se', 'no', 'dk', 'fi', 'pl', 'cz', 'eu', 'au', 'nz', 'jp', 'br', 'in',
]);

const shownCharacter = (part: string) => {
  const first = part.slice(0, 1).toLowerCase();
  return /^[a-z0-9]$/.test(first) ? first : '*';
};

export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  const local = at >= 0 ? address.slice(0, at) : address;
  const domain = at >= 0 ? address.slice(at + 1) : '';
  const ending = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
  const shownEnding = domain.includes('.') && SHOWN_ENDINGS.has(ending) ? `.${ending}` : '';
  return `${shownCharacter(local)}*****@${shownCharacter(domain)}*****${shownEnding}`;
}

export function maskPhone(e164: string): string {
  return `*****${e164.slice(-2)}`;
}

// Decoys pick by bytes of a keyed hash (stable per identifier), from pools weighted like real addresses: common
// first letters and .com more often, every shown character and ending at least once, and "*" and no ending rarely.
const FIRST_CHARACTERS = 'aaaaabbbbccccdddddeeeefffgggghhhiiijjjjjkkkllllmmmmmmnnnoopppqrrrrsssssstttttuvvwwxyz0123456789*';
const ENDINGS = [
  ...Array<string>(24).fill('.com'), '.net', '.net', '.net', '.org', '.org', '.org', '.edu', '.edu', '',
  ...[...SHOWN_ENDINGS].filter((ending) => !['com', 'net', 'org', 'edu'].includes(ending)).map((ending) => `.${ending}`),
];

export function decoyEmailHint(seed: Buffer): string {
  const pick = (i: number) => FIRST_CHARACTERS[seed[i]! % FIRST_CHARACTERS.length]!;
  return `${pick(0)}*****@${pick(1)}*****${ENDINGS[seed[2]! % ENDINGS.length]}`;
}

export function decoyPhoneHint(seed: Buffer): string {
  return `*****${String(seed[3]! % 10)}${String(seed[4]! % 10)}`;
}
