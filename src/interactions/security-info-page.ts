// What the security info page shows (views/security-info.ejs): the person's methods as hints, what they may do with
// each now, and what the step waits for (an address or number to type, a code sent, a new app's QR code, a proof of
// a registered method). Its routes (security-info-routes.ts) decide; this only draws.
import type { Context } from 'koa';
import { generateURI } from 'otplib';
import QRCode from 'qrcode';
import type { User } from '../accounts/user-model.ts';
import type { MessageId } from '../http/messages/en.ts';
import { renderPage } from '../http/render.ts';
import type { VerificationMethod } from '../methods/method.ts';
import { TOTP_DIGITS } from '../methods/totp.ts';
import type { MethodId, RecoveryPolicy } from '../policy/policy.ts';
import type { SecretBox } from '../security/encryption.ts';
import { recoveryMethods } from '../flows/recovery/subject.ts';
import { lockedFor, manageable, provable, registeredValue, removalStrands, securityInfoDue, SELF_SERVICE, without, type SecurityInfoState } from './security-info.ts';

/** The field a kind's value is typed in, and the message ids named after it. */
export const fieldOf = (kind: 'alternateEmail' | 'mobilePhone') => (kind === 'alternateEmail' ? 'email' : 'phone');

/** What the page shows besides the list: the field to type an address or number in (with what was typed). */
export interface Typing {
  kind: 'alternateEmail' | 'mobilePhone';
  value?: string;
}

/** Said once, after a redirect (`?said=`): what the last form did. */
export const SAID = ['saved', 'removed', 'proved'] as const;
export type Said = (typeof SAID)[number];

/** Where the page is: the step of a sign-in, or the page a person opened themselves (flows/account-security-info.ts). */
export interface PagePlace {
  /** Where its forms post (`…/add`, `…/prove`). */
  forms: string;
  /** Where Cancel posts. */
  cancel: string;
  /** Opened by the person to manage their info, not stopped at in a sign-in. */
  manage: boolean;
}

export interface PageInput {
  place: PagePlace;
  csrf: string;
  user: User;
  state: SecurityInfoState | undefined;
  rules: RecoveryPolicy;
  now: number;
  typing?: Typing;
  said?: Said;
  error?: MessageId;
  /** The support code shown with `error` when it is another request's (a wrong code's, after its redirect). */
  supportCode?: string;
  status?: number;
}


export function createSecurityInfoPage({ methods, box, issuer }: { methods: readonly VerificationMethod[]; box: SecretBox; issuer: string }) {
  /** The new app's QR code (inline SVG) and its key typed in groups of four, from the step's sealed seed. */
  async function appSetup(user: User, sealed: string) {
    const secret = box.open(sealed);
    const uri = generateURI({ issuer, label: user.email, secret });
    return { qr: await QRCode.toString(uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }), key: secret.replace(/(.{4})/g, '$1 ').trim() };
  }

  /** The enrolment link an app opens, and its QR code (inline SVG), from the step's sealed link. */
  async function appEnrolment(sealedLink: string) {
    const link = box.open(sealedLink);
    return { link, qr: await QRCode.toString(link, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' }) };
  }

  return async function show(ctx: Context, { place, csrf, user, state, rules, now, typing, said, error, supportCode, status = 200 }: PageInput) {
    // A registered value as the recovery pages show it (the method's own hint): enough for the owner to recognise. An
    // app's device, which the recovery pages do not hint at, by the name its app gave it: this is its owner's page.
    const hintOf = (id: MethodId) => (id === 'app_notification' ? (user.securityInfo?.appDevice?.name ?? '') : methods.find((m) => m.id === id)!.hint(user));
    const kinds = manageable(methods, rules);
    // Opened by the person, the page says what an account that cannot recover by itself needs whatever the policy asks
    // at sign-in.
    const due = securityInfoDue(user, methods, place.manage ? { ...rules, registration: { ...rules.registration, atSignIn: true } } : rules, now);
    const { able, required } = recoveryMethods(user, methods, rules);
    const locked = lockedFor(user, state);
    const adding = typing ? undefined : state?.adding;
    const proving = typing || adding ? undefined : state?.proving;
    const awaited = adding ?? proving;
    // An office phone is shown as the call method knows it (none when it is the mobile one: one phone, one method).
    const office = rules.methodsEnabled.includes('call_office') && methods.some((m) => m.id === 'call_office' && m.isRegistered(user));
    ctx.status = status;
    await renderPage(ctx, 'security-info', {
      titleId: place.manage ? 'security_info.title_manage' : 'security_info.title',
      heading: place.manage ? 'security_info.heading_manage' : 'security_info.heading',
      forms: place.forms,
      cancel: place.cancel,
      csrf,
      intro: due === 'register' ? 'security_info.intro_register' : place.manage ? 'security_info.intro_manage' : 'security_info.intro_reconfirm',
      required,
      locked,
      rows: kinds.map((kind) => {
        const value = registeredValue(user, kind);
        const removable = (!able || recoveryMethods(without(user, kind), methods, rules).able) && !removalStrands(user, kind, kinds, methods, rules);
        return { kind, hint: value === undefined ? undefined : hintOf(SELF_SERVICE[kind]), removable };
      }),
      proofChoices: locked ? provable(user, kinds, methods, rules).map((kind) => ({ kind, hint: hintOf(SELF_SERVICE[kind]) })) : [],
      office: office ? hintOf('call_office') : undefined,
      typing,
      field: typing && fieldOf(typing.kind),
      adding,
      proving,
      sentTo: adding && 'value' in adding ? adding.value : proving && proving.kind !== 'authenticator' ? hintOf(SELF_SERVICE[proving.kind]) : undefined,
      app: adding?.kind === 'authenticator' ? await appSetup(user, adding.sealed) : undefined,
      appDevice: adding?.kind === 'appDevice' ? await appEnrolment(adding.sealedLink) : undefined,
      codeDigits: awaited?.kind === 'authenticator' ? TOTP_DIGITS : rules.codes.digits,
      // The countries texts go to, when the policy names them: the example number may be in none of them.
      countryCodes: rules.allowedCountryCodes.map((code) => `+${code}`).join(', '),
      said,
      error,
      supportCode,
    });
  };
}
