// `npm run admin -- users set-methods | enrol-authenticator | enrol-app`: the verification methods a user can recover with,
// registered by an administrator (for testing, and for support until users manage their own). The owner is told of
// each change (ASVS 6.3.6): replacing them is what someone taking the account over, through a stolen admin access or
// a helpdesk talked into it, does first.
import qrcode from 'qrcode-terminal';
import { countryAllowed, mayBeMobile, normalizePhone } from '../methods/sms.ts';
import { isEmailAddress } from '../methods/email.ts';
import { createPolicyStore } from '../policy/store.ts';
import { newAuthenticator } from '../methods/totp.ts';
import { createAppDevices } from '../methods/app-devices.ts';
import type { User } from '../accounts/user-model.ts';
import { defineCommand, UsageError, type Command } from './command.ts';
import { ValidationError } from '../errors.ts';
import { fields } from './output.ts';
import { auditAdminChange, checkLine, findUser, MAX_EMAIL_LENGTH, ownerNotices } from './user-admin.ts';
import { accounts } from './accounts-session.ts';
import type { AdminSession } from './session.ts';
import type { MethodChange } from '../flows/recovery/notices.ts';
import { DEFAULT_LOCALE } from '../http/i18n.ts';
import { publishedServerIdentity } from '../delivery/server-identity.ts';
import { placesCalls, strandedNote } from './recoverability.ts';

/** The verification methods a user has registered, as `users show` and `set-methods` (with `notified`) give them with --json. */
export function methodsOf(user: User) {
  const info = user.securityInfo ?? {};
  return {
    alternateEmail: info.alternateEmail ?? null,
    mobilePhone: info.mobilePhone ?? null,
    officePhone: info.officePhone ?? null,
    authenticator: Boolean(info.authenticator?.totpSecret),
    /** The device that approves app notifications, by the name its app gave it. */
    appDevice: info.appDevice?.id ? info.appDevice.name : null,
  };
}

function phone(value: string | undefined, flag: string): string | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none') return null;
  const e164 = normalizePhone(value);
  // A refused value, not a wrong command line: exit code 1 (README).
  if (!e164) throw new ValidationError('invalid_phone', `${flag} '${value}' (use the international form, e.g. +14155550123)`);
  return e164;
}

/**
 * Refuses what the owner's own security info page refuses (interactions/security-info-routes.ts judgeTyped): a phone in a
 * country the policy's allowedCountryCodes never texts or calls, and as the mobile phone a number no text reaches
 * (premium-rate, toll-free and other service numbers). Registered, either would look like a way to recover that
 * never sends a code.
 */
async function checkPhones(session: AdminSession, changes: { mobilePhone?: string | null; officePhone?: string | null }): Promise<void> {
  const { mobilePhone, officePhone } = changes;
  if (!mobilePhone && !officePhone) return;
  const policy = await createPolicyStore(await session.connection()).current();
  const countries = `+${policy.allowedCountryCodes.join(', +')} (policy allowedCountryCodes)`;
  if (mobilePhone && !countryAllowed(mobilePhone, policy)) throw new ValidationError('country_not_allowed', `--mobile-phone ${mobilePhone}: text messages go only to ${countries}`);
  if (officePhone && !countryAllowed(officePhone, policy)) throw new ValidationError('country_not_allowed', `--office-phone ${officePhone}: calls go only to ${countries}`);
  if (mobilePhone && !mayBeMobile(mobilePhone)) {
    throw new ValidationError('not_mobile', `--mobile-phone ${mobilePhone}: a premium-rate, toll-free or other service number cannot receive text messages`);
  }
}

/** Refuses as the alternate email the address the account signs in with: the mailbox that may be the one lost. */
function refuseSignInAddress(before: User, alternateEmail: string | null | undefined): void {
  if (alternateEmail && alternateEmail === before.email.trim().toLowerCase()) {
    throw new ValidationError('same_email', `--alternate-email ${alternateEmail} is the address ${before.username} signs in with: it must be another mailbox`);
  }
}

/**
 * Refuses an office number equal to the mobile one, as the account would have them after the change: a text and a
 * call to the office count as two ways to verify, and one phone in someone else's hand would be both.
 */
function refuseOnePhoneTwice(before: User, changes: { mobilePhone?: string | null; officePhone?: string | null }): void {
  const mobile = changes.mobilePhone !== undefined ? changes.mobilePhone : before.securityInfo?.mobilePhone;
  const office = changes.officePhone !== undefined ? changes.officePhone : before.securityInfo?.officePhone;
  if (mobile && mobile === office) throw new ValidationError('same_phone', `${mobile} is both the mobile and the office phone: they count as two ways to verify, so they must be two phones`);
}

/** The same methods as lines for a person, as `users show` and `set-methods` print them. */
export function methodLines(user: User): Array<[string, string]> {
  const methods = methodsOf(user);
  return [
    ['alternate email', methods.alternateEmail ?? '(none)'],
    ['mobile phone', methods.mobilePhone ?? '(none)'],
    ['office phone', methods.officePhone ?? '(none)'],
    ['authenticator', methods.authenticator ? 'registered' : '(none)'],
    ['app notifications', methods.appDevice ?? '(none)'],
  ];
}

/** What changed between the methods `before` and `after`, as the owner's notice names it. */
function methodChanges(before: User, after: User): MethodChange[] {
  const [was, now] = [methodsOf(before), methodsOf(after)];
  const secret = (user: User) => user.securityInfo?.authenticator?.totpSecret;
  return [
    ...(was.alternateEmail !== now.alternateEmail ? [{ method: 'alternate_email' as const, to: now.alternateEmail }] : []),
    ...(was.mobilePhone !== now.mobilePhone ? [{ method: 'mobile_phone' as const, to: now.mobilePhone }] : []),
    ...(was.officePhone !== now.officePhone ? [{ method: 'office_phone' as const, to: now.officePhone }] : []),
    ...(secret(before) !== secret(after) ? [{ method: 'authenticator' as const, registered: Boolean(secret(after)) }] : []),
    ...(was.appDevice !== now.appDevice ? [{ method: 'app_device' as const, registered: now.appDevice !== null }] : []),
  ];
}

/**
 * Tells the owner on the contacts registered before the change (a replaced address hears of it too), with the "This
 * wasn't me" link; returns how many were told. Not rate-limited: only an administrator causes it, like set-password's.
 * The owner's language is not known here (accounts keep none): the default one, as set-password.
 */
async function tellOwner(session: AdminSession, before: User, after: User): Promise<number> {
  const changes = methodChanges(before, after);
  return changes.length ? (await ownerNotices(session)).notifyMethodsChanged(before, changes, 'admin', DEFAULT_LOCALE) : 0;
}

/** Audits and tells the owner of what changed between `before` and `after`; nothing when nothing did. */
async function recordChange(session: AdminSession, before: User, after: User, detail: string): Promise<number> {
  if (methodChanges(before, after).length === 0) return 0; // a command that changed nothing leaves no audit record
  await auditAdminChange(session, 'security_info.changed', after, detail);
  return tellOwner(session, before, after);
}

const toldLine = (told: number) => (told ? `The owner is told on ${told} contact(s) registered before the change.` : 'Nothing changed: the owner is not told.');

const setMethods = defineCommand({
  name: 'set-methods',
  summary: "Sets or clears a user's alternate email, mobile phone and office phone ('none' clears one).",
  arg: 'id-or-login',
  options: {
    'alternate-email': { type: 'string', value: '<email|none>', help: 'Where "Email my alternate email" sends codes' },
    'mobile-phone': { type: 'string', value: '<+number|none>', help: 'Where "Text my mobile phone" sends codes (international form)' },
    'office-phone': { type: 'string', value: '<+number|none>', help: 'Where "Call my office phone" calls (international form)' },
    'remove-authenticator': { type: 'boolean', help: 'Forget the registered authenticator app' },
    'remove-app-device': { type: 'boolean', help: 'Forget the device that approves app notifications' },
  },
  details: [
    'The owner is told on the contacts registered before the change (email, alternate email, text to the mobile),',
    'with masked hints of the new values and the "This wasn\'t me" link; the running server sends it.',
    '',
    'Example:',
    '  npm run admin -- users set-methods ada --alternate-email ada@home.example --mobile-phone +14155550123',
  ].join('\n'),
  async run({ arg, values, out, session }) {
    const email = values['alternate-email'];
    checkLine(email, MAX_EMAIL_LENGTH, '--alternate-email', 'invalid_email');
    if (email !== undefined && email !== 'none' && !isEmailAddress(email)) throw new ValidationError('invalid_email', `--alternate-email '${email}'`);
    const changes = {
      ...(email !== undefined && { alternateEmail: email === 'none' ? null : email.trim().toLowerCase() }),
      ...(values['mobile-phone'] !== undefined && { mobilePhone: phone(values['mobile-phone'], '--mobile-phone') }),
      ...(values['office-phone'] !== undefined && { officePhone: phone(values['office-phone'], '--office-phone') }),
      ...(values['remove-authenticator'] && { totpSecret: null }),
      ...(values['remove-app-device'] && { appDevice: null }),
    };
    if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give at least one option');
    await checkPhones(session, changes);
    await session.serversSecretBox(); // the owner's notice is sealed with it: refused before anything changes
    const users = await accounts(session);
    const before = await findUser(users, arg);
    refuseSignInAddress(before, changes.alternateEmail);
    refuseOnePhoneTwice(before, changes);
    const user = await users.setSecurityInfo(before._id, changes);
    // Named as the owner's own changes name them in the audit log (the authenticator, not its stored field).
    const changed = Object.keys(changes).map((field) => (field === 'totpSecret' ? 'authenticator' : field));
    const told = await recordChange(session, before, user, changed.join(','));
    out.result({ ...methodsOf(user), notified: told }, () => [`Verification methods of ${user.username}:`, ...fields(methodLines(user)), toldLine(told)]);
    const stranded = strandedNote(before, user, await createPolicyStore(await session.connection()).current(), placesCalls(session));
    if (stranded) out.note(stranded);
  },
});

const enrolAuthenticator = defineCommand({
  name: 'enrol-authenticator',
  summary: 'Registers a new authenticator app (TOTP) for a user and prints its otpauth URI and a QR code to scan.',
  arg: 'id-or-login',
  options: {},
  details:
    "The secret is stored encrypted with DATA_ENCRYPTION_KEY: run this with the server's environment. The owner is told\n" +
    'on the contacts registered before, with the "This wasn\'t me" link (the running server sends it).',
  async run({ arg, out, io, session }) {
    const config = session.config();
    const box = await session.serversSecretBox(); // a seed the servers can open
    const users = await accounts(session);
    const user = await findUser(users, arg);
    // Named in the app as the running server names itself (its brand), whatever this shell's environment says.
    const brand = (await publishedServerIdentity(await session.connection()))?.brand ?? config.brand;
    const { sealed, uri } = newAuthenticator(box, { issuer: brand.name, label: user.email });
    const after = await users.setSecurityInfo(user._id, { totpSecret: sealed });
    const told = await recordChange(session, user, after, 'authenticator');
    out.result({ user: user.username, otpauthUri: uri, notified: told }, () => [`Authenticator registered for ${user.username}. Scan this with the app, or enter the URI:`, uri]);
    if ((io.stdout as { isTTY?: boolean }).isTTY) qrcode.generate(uri, { small: true }, (code) => io.stdout.write(`${code}\n`));
    out.note('note: the URI contains the secret; do not paste it anywhere else.');
    out.note(toldLine(told));
  },
});

const enrolApp = defineCommand({
  name: 'enrol-app',
  summary: 'Prints a one-time link and QR code that enrol an authenticator app for notifications ("Approve a notification on my authenticator app").',
  arg: 'id-or-login',
  options: {},
  details: [
    'The link works once, for 15 minutes: give it to the account\'s owner only. The app that opens it (or',
    '`npm run authenticator -- enrol <link>`) makes its own key pair; the running server keeps the public key, and the',
    'owner is told on the contacts registered before. Enrolling another device replaces this one;',
    '`users set-methods <user> --remove-app-device` forgets it.',
  ].join('\n'),
  async run({ arg, out, io, session }) {
    const connection = await session.connection();
    const users = await accounts(session);
    const user = await findUser(users, arg);
    // The link goes to the running server, as it names itself, whatever this shell's environment says.
    const issuer = (await publishedServerIdentity(connection))?.issuer ?? session.config().issuer;
    // Only a link is made here: no device's request is answered, so none is allowed.
    const devices = createAppDevices({ connection, issuer, findAccount: (id) => users.findAgain(id), setAppDevice: (id, device) => users.setSecurityInfo(id, { appDevice: device }), allowRequest: () => Promise.resolve(false) });
    const { link, expiresAt } = await devices.startEnrolment(user._id);
    out.result({ user: user.username, link, expiresAt: expiresAt.toISOString() }, () => [`Enrolment link for ${user.username}, valid until ${expiresAt.toISOString()}:`, link]);
    if ((io.stdout as { isTTY?: boolean }).isTTY) qrcode.generate(link, { small: true }, (code) => io.stdout.write(`${code}\n`));
    out.note('note: whoever opens the link first enrols their device for this account; give it to its owner only.');
  },
});

export const securityInfoCommands: Command[] = [setMethods, enrolAuthenticator, enrolApp];
