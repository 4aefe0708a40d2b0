// The authenticator app's endpoints (methods/app-devices.ts has the protocol). The two it posts to take a small form
// and answer JSON; neither needs a cookie or a CSRF token, since each request is proved by a signature or a one-time
// token of its own, and neither says anything about an account to a request it does not prove.
//
//   GET  /authenticator/enrol     a page for a browser that opened the link: it is the app's
//   POST /authenticator/enrol     token=<enrolment token>&name=<device name>&proof=<JWT>  → { device, account, issuer }
//   POST /authenticator/pending   token=<JWT>                                             → { notification: … | null }
import Router from '@koa/router';
import { readForm } from '../http/body.ts';
import { requestFacts, type AuditLog } from '../audit/audit.ts';
import type { User } from '../accounts/user-model.ts';
import type { AppContext } from '../http/context.ts';
import { detached } from '../db/request-scope.ts';
import { renderPage } from '../http/render.ts';
import { ENROLMENT_PATH, PENDING_PATH, type AppDevices } from './app-devices.ts';

/** Forms of a few hundred bytes: a token, a name, a JWT with its key. */
const FORM_LIMIT = 8 * 1024;

export function appDeviceRoutes(
  devices: AppDevices,
  issuer: string,
  audit: AuditLog,
  /** Tells the owner a device was enrolled, on the contacts the account had before (the recovery's notices). */
  tellOwner: (before: User) => Promise<unknown>,
): Router {
  const router = new Router();
  const origin = new URL(issuer).origin;

  // The link opened in a browser (a click in an email, a phone's camera app): a page that says where it belongs.
  router.get(ENROLMENT_PATH, async (ctx) => {
    await renderPage(ctx, 'authenticator-enrol', { titleId: 'security_info.app_link_page_title' });
  });

  router.post(ENROLMENT_PATH, async (ctx) => {
    const form = await readForm(ctx, FORM_LIMIT);
    // A refused enrolment throws its 400 (EnrolmentError), answered as JSON with a support code.
    const { deviceId, before, user } = await devices.enrol(form);
    // Named as "Your security info" names what it changes (its kind), as every security_info.changed record is.
    await audit.record({ type: 'security_info.changed', accountId: user._id, method: 'appDevice', reason: 'app_enrolled', ...requestFacts(ctx) });
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { device: deviceId, account: user.username, issuer };
    // Told on the contacts the account had before, with the "This wasn't me" link: a device enrolled by someone
    // else (a link seen over a shoulder) could approve a recovery. Off the answer's path: the device is enrolled
    // whatever the mail server does, and the app is told so.
    void detached(() =>
      tellOwner(before).catch((error: unknown) => {
        (ctx as AppContext).state.log.error({ err: error, accountId: user._id }, 'app enrolment notice failed');
      }),
    );
  });

  router.post(PENDING_PATH, async (ctx) => {
    const form = await readForm(ctx, FORM_LIMIT);
    const request = await devices.authenticate(form.token, `${origin}${PENDING_PATH}`);
    ctx.set('Cache-Control', 'no-store');
    if (!request) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_token' };
      return;
    }
    const waiting = await devices.waiting(request.deviceId);
    ctx.body = { notification: waiting ? { text: waiting.text, answerUrl: waiting.answerUrl, digits: waiting.digits, createdAt: waiting.createdAt, expiresAt: waiting.expiresAt } : null };
  });

  return router;
}
