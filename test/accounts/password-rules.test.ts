// The rules for a new password (accounts/password-rules.ts), each at its boundary: length in code points after
// NFKC from the policy's minimum, 64 always allowed, no composition rules, whole common passwords refused,
// predictable ones (repeated or sequential characters, keyboard runs, a few common words and digits) refused, and
// passwords built from the user's own names refused, each with its own reason (a message id with a text in every
// catalogue).
import { describe, expect, it } from '@jest/globals';
import { checkNewPassword, PASSWORD_REASONS, type PasswordRuleOptions } from '../../src/accounts/password-rules.ts';
import { DEFAULT_POLICY } from '../../src/policy/policy.ts';
import { en } from '../../src/http/messages/en.ts';
import { fr } from '../../src/http/messages/fr.ts';

const MIN = 15; // NIST SP 800-63B-4 for a password that is the only factor; written out so a change fails here
const EMOJI = '😀'; // one code point, two UTF-16 units
/** Fifteen different emoji, each one code point and two UTF-16 units. */
const EMOJIS = [...'😀😃😄😁😆😅🤣😂🙂🙃😉😊😇🥰😍'];
const ada: PasswordRuleOptions = { minLength: MIN, identifiers: ['adal', 'ada.lovelace+work@example.test', 'Ada Lovelace'] };

const check = (password: string, options: PasswordRuleOptions = ada) => checkNewPassword(password, options);

describe('length', () => {
  it('has the policy default of 15', () => {
    expect(DEFAULT_POLICY.passwordMinLength).toBe(MIN);
  });

  it(`refuses ${MIN - 1} code points and accepts ${MIN}, counting an emoji as one`, async () => {
    const fourteen = EMOJIS.slice(0, MIN - 1).join('');
    expect(fourteen.length).toBeGreaterThan(MIN); // long enough if UTF-16 units were counted
    expect(await check(fourteen)).toEqual({ ok: false, reason: 'password.too_short' });
    expect(await check(EMOJIS.join(''))).toEqual({ ok: true });
    expect(await check('tiger lamp sofa')).toEqual({ ok: true }); // 15
    expect(await check('tiger lamp sof')).toEqual({ ok: false, reason: 'password.too_short' });
  });

  it('counts after NFKC: a decomposed é is one character, a ligature is two', async () => {
    const decomposed = 'cafe\u0301 ' + 'x'.repeat(MIN - 6); // NFKC: "café " + 9 = 14
    expect([...decomposed].length).toBe(MIN);
    expect(await check(decomposed)).toEqual({ ok: false, reason: 'password.too_short' });
    const ligature = 'o\ufb01ce lamp stork'; // NFKC: "office lamp stork", 16 (15 before)
    expect([...ligature]).toHaveLength(15);
    expect(await check(ligature, { ...ada, minLength: 16 })).toEqual({ ok: true });
    expect(await check(ligature, { ...ada, minLength: 17 })).toEqual({ ok: false, reason: 'password.too_short' });
  });

  it('takes the minimum from the policy, and always allows 64', async () => {
    expect(await check('a longer sentence of words', { ...ada, minLength: 27 })).toEqual({ ok: false, reason: 'password.too_short' });
    expect(await check('a longer sentence of words!', { ...ada, minLength: 27 })).toEqual({ ok: true });
    const sixtyFour = 'quiet rivers fold paper cranes while copper lanterns hum at dusk';
    expect([...sixtyFour]).toHaveLength(64);
    expect(await check(sixtyFour)).toEqual({ ok: true });
    expect(await check(sixtyFour, { ...ada, minLength: 200 })).toEqual({ ok: true });
  });

  it('refuses more than 1024 code points', async () => {
    const longest = Array.from({ length: 1024 }, (_, i) => String.fromCodePoint(0x4e00 + ((i * 7919) % 20000))).join('');
    expect(await check(longest)).toEqual({ ok: true });
    expect(await check(`${longest}z`)).toEqual({ ok: false, reason: 'password.too_long' });
  });
});

describe('no composition rules', () => {
  it('accepts a long all-lowercase passphrase with spaces', async () => {
    expect(await check('purple elephants dance quietly')).toEqual({ ok: true });
  });

  it('accepts symbols, quotes and emoji as typed', async () => {
    expect(await check(`<"quoted"> & \\ ${EMOJI} tea`)).toEqual({ ok: true });
  });
});

describe('common passwords', () => {
  it.each(['passwordpassword', 'PasswordPassword', '1234567890qwerty', 'qwertyuiop12345', 'Pa$$wordStandard', 'drowssapdrowssap'])('refuses %j', async (password) => {
    expect(await check(password)).toEqual({ ok: false, reason: 'password.common' });
  });

  it('refuses short ones too when the policy allows short passwords', async () => {
    for (const password of ['password', 'P@ssw0rd', 'Password1', 'iloveyou']) {
      expect(await check(password, { ...ada, minLength: 8 })).toEqual({ ok: false, reason: 'password.common' });
    }
  });

  it('compares the whole password only: a common one inside a longer password is fine', async () => {
    expect(await check('passwordpassword and more words')).toEqual({ ok: true });
    expect(await check('my iloveyou is for Grace')).toEqual({ ok: true });
  });
});

describe('predictable passwords', () => {
  it.each([
    'aaaaaaaaaaaaaaa',
    '111111111111111',
    '123456789012345',
    'abcdefghijklmnop',
    'qwertyuiopasdfgh',
    'asdfghjklasdfghjkl',
    'iloveyouiloveyou',
    'passwordpassword1',
    'Password123456789',
    'P@ssw0rd12345678',
    'Password1234567!',
    'Summer2024Summer2024',
    'letmeinletmeinletmein',
  ])('refuses %j', async (password) => {
    expect(await check(password)).toEqual({ ok: false, reason: 'password.predictable' });
  });

  it.each(['tiger lamp sofa\ntiger lamp sofa', 'tiger\tlamp sofa desk', 'tiger lamp sofa desk\r', 'tiger lamp sofa\u0000desk', 'tiger lamp sofa\u0085desk', 'tiger lamp\u2028sofa desk'])(
    'refuses %j: a line break, tab or other control character cannot be typed at sign-in',
    async (password) => {
      expect(await check(password)).toEqual({ ok: false, reason: 'password.unprintable' });
    },
  );

  it('refuses a longer one that repeats a part, or uses a few characters only, beyond what is analysed', async () => {
    expect(await check('x7$'.repeat(40))).toEqual({ ok: false, reason: 'password.predictable' });
    expect(await check(`${'tram fog '.repeat(20)}!!`)).toEqual({ ok: false, reason: 'password.predictable' });
    expect(await check('ab ba'.repeat(30))).toEqual({ ok: false, reason: 'password.predictable' });
    expect(await check('ruby kettles hum while seven ochre foxes nap beside a quiet mill pond')).toEqual({ ok: true });
  });

  it('accepts passphrases of unrelated words, and random characters', async () => {
    for (const password of ['tiger lamp sofa', 'correct horse battery staple', 'zq7#vkm!pl2@xr9w', 'my cat likes warm milk']) {
      expect(await check(password)).toEqual({ ok: true });
    }
  });
});

describe('passwords built from the user’s own names', () => {
  it.each([
    ['the username, decorated', 'adal-2024-adal!!!'],
    ['the username repeated', 'adaladaladaladal'],
    ['the display name and digits', 'Ada Lovelace 1815-1852'],
    ['the email address', 'ada.lovelace+work@example.test'],
    ['the email local part repeated', 'ada.lovelace ada.lovelace'],
    ['a name word repeated', 'lovelace lovelace lovelace'],
    ['a name plus a few letters', 'AdaLovelace xyz 12345'],
    ['the name backwards', 'ecalevol ada ecalevol ada'],
    ["a name word, the username and the service's name", 'lovelace-latchkey-adal'],
    ["the username, the service's name and a common password", 'latchkey-adal-password'],
    ['two name words and a common password', 'lovelace-adal-sunshine'],
    ['two name words and a common password spelled in l33t', 'lovelace-adal-sunsh1ne'],
    ["the username, the service's name and a common password in l33t", 'latchkey-adal-p@ssword'],
    ["a name word reversed, the service's name and a common password", 'ecalevol-latchkey-password'],
  ])('refuses %s', async (_, password) => {
    expect(await check(password)).toEqual({ ok: false, reason: 'password.identifier' });
  });

  it("refuses the service's name, the brand's as well as Latchkey's, with a reason of its own", async () => {
    expect(await check('latchkey latchkey 2025')).toEqual({ ok: false, reason: 'password.service' });
    const branded = (password: string) => checkNewPassword(password, { minLength: 15, identifiers: [], serviceNames: ['Acme Portal'] });
    expect(await branded('AcmePortal2024!!')).toEqual({ ok: false, reason: 'password.service' });
    expect(await branded('portal portal portal')).toEqual({ ok: false, reason: 'password.service' });
    expect(await branded('portable acme of rivers')).toEqual({ ok: true });
    expect(await branded('acme portal password')).toEqual({ ok: false, reason: 'password.service' });
  });

  it('accepts a password that only mentions a name among other words', async () => {
    expect(await check('ada likes counting engines')).toEqual({ ok: true });
    expect(await check('AdaLovelace plus enough')).toEqual({ ok: true }); // ten more letters: a different password
    expect(await check('latchkey adal counting engines')).toEqual({ ok: true }); // the names, and words of one's own
  });

  it('ignores empty identifiers and takes each user’s own', async () => {
    expect(await check('adal-2024-adal!!!', { minLength: MIN, identifiers: ['grace', '', 'grace@example.test'] })).toEqual({ ok: true });
  });
});

describe('messages', () => {
  it('has a text for every reason, and the rules and guidance, in English and French', () => {
    for (const id of [...PASSWORD_REASONS, 'password.rules_title', 'password.rule_length', 'password.rule_not_guessable', 'password.guidance'] as const) {
      expect(en[id]).toBeTruthy();
      expect(fr[id]).toBeTruthy();
      expect(fr[id]).not.toBe(en[id]);
    }
    expect(en['password.too_short']).toContain('{min}');
    expect(en['password.rule_length']).toContain('{min}');
  });
});
