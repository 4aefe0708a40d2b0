// Masked hints tell nothing of whether an account exists: every hint a real address can give is one a decoy (an
// identifier without an account) can give too. A hint no decoy could show would prove the account from one page.
import { randomBytes, randomInt } from 'node:crypto';
import { expect, it } from '@jest/globals';
import { decoyEmailHint, decoyPhoneHint, maskEmail, maskPhone } from '../../src/methods/mask.ts';

const HINT = /^(.)\*\*\*\*\*@(.)\*\*\*\*\*(.*)$/;

/** What a decoy can show in each place of an email hint: every value each seed byte can pick. */
function decoyEmailParts() {
  const parts = { local: new Set<string>(), domain: new Set<string>(), ending: new Set<string>() };
  for (let byte = 0; byte < 256; byte += 1) {
    const [, local, domain, ending] = HINT.exec(decoyEmailHint(Buffer.from([byte, byte, byte, 0, 0, 0, 0, 0])))!;
    parts.local.add(local!);
    parts.domain.add(domain!);
    parts.ending.add(ending!);
  }
  return parts;
}

function expectDecoyCouldShow(hint: string, parts = decoyEmailParts()) {
  const match = HINT.exec(hint);
  expect(match).not.toBeNull();
  const [, local, domain, ending] = match!;
  expect({ hint, local: parts.local.has(local!), domain: parts.domain.has(domain!), ending: parts.ending.has(ending!) }).toEqual({
    hint,
    local: true,
    domain: true,
    ending: true,
  });
}

it('gives a real address a hint that a decoy could give, whatever its characters and ending', () => {
  const parts = decoyEmailParts();
  const addresses = [
    'jo@yahoo.com', 'qi@qq.com', 'zoe@zoho.eu', 'xavier@example.fr', '9lives@mail.de', 'bob@bbc.co.uk', 'UPPER@EXAMPLE.COM',
    'ünal@örnek.com.tr', '_ops@example.museum', 'root@localhost', 'a.b+tag@sub.domain.za', '"odd@local"@example.org',
  ];
  for (const address of addresses) expectDecoyCouldShow(maskEmail(address), parts);
  // And random ones, from every printable ASCII character.
  const character = () => String.fromCharCode(randomInt(33, 127));
  for (let i = 0; i < 2000; i += 1) {
    const label = () => Array.from({ length: randomInt(1, 8) }, character).join('');
    expectDecoyCouldShow(maskEmail(`${label()}@${label()}.${label()}`), parts);
  }
});

it('still shows the owner the first characters and a common ending', () => {
  expect(maskEmail('jo@yahoo.com')).toBe('j*****@y*****.com');
  expect(maskEmail('Bob@BBC.co.uk')).toBe('b*****@b*****.uk');
  expect(maskEmail('_ops@example.museum')).toBe('******@e*****');
});

it('gives a real phone number a hint that a decoy could give', () => {
  const decoyHints = new Set(Array.from({ length: 2000 }, () => decoyPhoneHint(randomBytes(8))));
  for (const phone of ['+14155552671', '+33612345600', '+447911123499']) expect(decoyHints.has(maskPhone(phone))).toBe(true);
});
