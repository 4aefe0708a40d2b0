// Security notices as they are enqueued: one per mailbox the owner registered, however its address is written.
import { expect, it } from '@jest/globals';
import type { User } from '../../src/accounts/user-model.ts';
import type { OutgoingMessage } from '../../src/methods/method.ts';
import { createNotifier } from '../../src/flows/recovery/notices.ts';

function notifier(contact?: string) {
  const enqueued: OutgoingMessage[] = [];
  const lockdowns = { issue: async () => 'token', peek: async () => undefined, use: async () => undefined };
  const notices = createNotifier({ enqueue: async (message) => enqueued.push(message), lockdowns, origin: 'https://id.example.test', textsTo: async () => true, helpContact: async () => contact });
  return { notices, enqueued };
}

const owner = (email: string, alternateEmail: string) => ({ _id: 'u1', username: 'ada', email, securityInfo: { alternateEmail } }) as unknown as User;

it('tells one mailbox once when its two addresses differ only in case, writing to the address as first registered', async () => {
  const { notices, enqueued } = notifier();
  expect(await notices.notify(owner('Ada@Example.com', 'ada@example.com'), 'reset', 'en')).toBe(1);
  expect(enqueued.map((m) => m.to)).toEqual(['Ada@Example.com']);
});

it('tells two different mailboxes each', async () => {
  const { notices, enqueued } = notifier();
  expect(await notices.notify(owner('ada@example.com', 'ada@home.example.org'), 'reset', 'en')).toBe(2);
  expect(enqueued.map((m) => m.to)).toEqual(['ada@example.com', 'ada@home.example.org']);
});

it('names whom to contact when the operator set a helpdesk (a web address linked, an email address as it is), and no one otherwise', async () => {
  const web = notifier('https://help.example.test/it');
  await web.notices.notify(owner('ada@example.com', 'ada@example.com'), 'reset', 'en');
  const [email] = web.enqueued as Array<OutgoingMessage & { html: string; text: string }>;
  expect(email!.text).toContain('Contact your administrator: https://help.example.test/it');
  expect(email!.html).toContain('<a href="https://help.example.test/it">');
  expect(email!.text).toContain('https://id.example.test/'); // the "This wasn't me" link stays, linked too
  expect(email!.html).toContain('<a href="https://id.example.test/');

  const mailbox = notifier('helpdesk@example.test');
  await mailbox.notices.notify(owner('ada@example.com', 'ada@example.com'), 'lockout', 'fr');
  expect((mailbox.enqueued[0] as { text: string }).text).toContain('Contactez votre administrateur : helpdesk@example.test');

  const nobody = notifier(undefined);
  await nobody.notices.notify(owner('ada@example.com', 'ada@example.com'), 'reset', 'en');
  expect((nobody.enqueued[0] as { text: string }).text).not.toContain('Contact your administrator');
});

it.each([
  ['en', 'A browser can no longer sign in to your account', 'was used for about a hundred wrong passwords in a row'],
  ['fr', 'Un navigateur ne peut plus se connecter à votre compte', 'a servi à une centaine de tentatives d’affilée'],
])('words a browser whose password sign-in turned off (%s), with what happened, and no "This wasn\'t me": nothing changed', async (locale, subject, count) => {
  const { notices, enqueued } = notifier();
  await notices.notify({ ...owner('ada@example.com', 'ada@example.com'), securityInfo: { mobilePhone: '+14155550100' } } as unknown as User, 'device_disabled', locale);
  const [email, text] = enqueued as Array<OutgoingMessage & { subject?: string; text: string }>;
  expect(email!.subject).toBe(subject);
  expect(email!.text).toContain(count);
  expect(email!.text).not.toContain('https://id.example.test/recover/lockdown/');
  expect(text!.channel).toBe('sms');
  expect(text!.text).toContain(subject);
});

it('says of a lock that turned password sign-in off that it does not end by itself, without "This wasn\'t me"', async () => {
  const { notices, enqueued } = notifier();
  await notices.notify(owner('ada@example.com', 'ada@example.com'), 'lockout_disabled', 'en');
  const [email] = enqueued as Array<OutgoingMessage & { subject?: string; text: string }>;
  expect(email!.subject).toBe('Your account was locked');
  expect(email!.text).toContain('This time it does not unlock by itself');
  expect(email!.text).not.toContain('/recover/lockdown/');
});

it('speaks the language the owner last signed in with, and the caller’s only when none (or one no longer offered) is kept', async () => {
  const subjects = async (language: string | undefined, fallback: string) => {
    const { notices, enqueued } = notifier();
    await notices.notify({ ...owner('ada@example.com', 'ada@example.com'), ...(language && { language }) } as User, 'reset', fallback);
    return (enqueued[0] as { subject: string }).subject;
  };
  expect(await subjects('fr', 'en')).toBe('Votre mot de passe a été réinitialisé');
  expect(await subjects('en', 'fr')).toBe('Your password was reset');
  expect(await subjects(undefined, 'fr')).toBe('Votre mot de passe a été réinitialisé');
  expect(await subjects('xx', 'en')).toBe('Your password was reset');
});
