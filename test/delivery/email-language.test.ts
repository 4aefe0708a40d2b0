// Every email says which language it is written in, so that screen readers read its HTML with the right voice
// (<html lang>) and mail clients can tell too (Content-Language): the code email in the recovery's language, a
// notice in the owner's. Checked in what a real mail server received.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { ParsedMail } from 'mailparser';
import { Browser } from '../helpers/browser.ts';
import { createUser } from '../helpers/factories.ts';
import { chooseGoal, chooseMethod, identify, registerMethods, sendCode, startRecoveryServer, waitFor } from '../helpers/recovery.ts';
import type { TestServer } from '../helpers/server.ts';
import type { SmtpSink } from './smtp-sink.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';
import { createOutbox } from '../../src/delivery/outbox.ts';
import { securityNotices } from '../../src/flows/recovery/index.ts';

let server: TestServer;
let sink: SmtpSink;
let close: () => Promise<void>;

beforeAll(async () => {
  ({ server, sink, close } = await startRecoveryServer());
  await server.latchkey.policy.save({ limits: { flowsPerIpHour: 1000, proofAttemptsPerIpHour: 100_000, perIpHour: 1000 } });
});
afterAll(() => close());

/** The only email to `to`, once the server has received it. */
const mailTo = (to: string) => waitFor(() => sink.received.find((mail) => JSON.stringify(mail.to).includes(to)), `an email to ${to}`);

const languageOf = (mail: ParsedMail) => ({ html: /^<!doctype html><html lang="([^"]*)">/.exec(String(mail.html))?.[1], header: mail.headers.get('content-language') });

it.each([
  ['fr', '?ui_locales=fr', 'Votre code de vérification'],
  ['en', '', 'Your verification code'],
])('writes the code email of a recovery in %s in that language, and says so', async (language, query, subject) => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const browser = new Browser();
  await sendCode(browser, await chooseMethod(browser, await chooseGoal(browser, await identify(server, browser, user.username, query), 'reset'), 'email'));

  const mail = await mailTo(alternateEmail);
  expect(mail.subject).toBe(subject);
  expect(languageOf(mail)).toEqual({ html: language, header: language });
});

it.each([
  ['fr', 'Votre mot de passe a été réinitialisé'],
  ['en', 'Your password was reset'],
])('writes a security notice in %s in that language, and says so, on every address', async (language, subject) => {
  const user = await createUser(server);
  const alternateEmail = `alt-${user.username}@example.net`;
  await registerMethods(server, user, { alternateEmail });
  const outbox = createOutbox(server.connection, { clock: Date.now, onEnqueued: () => {}, box: configuredSecretBox(server.config) }); // the server's sender sends it
  const { notifier } = securityNotices({ connection: server.connection, config: server.config, enqueue: outbox.enqueue });
  await notifier.notify((await server.latchkey.accounts.findById(user._id))!, 'reset', language);

  for (const to of [user.email, alternateEmail]) {
    const mail = await mailTo(to);
    expect(mail.subject).toBe(subject);
    expect(languageOf(mail)).toEqual({ html: language, header: language });
  }
});
