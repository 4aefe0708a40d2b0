// `npm run admin -- audit`: the security events of the audit log, newest first, filtered by account (id, username
// or email), by the support code a user read out, by type, by client address and by time.
import { isIP } from 'node:net';
import { AUDIT_TYPES, createAuditLog, MAX_AUDIT_PAGE } from '../audit/audit.ts';
import { accounts } from './accounts-session.ts';
import { defineCommand, UsageError, wholeNumber, type Area } from './command.ts';
import { table } from './output.ts';
import { findUser } from './user-admin.ts';

/**
 * A code that found no event is most often a page's own request id (the recovery's first page, before its flow
 * exists; a page that failed without changing anything): the request log has it.
 */
const NO_EVENTS_FOR_CODE =
  "(no events) A code that names no event is a single request's (the first recovery page shows one, before the flow\n" +
  'begins; so does an error that changed nothing): find it in the server log, as supportCode.';

/** A --since or --until value: a date (midnight UTC) or a date and time, as ISO 8601 writes them. */
function timeOption(value: string | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value) ? new Date(value.replace(' ', 'T')) : undefined;
  // A day that does not exist (2026-02-30) would roll over into the next month: refused, as a typo.
  const day = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  const dayExists = !Number.isNaN(day.getTime()) && day.toISOString().slice(0, 10) === value.slice(0, 10);
  if (!at || Number.isNaN(at.getTime()) || !dayExists) throw new UsageError(`${flag} must be a date or a time with its zone, like 2026-12-01 or 2026-12-01T09:30Z (got '${value}')`);
  return at;
}

const list = defineCommand({
  name: 'list',
  summary: 'Lists audit events, newest first.',
  options: {
    account: { type: 'string', value: '<id-or-login>', help: 'Only this account (id, username or email)' },
    'support-code': { type: 'string', value: '<code>', help: 'Only the events with this support code: a whole recovery flow, or the one request outside a flow' },
    type: { type: 'string', value: '<type>', help: 'Only this type, e.g. password.reset, code.refused, account.locked, client.secret_rotated, policy.changed' },
    ip: { type: 'string', value: '<address>', help: "Only the events from this client address (the address as the server saw it)" },
    since: { type: 'string', value: '<time>', help: 'Only the events at or after this date or time (2026-12-01, 2026-12-01T09:30Z)' },
    until: { type: 'string', value: '<time>', help: 'Only the events before this date or time (a full page says what to give to read on)' },
    limit: { type: 'string', value: '<n>', help: 'How many to show, at most 1000 (default 50)' },
  },
  details:
    'Events are kept AUDIT_RETENTION_DAYS days (365 by default), then deleted by the running server.\n' +
    'Example: npm run admin -- audit list --ip 203.0.113.7 --since 2026-12-01 --until 2026-12-02',
  async run({ values, out, session }) {
    const connection = await session.connection();
    let accountId: string | undefined;
    if (values.account) {
      accountId = (await findUser(await accounts(session), values.account))._id;
    }
    const since = timeOption(values.since, '--since');
    const until = timeOption(values.until, '--until');
    if (since && until && since >= until) throw new UsageError('--since must be earlier than --until');
    // A type no event has (a typo, password.rest) would list nothing and look like a quiet log.
    if (values.type && !(AUDIT_TYPES as readonly string[]).includes(values.type)) throw new UsageError(`--type: no event has the type ${values.type}; the types are ${AUDIT_TYPES.join(', ')}`);
    // A range or a name would list nothing and look like a quiet log, as a mistyped type would.
    if (values.ip && !isIP(values.ip)) throw new UsageError(`--ip takes one IPv4 or IPv6 address, as the server saw it (no range, no host name; got '${values.ip}')`);
    const limit = wholeNumber(values.limit, '--limit', 50, 1, MAX_AUDIT_PAGE);
    const events = await createAuditLog(connection).list({
      ...(accountId && { accountId }),
      ...(values['support-code'] && { supportCode: values['support-code'].toUpperCase() }),
      ...(values.type && { type: values.type }),
      ...(values.ip && { ip: values.ip }),
      ...(since && { since }),
      ...(until && { until }),
      limit,
    });
    out.result(events, () =>
      table(
        ['TIME', 'TYPE', 'ACCOUNT', 'TARGET', 'REASON', 'METHOD', 'IP', 'SUPPORT CODE', 'BY'],
        events.map((e) => [e.at.toISOString(), e.type, e.accountId ?? '-', e.target ?? '', e.reason ?? '', e.method ?? '', e.ip ?? '', e.supportCode ?? '', e.actor ?? '']),
        values['support-code'] ? NO_EVENTS_FOR_CODE : '(no events)',
      ),
    );
    // A full page may not be all: say how to read on. From the millisecond after the oldest shown, since ids are
    // ordered by the millisecond only: events of that millisecond the page left out are not skipped (those it showed
    // show again).
    const oldest = events.at(-1);
    if (events.length === Math.min(limit, 1000) && oldest) {
      out.note(`(more may be older: add --until ${new Date(oldest.at.getTime() + 1).toISOString()} to read on; the oldest shown shows again)`);
    }
  },
});

export const auditArea: Area = {
  name: 'audit',
  summary: 'Read the audit log of security events',
  commands: [list],
};
