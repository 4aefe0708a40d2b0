// "This wasn't me": the link in a security notice locks the account down (access revoked, sign-in refused until a
// password reset with two methods, or an administrator) and then offers the recovery, where the account can use it.
import type Router from '@koa/router';
import type { Context } from 'koa';
import { issueCsrfToken } from '../../http/csrf.ts';
import { supportedUiLocale } from '../../http/i18n.ts';
import { csrfOnly } from '../../http/checked-form.ts';
import type { FlowKit } from './flow-kit.ts';
import type { RecoveryDeps } from './routes.ts';
import { recoveryMethods } from './subject.ts';

export function lockdownRoutes(router: Router, kit: FlowKit, deps: RecoveryDeps): void {
  const { accounts, lockdowns } = deps;
  const { readValid, page, record, csrfOptions } = kit;

  // The link's token locks the account down for days to whoever holds it, so logs never show it
  // (LOCKDOWN_PATH_PREFIX, http/request-context.ts).

  /**
   * The language a notice's link asked for (`?ui_locales=`), kept by the confirmation and by the way on to the
   * recovery, so the owner reads on in the notice's language whatever their browser's is.
   */
  const noticeLanguage = (ctx: Context) => {
    const language = supportedUiLocale(typeof ctx.query.ui_locales === 'string' ? ctx.query.ui_locales : undefined);
    return language ? `?ui_locales=${language}` : '';
  };

  router.get('/lockdown/:token', async (ctx) => {
    const accountId = await lockdowns.peek(ctx.params.token!);
    // Which account: the link went to its owner's contacts, and whoever holds it can lock it down anyway.
    const account = accountId ? (await accounts.findById(accountId))?.username : undefined;
    const language = noticeLanguage(ctx);
    const csrf = issueCsrfToken(ctx, 'recovery:lockdown', csrfOptions);
    await page(ctx, 'lockdown', { valid: Boolean(accountId), account, done: false, csrf, action: `${ctx.path}${language}`, recover: `/recover${language}` }, accountId ? 200 : 410);
  });

  router.post('/lockdown/:token', async (ctx) => {
    await readValid(ctx, csrfOnly, 'recovery:lockdown');
    const accountId = await lockdowns.peek(ctx.params.token!);
    const recover = `/recover${noticeLanguage(ctx)}`;
    if (!accountId) return page(ctx, 'lockdown', { valid: false, done: false, recover }, 410);
    // The lockdown first, the link used up after it: should the database fail in between, the owner's 503 page says
    // "try again", and the link must still work then. Locking down twice (a double click) is harmless; only the
    // request that used the link records it.
    await accounts.lockDown(accountId);
    if (await lockdowns.use(ctx.params.token!)) await record(ctx, { type: 'account.lockdown', accountId, reason: 'not_me' });
    // "…or contact your administrator": with the way to, as the recovery's own pages give it. An account whose
    // security info is now too little for a lockdown's two proofs (one method, say) would only walk the decoy pages:
    // the page says only an administrator can help. Whoever holds the link reads one of the owner's contacts already.
    const current = await deps.policy.current();
    const lockedDown = await accounts.findById(accountId);
    const selfService = lockedDown?.status === 'active' && recoveryMethods({ ...lockedDown, lockedDownAt: lockedDown.lockedDownAt ?? new Date() }, deps.methods, current).able;
    await page(ctx, 'lockdown', { valid: true, done: true, selfService, recover, helpdesk: current.helpdesk });
  });
}
