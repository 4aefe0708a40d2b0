// The recovery and lockout policy: one typed document. Defaults live here, in code; an admin's overrides are kept
// in MongoDB (policy/store.ts) and changed with `npm run admin -- policy set`. Every number has a reason next to it.
import { createRequire } from 'node:module';
import { getCountries, getCountryCallingCode } from 'libphonenumber-js/max';
import { z } from 'zod';

/**
 * Verification methods, in the order the recovery pages list them. The calls are off unless enabled (they need
 * VOICE_PROVIDER, and each call costs money).
 */
export const METHOD_IDS = ['email', 'sms', 'call_mobile', 'call_office', 'app_notification', 'totp'] as const;
/**
 * Every calling code libphonenumber knows: the countries' and territories' ("1", "33", "44"), and the non-geographic
 * ones of its metadata (satellite phones' "881"…), which its typed API does not list.
 */
const CALLING_CODES = new Set([
  ...getCountries().map((country) => getCountryCallingCode(country)),
  ...Object.keys((createRequire(import.meta.url)('libphonenumber-js/metadata.max.json') as { nonGeographic?: Record<string, unknown> }).nonGeographic ?? {}),
]);

/** The methods that text or call a phone (what allowedCountryCodes restricts). */
export const PHONE_METHODS: readonly MethodId[] = ['sms', 'call_mobile', 'call_office'];
export type MethodId = (typeof METHOD_IDS)[number];

/**
 * What each method uses of the account: methods that use one thing (a text and a call to the mobile phone) count as
 * one towards the number of methods a recovery needs, and a second step never uses what the first did.
 */
export const METHOD_REGISTRATION: Record<MethodId, string> = {
  email: 'alternateEmail',
  sms: 'mobilePhone',
  call_mobile: 'mobilePhone',
  call_office: 'officePhone',
  // The app's device key is not the authenticator seed: a person may hold them in different apps, on different
  // devices, so they count as two (as an alternate email and a phone do).
  app_notification: 'appDevice',
  totp: 'authenticator',
};

/** How many digits a sent code may have (the policy's `codes.digits`). */
export const CODE_DIGITS = { min: 6, max: 10 } as const;

const count = z.number().int().min(1);
const seconds = z.number().int().min(1);
/**
 * The longest a lockout may last: a year. Longer is no lockout but a disabled account (`users disable`), and the
 * moment a lockout ends must stay a valid date: a lockout of 2^53 seconds reads as no lockout at all.
 */
const LONGEST_LOCKOUT_SECONDS = 365 * 24 * 3600;
const lockoutSeconds = seconds.max(LONGEST_LOCKOUT_SECONDS, `at most ${LONGEST_LOCKOUT_SECONDS} (a year); users disable is for longer`);

// Strict at every level: a misspelt setting (`lockout.treshold`) is refused rather than dropped, and no key the
// schema does not name (`$x`, `a.b`) reaches the database.
const policyShape = z
  .strictObject({
    /** Methods a user may prove themselves with during recovery. */
    methodsEnabled: z.array(z.enum(METHOD_IDS)).min(1).default(['email', 'sms', 'totp']),
    /** How many different methods a recovery needs (accounts with the admin role always need 2). */
    methodsRequired: z.union([z.literal(1), z.literal(2)], { error: 'must be 1 or 2' }).default(1),
    /** Minimum password length in code points: 15 for a password that is the only factor (NIST SP 800-63B-4). */
    passwordMinLength: z.number().int().min(8).max(64).default(15),
    lockout: z
      .strictObject({
        /**
         * Wrong passwords before the account locks (Entra smart lockout: 10). Lockouts end by themselves, but not the
         * one that makes 100 failures in a row (accounts/lockout.ts MAX_CONSECUTIVE_FAILURES): it lasts until recovery.
         */
        threshold: count.max(100).default(10),
        /** The first lockout lasts this long; each further one is `growth` times longer, up to `maxSeconds`. */
        initialSeconds: lockoutSeconds.default(60),
        growth: z.number().min(1).max(10).default(2),
        maxSeconds: lockoutSeconds.default(3600),
        /** How many recent wrong passwords are remembered, so repeating one is not counted twice (Entra: 3). */
        rememberWrong: z.number().int().min(0).max(10).default(3),
      })
      .default({ threshold: 10, initialSeconds: 60, growth: 2, maxSeconds: 3600, rememberWrong: 3 }),
    codes: z
      .strictObject({
        /** One-time codes sent by email or text message expire after this long (at most 10 minutes). */
        lifetimeSeconds: seconds.max(600).default(600),
        /** Wrong entries allowed per code before it is void. */
        maxTries: count.max(10).default(5),
        /** Digits per code (at least 6). */
        digits: z.number().int().min(CODE_DIGITS.min).max(CODE_DIGITS.max).default(6),
      })
      .default({ lifetimeSeconds: 600, maxTries: 5, digits: 6 }),
    limits: z
      .strictObject({
        /** Messages to one email address or phone number: per 10 minutes and per hour. */
        perDestination10Min: count.default(3),
        perDestinationHour: count.default(5),
        /**
         * Codes to phone numbers typed in to be added, per block of 100 numbers (all digits but the last two alike)
         * per hour, at least perDestinationHour whatever is set: SMS pumping types runs of consecutive premium
         * numbers, each within its own limits. Registered numbers have no such budget (recovery texts them only once
         * typed in full and matched).
         */
        perNumberBlockHour: count.default(10),
        /** Messages requested from one IP address per hour. */
        perIpHour: count.default(20),
        /** Messages sent for one account per hour. */
        perAccountHour: count.default(10),
        /**
         * All messages of this installation per hour (a cap on SMS fraud and bills). Lockout notices by text, which
         * anyone can cause, have a budget of this size of their own, so they cannot use up the one for codes.
         */
        globalPerHour: count.default(1000),
        /**
         * Codes and phone numbers entered per account, right ones included, before recovery is blocked (Entra blocks
         * after 5 failures). The budget is a day's, held in two daily grids half a day apart (db/atomic.ts
         * `staggered`): any 12 hours hold at most this many tries, so any 24 at most twice as many. Each try is counted
         * before it is compared, so parallel guesses across any number of flows stay within it; a normal two-step
         * recovery with a few typos needs 4-6.
         */
        proofAttemptsPerDay: count.default(10),
        /**
         * Codes and phone numbers entered from one address (the /64 for IPv6) per hour, over every account it names,
         * each counted before it is compared and before the account's own budget: guessing spread over many accounts,
         * each within its daily budget, gets this many tries an hour from an address, not ten per account of the
         * flows it may start (flowsPerIpHour). 60 is six accounts' whole budgets, more than an office's recoveries.
         */
        proofAttemptsPerIpHour: count.default(60),
        /** Recovery flows started per IP per hour. */
        flowsPerIpHour: count.default(30),
        /**
         * Failed password sign-ins from one address (the /64 for IPv6) in an hour before its sign-ins must carry a
         * CAPTCHA answer (password spraying and credential stuffing: one address, many accounts). A challenge, not a
         * block: people behind the same NAT or proxy still sign in. 20 is two lockouts' worth, more than a household
         * or an office mistypes in an hour, and 20 guesses an hour is little for a spraying tool.
         */
        signInFailuresPerIpHour: count.default(20),
        /**
         * Failed password sign-ins of the whole installation in an hour before every sign-in must carry a CAPTCHA
         * answer (spraying spread over many addresses, a botnet). Far above what its users mistype: set it for the
         * installation's size.
         */
        signInFailuresGlobalHour: count.default(5000),
      })
      .default({
        perDestination10Min: 3,
        perDestinationHour: 5,
        perNumberBlockHour: 10,
        perIpHour: 20,
        perAccountHour: 10,
        globalPerHour: 1000,
        proofAttemptsPerDay: 10,
        proofAttemptsPerIpHour: 60,
        flowsPerIpHour: 30,
        signInFailuresPerIpHour: 20,
        signInFailuresGlobalHour: 5000,
      }),
    /**
     * The way past a CAPTCHA without reading or hearing it (security/captcha-gate.ts; WCAG 2.2 SC 3.3.8 asks for one):
     * a CAPTCHA left empty passes once its page has been open `waitSeconds`, at most `waitsPerIpHour` times an hour
     * per address (the /64 for IPv6), after which that address must answer until the window ends. 30 s is about what
     * reading and typing the characters takes a person; 20 matches `limits.signInFailuresPerIpHour`, so at worst a
     * spraying tool doubles its tries an hour from an address, each behind half a minute's wait. At most 300 s, half
     * a CAPTCHA's life.
     */
    captcha: z
      .strictObject({ waitSeconds: seconds.max(300).default(30), waitsPerIpHour: count.default(20) })
      .default({ waitSeconds: 30, waitsPerIpHour: 20 }),
    /**
     * The SMS pumping circuit breaker (security/pumping-breaker.ts), over the phone numbers typed in to be added to
     * accounts: once the last hour of expired codes holds `minSends` such numbers of one country (or territory) and
     * fewer than `minProvedPercent` of them were proved, no code goes to a number typed in for that country until
     * the codes that opened it are 80-90 minutes old. People adding their number prove most codes (60-80 %); pumping
     * proves none. 0 % turns it off.
     */
    pumpingBreaker: z
      .strictObject({ minSends: count.default(20), minProvedPercent: z.number().int().min(0).max(100).default(20) })
      .default({ minSends: 20, minProvedPercent: 20 }),
    /** Country calling codes text messages and calls may go to (e.g. ["1", "33", "44"]); empty allows every country. */
    allowedCountryCodes: z.array(z.string().regex(/^\d{1,3}$/)).default([]),
    /**
     * Where "Contact your administrator" and "contact Support" lead. The link goes on every recovery page as it is,
     * so it must be a web address (a javascript: or data: one would run in our pages' origin when followed).
     */
    helpdesk: z
      .strictObject({ url: z.url({ protocol: /^https?$/, error: 'an http or https address' }).optional(), email: z.email().optional() })
      .default({}),
    /**
     * Security info at sign-in (interactions/security-info.ts): with `atSignIn`, a sign-in whose account could not
     * recover by itself (fewer methods registered than it needs) stops at a page where the person registers them, each
     * proved as it is added; and one whose info was last confirmed more than `reconfirmDays` ago (0: never asked again)
     * stops to have it confirmed. Entra's defaults: required, 180 days. Off by default here, so that turning it on is
     * the administrator's choice once users may text and email from the sign-in path.
     * With `selfService` (on by default, as the security info pages of Entra and Okta are), people open the same page
     * themselves at /account/security-info, after their current password (flows/account-security-info.ts); off, only
     * administrators and the sign-in's stop change what accounts recover with.
     */
    registration: z
      .strictObject({ atSignIn: z.boolean().default(false), reconfirmDays: z.number().int().min(0).max(730).default(180), selfService: z.boolean().default(true) })
      .default({ atSignIn: false, reconfirmDays: 180, selfService: true }),
    notify: z
      .strictObject({ onReset: z.boolean().default(true), onUnlock: z.boolean().default(true), onLockout: z.boolean().default(true) })
      .default({ onReset: true, onUnlock: true, onLockout: true }),
  });

/**
 * The policy an admin may save: each setting valid, and the settings valid together. (Stored policies are read with
 * the shape alone: see resolveStoredPolicy.)
 */
export const policySchema = policyShape.superRefine((policy, ctx) => {
  // Settings that are each valid but together make recovery impossible or a limit meaningless.
  // Counted as what they use: a text and a call to the mobile phone are one method.
  const enabled = new Set(policy.methodsEnabled.map((id) => METHOD_REGISTRATION[id]));
  if (policy.methodsRequired > enabled.size) {
    ctx.addIssue({
      code: 'custom',
      path: ['methodsRequired'],
      message: `${policy.methodsRequired} is more than the ${enabled.size} different method(s) of methodsEnabled (${policy.methodsEnabled.join(", ")}; a text and a call to one phone are one): no one could recover`,
    });
  }
  // Checked as an admin saves it, not as a stored list is read: dropped there, a list would allow every country.
  const unknownCodes = policy.allowedCountryCodes.filter((code) => !CALLING_CODES.has(code));
  if (unknownCodes.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['allowedCountryCodes'], message: `${unknownCodes.join(', ')}: no country has this calling code (e.g. "1", "33", "44")` });
  }
  const { initialSeconds, maxSeconds } = policy.lockout;
  if (initialSeconds > maxSeconds) {
    ctx.addIssue({ code: 'custom', path: ['lockout'], message: `initialSeconds (${initialSeconds}) is more than maxSeconds (${maxSeconds}), the longest a lockout lasts` });
  }
  const { perDestination10Min, perDestinationHour } = policy.limits;
  if (perDestination10Min > perDestinationHour) {
    ctx.addIssue({
      code: 'custom',
      path: ['limits'],
      message: `perDestination10Min (${perDestination10Min}) is more than perDestinationHour (${perDestinationHour}): 10 minutes are part of an hour`,
    });
  }
});

export type RecoveryPolicy = z.output<typeof policySchema>;
export type PolicyOverrides = z.input<typeof policySchema>;

export const DEFAULT_POLICY: RecoveryPolicy = policySchema.parse({});

export class PolicyError extends Error {
  override name = 'PolicyError';
}

/** Defaults with `overrides` laid over them (nested objects merged key by key), validated. */
export function resolvePolicy(overrides: unknown): RecoveryPolicy {
  const parsed = policySchema.safeParse(overrides ?? {});
  if (!parsed.success) {
    throw new PolicyError(parsed.error.issues.map((i) => `${i.path.join('.') || '(policy)'}: ${i.message}`).join('; '));
  }
  return parsed.data;
}

/**
 * The policy that stored overrides make, for reading them: a stored setting the rules refuse (one saved before a
 * rule existed, such as a misspelt nested key) is left out, so its default applies, instead of every instance
 * failing on every read. Writing stays strict (resolvePolicy): the next `policy set` names what to clear.
 */
export function resolveStoredPolicy(overrides: unknown): { policy: RecoveryPolicy; ignored: string[] } {
  const kept = structuredClone(overrides ?? {}) as { lockout?: Record<string, unknown> };
  const ignored: string[] = [];
  // A lockout stored longer than the cap still holds as long as a lockout may (a year), not the 60-second default.
  for (const key of ['initialSeconds', 'maxSeconds']) {
    const value = kept.lockout?.[key];
    if (typeof value === 'number' && value > LONGEST_LOCKOUT_SECONDS) {
      kept.lockout![key] = LONGEST_LOCKOUT_SECONDS;
      ignored.push(`lockout.${key} (held at a year)`);
    }
  }
  for (;;) {
    // The shape alone: settings stored together before the rules on combinations existed behaved then as they
    // do now (a methodsRequired no account can meet sends nothing; the longest lockout wins), and leaving one of
    // them out could only weaken the policy (a methodsRequired of 2 read as 1).
    const parsed = policyShape.safeParse(kept);
    if (parsed.success) return { policy: parsed.data, ignored };
    const paths = parsed.error.issues.flatMap((i) => (i.code === 'unrecognized_keys' ? i.keys.map((key) => [...i.path, key]) : [i.path]));
    const dropped = paths.map((path) => dropSetting(kept, path)).filter((name) => name !== undefined);
    if (dropped.length === 0) return { policy: resolvePolicy(kept), ignored }; // throws: nothing left to leave out
    ignored.push(...dropped);
  }
}

/**
 * Deletes the deepest stored setting on `path` (a key of an object, not an item of a list) and returns its name;
 * nothing when the path is not stored (its default is in force).
 */
function dropSetting(root: unknown, path: readonly PropertyKey[]): string | undefined {
  let found: { node: Record<PropertyKey, unknown>; depth: number } | undefined;
  let node = root;
  for (const [depth, key] of path.entries()) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    if (!Array.isArray(node)) found = { node: node as Record<PropertyKey, unknown>, depth };
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  if (!found) return undefined;
  delete found.node[path[found.depth]!];
  return path.slice(0, found.depth + 1).map(String).join('.');
}

/** How many methods a recovery of this account needs: the policy's number, and always 2 for administrators. */
export function requiredMethodCount(policy: RecoveryPolicy, roles: readonly string[]): 1 | 2 {
  return roles.includes('admin') ? 2 : policy.methodsRequired;
}
