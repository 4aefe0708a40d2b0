// `npm run admin -- audit`: the security events of the audit log, newest first, filtered by account (id, username
// or email) or by the support code a user read out.
import { createAuditLog } from '../audit/audit.ts';
import { createPasswordHasher } from '../accounts/passwords.ts';
import { createAccounts } from '../accounts/users.ts';
import { createAccessRevoker } from '../oidc/revocation.ts';
import { defineCommand, wholeNumber, type Area } from './command.ts';
import { table } from './output.ts';
import { findUser } from './user-admin.ts';

/**
 * A code that found no event is most often a page's own request id (the recovery's first page, before its flow
 * exists; a page that failed without changing anything): the request log has it.
 */
const NO_EVENTS_FOR_CODE =
  "(no events) A code that names no event is a single request's (the first recovery page shows one, before the flow\n" +
  'begins; so does an error that changed nothing): find it in the server log, as supportCode.';

const list = defineCommand({
  name: 'list',
  summary: 'Lists audit events, newest first.',
  options: {
    account: { type: 'string', value: '<id-or-login>', help: 'Only this account (id, username or email)' },
    'support-code': { type: 'string', value: '<code>', help: 'Only the events with this support code: a whole recovery flow, or the one request outside a flow' },
    type: { type: 'string', value: '<type>', help: 'Only this type, e.g. password.reset, code.refused, account.locked, client.secret_rotated, policy.changed' },
    limit: { type: 'string', value: '<n>', help: 'How many to show, at most 1000 (default 50)' },
  },
  async run({ values, out, session }) {
    const connection = await session.connection();
    let accountId: string | undefined;
    if (values.account) {
      const accounts = createAccounts(connection, await createPasswordHasher(session.config().argon2), createAccessRevoker(connection));
      accountId = (await findUser(accounts, values.account))._id;
    }
    const events = await createAuditLog(connection).list({
      ...(accountId && { accountId }),
      ...(values['support-code'] && { supportCode: values['support-code'].toUpperCase() }),
      ...(values.type && { type: values.type }),
      limit: wholeNumber(values.limit, '--limit', 50, 1),
    });
    out.result(events, () =>
      table(
        ['TIME', 'TYPE', 'ACCOUNT', 'TARGET', 'REASON', 'METHOD', 'IP', 'SUPPORT CODE', 'BY'],
        events.map((e) => [e.at.toISOString(), e.type, e.accountId ?? '-', e.target ?? '', e.reason ?? '', e.method ?? '', e.ip ?? '', e.supportCode ?? '', e.actor ?? '']),
        values['support-code'] ? NO_EVENTS_FOR_CODE : '(no events)',
      ),
    );
  },
});

export const auditArea: Area = {
  name: 'audit',
  summary: 'Read the audit log of security events',
  commands: [list],
};
