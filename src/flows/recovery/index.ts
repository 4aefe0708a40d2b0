// The recovery feature, assembled from its parts: give it the connection, the accounts, the policy, a CAPTCHA
// and a way to send messages, and it returns its router and the notifier that the sign-in lockout also uses.
// Everything it needs comes in as an argument, so it can be mounted into any Koa app around oidc-provider.
import { createHmac } from 'node:crypto';
import type { Connection } from 'mongoose';
import type Router from '@koa/router';
import type { AuditLog } from '../../audit/audit.ts';
import type { VerificationMethod } from '../../methods/method.ts';
import { createPolicyStore, type PolicyStore } from '../../policy/store.ts';
import { countryAllowed, phoneRegion } from '../../methods/sms.ts';
import { createChallenges, type Challenges } from '../../security/challenges.ts';
import { keyBeyondDatabase } from '../../security/encryption.ts';
import { createLimits, type Limits } from '../../security/limits.ts';
import type { LockedWhat } from '../../accounts/lockout.ts';
import { createProofCeiling, type ProofCeiling } from '../../security/proof-ceiling.ts';
import { createPumpingBreaker, type PumpingBreaker } from '../../security/pumping-breaker.ts';
import { DEFAULT_LOCALE } from '../../http/i18n.ts';
import { brandEmails } from '../../delivery/branded-email.ts';
import type { Brand } from '../../http/brand.ts';
import { createLockdowns } from './lockdown.ts';
import { createNotifier, type Notifier } from './notices.ts';
import { recoveryRoutes, type RecoveryAccounts, type RecoveryDeps } from './routes.ts';
import type { CaptchaGate } from '../../security/captcha-gate.ts';
import { createFlowStore } from './store.ts';
import { createCallAnswers } from './call-answers.ts';
import type { VoiceProvider } from '../../delivery/voice.ts';
import type { AppDevices } from '../../methods/app-devices.ts';

export interface RecoveryFeatureDeps {
  connection: Connection;
  config: RecoveryDeps['config'];
  accounts: RecoveryAccounts;
  policy: PolicyStore;
  methods: VerificationMethod[];
  captcha: CaptchaGate;
  enqueue: RecoveryDeps['enqueue'];
  audit: AuditLog;
  /** The instances' shared secret (from the database) that keys limit keys, decoy hints and, with `configurationKey`, code hashes. */
  secret: string;
  /** DATA_ENCRYPTION_KEY: kept outside the database. */
  configurationKey: Buffer;
  /** Places the call methods' calls (delivery's VoiceProvider); absent, no call method is offered. */
  voice?: VoiceProvider;
  /** The enrolled authenticator apps (methods/app-devices.ts); absent, no app notification is offered. */
  appDevices?: AppDevices;
  clock?: () => number;
}

export interface RecoveryFeature {
  routes: Router;
  notifier: Notifier;
  /**
   * Tells the owner their account, or one browser's password sign-in, was locked after wrong passwords (`what`): at
   * most one notice of each kind per account per hour.
   */
  notifyLockout(accountId: string, what: LockedWhat): Promise<void>;
  /**
   * The recovery's codes, send limits and branded sending, for the security info page at sign-in
   * (interactions/security-info-routes.ts): a registered destination's codes count against one set of limits wherever sent.
   */
  codes: { challenges: Challenges; limits: Limits; ceiling: ProofCeiling; breaker: PumpingBreaker; enqueue: RecoveryDeps['enqueue'] };
}

const LOCKOUT_NOTICES_PER_HOUR = 1;

/** Every email of the recovery feature (codes and security notices) wears the operator's brand. */
function branded(brand: Brand, origin: string, enqueue: RecoveryDeps['enqueue']): RecoveryDeps['enqueue'] {
  const brandEmail = brandEmails(brand, origin);
  return (message) => enqueue(message.channel === 'email' ? brandEmail({ ...message, channel: 'email' }) : message);
}

/**
 * The security notices (and the branded enqueue they go through) on their own, for whoever tells an owner about a
 * change outside the recovery pages: the admin CLI's set-password.
 */
export function securityNotices({
  connection,
  config,
  enqueue: enqueueMessage,
  policy = createPolicyStore(connection),
  clock = Date.now,
}: Pick<RecoveryFeatureDeps, 'connection' | 'config' | 'enqueue' | 'clock'> & { policy?: PolicyStore }) {
  const enqueue = branded(config.brand, new URL(config.issuer).origin, enqueueMessage);
  const lockdowns = createLockdowns(connection, clock);
  const textsTo = async (phone: string) => countryAllowed(phone, await policy.current());
  const helpContact = async () => {
    const { helpdesk } = await policy.current();
    return helpdesk.url ?? helpdesk.email ?? config.brand.helpUrl;
  };
  return { enqueue, lockdowns, notifier: createNotifier({ enqueue, lockdowns, origin: new URL(config.issuer).origin, textsTo, helpContact, clock }) };
}

export function createRecoveryFeature({ connection, config, accounts, policy, methods, captcha, enqueue: enqueueMessage, audit, secret, configurationKey, voice, appDevices, clock = Date.now }: RecoveryFeatureDeps): RecoveryFeature {
  const derive = (purpose: string) => createHmac('sha256', secret).update(purpose).digest('base64url');
  const { enqueue, lockdowns, notifier } = securityNotices({ connection, config, enqueue: enqueueMessage, policy, clock });
  const subjectSecret = derive('recovery-subject');
  const limits = createLimits(connection, derive('limit-keys'), clock);
  // The only key here that guards a secret the database holds (a live code, 6 digits: a million guesses undo its
  // hash in a second): with DATA_ENCRYPTION_KEY too, so a copy of the database alone does not. The others stay
  // the database's alone, so that a new configuration key (or the upgrade that brought this) neither restarts the
  // limits and the proof ceiling nor redraws every decoy (an unknown login's page would change where a real
  // account's does not, telling which logins exist).
  const ceiling = createProofCeiling(connection, derive('proof-ceiling'), clock);
  const challenges = createChallenges(connection, keyBeyondDatabase(configurationKey, secret, 'code-hash'), clock);
  const routes = recoveryRoutes({
    config,
    accounts,
    policy,
    methods,
    flows: createFlowStore(connection, clock),
    challenges,
    limits,
    ceiling,
    captcha,
    enqueue,
    notifier,
    lockdowns,
    audit,
    subjectKey: (identifier) => createHmac('sha256', subjectSecret).update(identifier.trim().normalize('NFKC').toLowerCase()).digest(),
    ...(voice && { voice }),
    ...(appDevices && { appDevices }),
    callAnswers: createCallAnswers(connection, clock),
    clock,
  });
  async function notifyLockout(accountId: string, what: LockedWhat): Promise<void> {
    if (!(await policy.current()).notify.onLockout) return;
    const kind = ({ account: 'lockout', account_disabled: 'lockout_disabled', device_disabled: 'device_disabled' } as const)[what];
    // One an hour of each (a lock that turns sign-in off is told even right after the lock before it).
    if (!(await limits.allow(`notice-${kind}`, accountId, LOCKOUT_NOTICES_PER_HOUR, 3600))) return;
    const user = await accounts.findById(accountId);
    // The lockout happens on the sign-in path, which knows no preferred language of the owner: the default one.
    // Anyone can lock accounts (wrong passwords): their texts have an installation-wide budget of their own, as
    // large as the one for codes but apart from it, so locking accounts can neither run up the bill nor use up the
    // texts that recoveries need. The emails always go (one per account per hour at most).
    if (user) await notifier.notify(user, kind, DEFAULT_LOCALE, async () => limits.allowNoticeText(await policy.current()));
  }

  const breaker = createPumpingBreaker(connection, derive('limit-keys'), phoneRegion, clock);
  return { routes, notifier, notifyLockout, codes: { challenges, limits, ceiling, breaker, enqueue } };
}

