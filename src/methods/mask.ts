// Masked hints, as the recovery pages show them: enough for the owner to recognise, too little for anyone else.
//   j*****@e*****.com      *****23

export function maskEmail(address: string): string {
  const [local = '', domain = ''] = address.split('@');
  const dot = domain.lastIndexOf('.');
  const host = dot > 0 ? domain.slice(0, dot) : domain;
  const tld = dot > 0 ? domain.slice(dot) : '';
  return `${local.slice(0, 1)}*****@${host.slice(0, 1)}*****${tld}`;
}

export function maskPhone(e164: string): string {
  return `*****${e164.slice(-2)}`;
}

/** Letters and digits for decoy hints, picked by bytes of a keyed hash: stable per identifier, plausible. */
const LETTERS = 'abcdefghijklmnoprstvw';
const TLDS = ['.com', '.net', '.org', '.com', '.com'];

export function decoyEmailHint(seed: Buffer): string {
  const pick = (i: number) => LETTERS[seed[i]! % LETTERS.length]!;
  return `${pick(0)}*****@${pick(1)}*****${TLDS[seed[2]! % TLDS.length]}`;
}

export function decoyPhoneHint(seed: Buffer): string {
  return `*****${String(seed[3]! % 10)}${String(seed[4]! % 10)}`;
}
