// The audit log: one collection of security events (every recovery step, send, failure, block, reset, unlock,
// lockout and "This wasn't me", and every change an administrator makes: to an account, a client, the policy or
// the keys), each with the account, the client's address and browser, the support code and a stable reason code,
// and for an administrator's change who made it and to what. Nothing secret goes in: no codes, passwords, tokens,
// client secrets, keys or full phone numbers.
import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import type { Context } from 'koa';
import type { Connection } from 'mongoose';

/** The most events one `list` returns. */
export const MAX_AUDIT_PAGE = 1000;
export const AUDIT_COLLECTION = 'audit_events';

/** Every type of event the audit log records (`audit list --type` takes these alone). */
export const AUDIT_TYPES = [
  'recovery.started',
  'recovery.step',
  'recovery.blocked',
  'recovery.failed',
  'recovery.cancelled',
  'recovery.method_disabled',
  'code.sent',
  'code.refused',
  'code.failed',
  'code.verified',
  'password.reset',
  'password.changed',
  'account.unlocked',
  'account.locked',
  'account.lockdown',
  'account.signed_out',
  'account.session_ended',
  'account.app_removed',
  'account.created',
  'account.disabled',
  'account.enabled',
  'account.roles_changed',
  'security_info.changed',
  'signin.failed',
  'delivery.failed',
  'delivery.breaker_opened',
  'client.created',
  'client.updated',
  'client.secret_rotated',
  'client.deleted',
  'policy.changed',
  'keys.rotated',
  'keys.revoked',
  'keys.cookie_rotated',
  'keys.secrets_resealed',
] as const;

export type AuditType = (typeof AUDIT_TYPES)[number];

export interface AuditEvent {
  type: AuditType;
  /** The account concerned; absent for unknown identifiers (decoy flows). */
  accountId?: string;
  ip?: string;
  userAgent?: string;
  /** The support code shown to the user: a recovery flow's own (the same on each of its pages), else the request id. */
  supportCode?: string;
  /** A stable reason code, e.g. `wrong_code`, `limit_destination`, `captcha_wrong`; `admin` for an administrator's change. */
  reason?: string;
  flowId?: string;
  method?: string;
  /** An administrator's change: who ran the command, as the machine it ran on tells (admin/admin-audit.ts). */
  actor?: string;
  /** An administrator's change to something other than an account: the client id, the key id, the policy settings. */
  target?: string;
}

/** The audit's user-agent length: enough to tell browsers apart, not a place to store whatever a client sends. */
const AUDITED_USER_AGENT_LENGTH = 200;

/** Where an event's request came from, as the audit keeps it: the client's address, its browser, the request's support code. */
export function requestFacts(ctx: Context): Pick<AuditEvent, 'ip' | 'userAgent' | 'supportCode'> {
  const { requestId } = ctx.state as { requestId?: string };
  return { ip: ctx.ip, userAgent: ctx.get('user-agent').slice(0, AUDITED_USER_AGENT_LENGTH), ...(requestId && { supportCode: requestId }) };
}

export interface StoredAuditEvent extends AuditEvent {
  _id: string;
  at: Date;
}

export interface AuditFilter {
  accountId?: string;
  supportCode?: string;
  type?: string;
  ip?: string;
  /** Events at or after this time. */
  since?: Date;
  /** Events before this time (the oldest time a page showed, to read on from there). */
  until?: Date;
  limit?: number;
}

export interface AuditLog {
  record(event: AuditEvent): Promise<void>;
  /**
   * Newest first; a rare admin path. A time range is a range of `_id`s (indexed on MongoDB); the other filters scan
   * within it, bounded by `limit`.
   */
  list(filter?: AuditFilter): Promise<StoredAuditEvent[]>;
  /** Deletes the events recorded before `before` (a range of `_id`s); returns how many went. */
  prune(before: Date): Promise<number>;
}

/**
 * The start of every event id recorded at `at`: ids are the time in base 36 (fixed width), a dash, this process's
 * count within that millisecond (fixed width) and random hex, so they sort by time, the events one process records
 * in one millisecond in their order, and all ids of a millisecond sort at or after its prefix ('-' sorts before every
 * digit).
 */
const idPrefixAt = (at: Date) => at.getTime().toString(36).padStart(9, '0');

let lastPrefix = '';
let countInMillisecond = 0;
/** The next of this process's counts for ids starting with `prefix` (0 at each new millisecond). */
function countFor(prefix: string): string {
  countInMillisecond = prefix === lastPrefix ? countInMillisecond + 1 : 0;
  lastPrefix = prefix;
  return countInMillisecond.toString(36).padStart(4, '0');
}

/**
 * An IPv4 client as a dual-stack listener reports it (::ffff:203.0.113.7) is recorded and found as its IPv4 address,
 * the form an administrator copies from a report; events recorded in the mapped form are found by either.
 */
const plainAddress = (ip: string) => ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
const addressForms = (ip: string) => {
  const plain = plainAddress(ip);
  return isIPv4(plain) ? [plain, `::ffff:${plain}`] : [plain];
};

export function createAuditLog(connection: Connection, clock: () => number = Date.now): AuditLog {
  const events = connection.db!.collection<StoredAuditEvent>(AUDIT_COLLECTION);
  return {
    async record(event) {
      const at = new Date(clock());
      // Time-ordered ids: listing newest first needs no other index.
      const prefix = idPrefixAt(at);
      const _id = `${prefix}-${countFor(prefix)}${randomBytes(6).toString('hex')}`;
      const fields = Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined)) as AuditEvent;
      await events.insertOne({ ...fields, ...(fields.ip && { ip: plainAddress(fields.ip) }), _id, at });
    },
    async list({ accountId, supportCode, type, ip, since, until, limit = 50 } = {}) {
      const range = { ...(since && { $gte: idPrefixAt(since) }), ...(until && { $lt: idPrefixAt(until) }) };
      const query = {
        ...((since || until) && { _id: range }),
        ...(accountId && { accountId }),
        ...(supportCode && { supportCode }),
        ...(type && { type: type as AuditType }),
        ...(ip && { ip: { $in: addressForms(ip) } }),
      };
      return events.find(query).sort({ _id: -1 }).limit(Math.min(limit, MAX_AUDIT_PAGE)).toArray();
    },
    async prune(before) {
      return (await events.deleteMany({ _id: { $lt: idPrefixAt(before) } })).deletedCount;
    },
  };
}
