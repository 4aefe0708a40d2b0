// `npm run admin -- policy …`: the recovery and lockout policy. Only overrides are stored; `set` validates the
// whole resulting policy before writing, so a typo is refused and nothing changes. Instances pick a change up
// within POLICY_CACHE_SECONDS, without a restart.
import { DEFAULT_POLICY, PHONE_METHODS, PolicyError, resolveStoredPolicy } from '../policy/policy.ts';
import { ValidationError } from '../errors.ts';
import { createPolicyStore, POLICY_CACHE_SECONDS } from '../policy/store.ts';
import { defineCommand, UsageError, type Area } from './command.ts';
import { recordAdminChange } from './admin-audit.ts';
import type { Connection } from 'mongoose';
import { userModel } from '../accounts/user-model.ts';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { ableToRecover, placesCalls } from './recoverability.ts';

/** NIST SP 800-63B-4 §3.1.1.2: a password that is the only factor has at least 15 characters. */
const NIST_SINGLE_FACTOR_MIN_LENGTH = 15;

/** Names listed in the warning; the count says how many more. */
const NAMED = 10;

/**
 * Active accounts that cannot recover by themselves under `policy`: fewer usable methods registered than it (or
 * their admin role, or a lockdown) requires, or none of the strong ones their registration asks for. Their recovery walks the decoy pages and sends nothing, so nobody
 * learns what they registered; an administrator changing the policy is the one who should hear of it. A scan of the
 * users, acceptable on this admin-only path.
 */
async function unableToRecover(connection: Connection, policy: RecoveryPolicy, calls: boolean): Promise<string[]> {
  // Only what the rule reads: no password hash or sealed secret leaves the database for this.
  const wanted = { username: 1, roles: 1, status: 1, lockedDownAt: 1, 'securityInfo.alternateEmail': 1, 'securityInfo.mobilePhone': 1, 'securityInfo.officePhone': 1, 'securityInfo.authenticator.totpSecret': 1, 'securityInfo.appDevice.id': 1 };
  const users = await userModel(connection).find({ status: 'active' }).select(wanted).lean().exec();
  return users.filter((user) => !ableToRecover(user, policy, calls)).map((user) => user.username);
}

/** `a.b=value`: the value is JSON when it parses as JSON (numbers, booleans, lists), a plain string otherwise. */
function parseAssignment(text: string): [string[], unknown] {
  const at = text.indexOf('=');
  if (at <= 0) throw new UsageError(`expected name=value, got '${text}'`);
  const path = text.slice(0, at).split('.');
  if (path.some((part) => !/^[A-Za-z][A-Za-z0-9]*$/.test(part))) throw new UsageError(`'${text.slice(0, at)}' is not a policy setting`);
  const raw = text.slice(at + 1);
  try {
    return [path, JSON.parse(raw)];
  } catch {
    return [path, raw];
  }
}

function assign(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const part of path.slice(0, -1)) {
    const next = node[part];
    node = node[part] = typeof next === 'object' && next !== null && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
  }
  if (value === null) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
}

/**
 * Texts and calls allowed to every country: SMS pumping earns on the countries an installation never texts (Telnyx:
 * restricting countries is the single most effective defence), so an empty allow-list is worth a word each time.
 */
function everyCountryWarning(policy: RecoveryPolicy): string | undefined {
  const phones = policy.methodsEnabled.filter((id) => PHONE_METHODS.includes(id));
  if (!phones.length || policy.allowedCountryCodes.length) return undefined;
  return `warning: ${phones.join(', ')} may text or call every country (allowedCountryCodes is empty): list the calling codes your people's phones are in, e.g. \`policy set allowedCountryCodes='["1","44"]'\` (SMS pumping earns on the countries you never text).`;
}

const show = defineCommand({
  name: 'show',
  summary: 'Prints the policy in force (defaults with the stored overrides), and the overrides alone.',
  options: {},
  async run({ out, session }) {
    // Both from one read of the stored overrides, so they are of one version.
    const overrides = await createPolicyStore(await session.connection()).overrides();
    const { policy, ignored } = resolveStoredPolicy(overrides);
    out.result({ policy, overrides }, () => ['Policy in force:', JSON.stringify(policy, null, 2), '', 'Stored overrides:', JSON.stringify(overrides, null, 2)]);
    if (ignored.length) out.note(`warning: stored settings the rules refuse are not in force (their defaults are): ${ignored.join(', ')}; \`policy set <name>=null\` clears one.`);
    const countries = everyCountryWarning(policy);
    if (countries) out.note(countries);
  },
});

const set = defineCommand({
  name: 'set',
  summary: 'Changes settings: `policy set lockout.threshold=5 methodsRequired=2`; `name=null` returns one to its default.',
  arg: 'name=value',
  variadic: true,
  options: {},
  details: `Settings and their defaults:\n${JSON.stringify(DEFAULT_POLICY, null, 2)}\n\nInstances apply a change within ${POLICY_CACHE_SECONDS} seconds.`,
  async run({ arg, rest, out, session }) {
    const assignments = [arg, ...rest].map(parseAssignment);
    const settings = assignments.map(([path]) => path.join('.'));
    const store = createPolicyStore(await session.connection());
    let saved;
    try {
      // Laid over the latest overrides; again over newer ones if another admin saves at the same moment.
      saved = await store.update((overrides) => {
        for (const [path, value] of assignments) assign(overrides, path, value);
        return overrides;
      });
    } catch (error) {
      // A refused value, not a wrong command line: exit code 1 (README).
      if (error instanceof PolicyError) throw new ValidationError('policy_refused', error.message);
      throw error;
    }
    const { policy, overrides } = saved;
    await recordAdminChange(session, { type: 'policy.changed', target: settings.join(',') });
    out.result({ policy, overrides }, () => ['Policy updated.', JSON.stringify(overrides, null, 2)]);
    out.note(`note: every instance applies it within ${POLICY_CACHE_SECONDS} seconds.`);
    if (policy.passwordMinLength < NIST_SINGLE_FACTOR_MIN_LENGTH) {
      out.note(
        `warning: passwordMinLength ${policy.passwordMinLength} is below ${NIST_SINGLE_FACTOR_MIN_LENGTH}, the least NIST SP 800-63B-4 allows for a password used alone, as sign-in here is (shorter ones are for a password that is one of two factors).`,
      );
    }
    const countries = everyCountryWarning(policy);
    if (countries) out.note(countries);
    const stuck = await unableToRecover(await session.connection(), policy, placesCalls(session));
    if (stuck.length) {
      const names = stuck.slice(0, NAMED).join(', ') + (stuck.length > NAMED ? ` and ${stuck.length - NAMED} more` : '');
      out.note(`warning: ${stuck.length} active account(s) cannot recover by themselves under this policy (too few usable verification methods registered): ${names}. \`users set-methods\` adds one.`);
    }
  },
});

export const policyArea: Area = {
  name: 'policy',
  summary: 'Show and change the recovery and lockout policy',
  commands: [show, set],
};
