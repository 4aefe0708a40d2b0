// `npm run authenticator -- <command>`: the reference authenticator app. It speaks the protocol of
// src/methods/app-devices.ts, so that "Approve a notification on my authenticator app" can be used and tested
// without a phone: it enrols with a link from the security info page (or `npm run admin -- users enrol-app`), shows
// the notification waiting for it, and approves it with the number the recovery page shows, or denies it.
//
//   enrol <link> [--name <device name>]    make this device's key pair and enrol it with the link's one-time token
//   pending                                the notification waiting, if any
//   approve <number>                       approve the waiting notification with the number the page shows
//   deny                                   deny the waiting notification
//
// `--store <file>` (default ~/.latchkey-authenticator.json) keeps the device's private key: whoever has the file
// can approve for the account, as whoever holds a phone can. It is written readable by its owner only.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

const USAGE = `Usage: npm run authenticator -- <command> [--store <file>]
  enrol <link> [--name <device name>]   enrol this device with an enrolment link
  pending                               show the notification waiting for this device
  approve <number>                      approve it with the number your screen shows
  deny                                  deny it`;

interface Store {
  origin: string;
  device: string;
  account: string;
  privateKey: JWK;
}

interface Notification {
  text: string;
  answerUrl: string;
  digits: number;
  expiresAt: string;
}

export class AuthenticatorError extends Error {}

/** A request of this device: a JWT signed with its key for `audience`, used once (`at`: its time, in seconds). */
async function signed(store: Store, audience: string, claims: Record<string, unknown> = {}, at?: number): Promise<string> {
  const key = await importJWK(store.privateKey, 'ES256');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setSubject(store.device)
    .setAudience(audience)
    .setIssuedAt(at)
    .setJti(randomBytes(16).toString('base64url'))
    .sign(key);
}

/** A signed request of the device enrolled in `file`, as the commands below make them (tests send them as they like). */
export const signedRequest = async (file: string, audience: string, claims: Record<string, unknown> = {}, at?: number) => signed(await readStore(file), audience, claims, at);

async function postForm(url: string, form: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: new URLSearchParams(form) });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    throw new AuthenticatorError(`${url} answered ${response.status}, not JSON`);
  }
}

async function readStore(file: string): Promise<Store> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Store;
  } catch {
    throw new AuthenticatorError(`no enrolled device in ${file}: run \`enrol <link>\` first`);
  }
}

/** Enrols a new key pair with the link's token; the store then holds the device. */
export async function enrol(link: string, name: string, file: string): Promise<Store> {
  const url = new URL(link);
  const token = url.hash.slice(1);
  if (!token) throw new AuthenticatorError('the link has no enrolment token (the part after #)');
  const enrolUrl = `${url.origin}${url.pathname}`;
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const proof = await new SignJWT({ token })
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', jwk: publicJwk })
    .setAudience(enrolUrl)
    .setIssuedAt()
    .setJti(randomBytes(16).toString('base64url'))
    .sign(privateKey);
  const { status, body } = await postForm(enrolUrl, { token, name, proof });
  if (status !== 200) throw new AuthenticatorError(`enrolment refused (${status}): ${String(body.error)}${body.support_code ? `, support code ${String(body.support_code)}` : ''}`);
  const store: Store = { origin: url.origin, device: String(body.device), account: String(body.account), privateKey: await exportJWK(privateKey) };
  await writeFile(file, `${JSON.stringify(store, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // `mode` applies only to a file it creates: a store written over keeps its owner's alone
  return store;
}

/** The notification waiting for the device, or null. */
export async function pending(file: string): Promise<Notification | null> {
  const store = await readStore(file);
  const url = `${store.origin}/authenticator/pending`;
  const { status, body } = await postForm(url, { token: await signed(store, url) });
  if (status === 429) throw new AuthenticatorError('too many requests from this device: wait a minute');
  if (status !== 200) throw new AuthenticatorError(`the server refused this device (${status}): it may have been removed from the account`);
  return (body.notification as Notification | null) ?? null;
}

/** Answers the waiting notification: approve with `number`, or deny. What the server made of it. */
export async function answer(file: string, decision: { approve: string } | 'deny'): Promise<string> {
  const store = await readStore(file);
  const notification = await pending(file);
  if (!notification) throw new AuthenticatorError('no notification is waiting');
  const claims = decision === 'deny' ? { decision: 'deny' } : { decision: 'approve', number: decision.approve };
  const { status, body } = await postForm(notification.answerUrl, { token: await signed(store, notification.answerUrl, claims) });
  if (status !== 200) throw new AuthenticatorError(`the answer was refused (${status})`);
  return String(body.result);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { store: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean' } } });
  const file = values.store ?? join(homedir(), '.latchkey-authenticator.json');
  const [command, argument] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  if (command === 'enrol' && argument) {
    const store = await enrol(argument, values.name ?? 'Reference authenticator', file);
    console.log(`Enrolled for ${store.account} at ${store.origin} (device ${store.device}).`);
  } else if (command === 'pending') {
    const notification = await pending(file);
    console.log(notification ? `${notification.text}\n(${notification.digits} digits; expires ${notification.expiresAt})` : 'Nothing waiting.');
  } else if (command === 'approve' && argument) {
    const result = await answer(file, { approve: argument });
    console.log(result === 'accepted' ? 'Approved.' : `Not approved: ${result}.`);
    return result === 'accepted' ? 0 : 1;
  } else if (command === 'deny') {
    console.log(`Denied (${await answer(file, 'deny')}).`);
  } else {
    console.error(USAGE);
    return 2;
  }
  return 0;
}

if (import.meta.main) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof AuthenticatorError)) throw error;
    console.error(error.message);
    process.exitCode = 1;
  }
}
