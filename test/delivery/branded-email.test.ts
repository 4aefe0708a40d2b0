// The operator's brand on every email: logo and name at the top, the accent on the frame and links, the name
// signing both parts; nothing the operator configured can break out of the HTML.
import { expect, it } from '@jest/globals';
import { brandEmails } from '../../src/delivery/branded-email.ts';

const brand = {
  name: 'Acme <Identity> & Co',
  logoUrl: '/static/acme.png',
  accent: '#1d6b3a',
  helpUrl: undefined,
  homeUrl: undefined,
  privacyUrl: undefined,
  termsUrl: undefined,
};

it('frames a text-only email in the brand: absolute logo, escaped name, accent colour, signature in both parts', () => {
  const email = brandEmails(brand, 'https://id.acme.example')({ channel: 'email', to: 'a@example.test', subject: 'Code', text: 'Your code is 123456.\nIt expires soon.\n\nIgnore <this> if not you.' });
  expect(email.text).toBe('Your code is 123456.\nIt expires soon.\n\nIgnore <this> if not you.\n\n— Acme <Identity> & Co\n');
  expect(email.html).toContain('<img src="https://id.acme.example/static/acme.png" alt=""');
  expect(email.html).toContain('Acme &#60;Identity&#62; &#38; Co</p>');
  expect(email.html).toContain('border-top:4px solid #1d6b3a');
  expect(email.html).toContain('<p>Your code is 123456.<br>It expires soon.</p><p>Ignore &#60;this&#62; if not you.</p>');
  expect(email.html).not.toContain('<Identity>');
  expect(email.html).toMatch(/— Acme &#60;Identity&#62; &#38; Co<\/p><\/div><\/body><\/html>$/);
});

it("keeps the message's own HTML paragraphs, colours its links, and uses an https logo as given", () => {
  const email = brandEmails({ ...brand, logoUrl: 'https://cdn.acme.example/logo.png' }, 'https://id.acme.example')({
    channel: 'email',
    to: 'a@example.test',
    text: 'See https://id.acme.example/x',
    html: '<p>See <a href="https://id.acme.example/x">it</a></p>',
  });
  expect(email.html).toContain('<img src="https://cdn.acme.example/logo.png"');
  expect(email.html).toContain('<p>See <a style="color:#1d6b3a" href="https://id.acme.example/x">it</a></p>');
});

it('uses the built-in logo when none is configured', () => {
  const email = brandEmails({ ...brand, logoUrl: undefined }, 'http://localhost:3000')({ channel: 'email', to: 'a@example.test', text: 'Hello' });
  expect(email.html).toContain('<img src="http://localhost:3000/static/logo.svg"');
});

it.each(['//tracker.example/p.png', '/\\tracker.example/p.png', 'http://tracker.example/p.png'])(
  'uses the built-in logo, not %s: a logo that is neither a path on the issuer nor an https:// URL would tell another site of every email opened',
  (logoUrl) => {
    const email = brandEmails({ ...brand, logoUrl }, 'https://id.acme.example')({ channel: 'email', to: 'a@example.test', text: 'Hello' });
    expect(email.html).toContain('<img src="https://id.acme.example/static/logo.svg"');
    expect(email.html).not.toContain('tracker.example');
  },
);

it("names the HTML's language: the message's, else Latchkey's default (English)", () => {
  const brandEmail = brandEmails(brand, 'https://id.acme.example');
  expect(brandEmail({ channel: 'email', to: 'a@example.test', text: 'Bonjour', language: 'fr' }).html).toMatch(/^<!doctype html><html lang="fr"><body/);
  expect(brandEmail({ channel: 'email', to: 'a@example.test', text: 'Hello' }).html).toMatch(/^<!doctype html><html lang="en"><body/);
});
