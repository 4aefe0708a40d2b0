// The page at `/`: what this server is, its issuer and discovery document, the way back into an account, and in
// development a link to the demo application. People who type the server's address (or the issuer's) land here
// instead of a 404.
import Router from '@koa/router';
import type { RecoveryPolicy } from '../policy/policy.ts';
import { renderPage } from './render.ts';

/** The icon every page names (views/layout.ejs). */
const FAVICON = '/static/favicon.svg';

export interface HomeOptions {
  issuer: string;
  /** Development only: where `npm run demo` serves its sample application. */
  demoAppUrl: string | undefined;
  /** Whether people may review their security info themselves (`registration.selfService`): linked only then. */
  policy: { current(): Promise<RecoveryPolicy> };
}

export function homePage({ issuer, demoAppUrl, policy }: HomeOptions): Router {
  const router = new Router();
  router.get('/', async (ctx) => {
    const securityInfo = (await policy.current()).registration.selfService;
    await renderPage(ctx, 'home', { titleId: 'home.title', issuer, discovery: `${issuer}/.well-known/openid-configuration`, demoAppUrl, securityInfo });
  });
  // The issuer's own URL serves nothing in OpenID Connect (its documents live below it), but it is the first address
  // a newcomer is shown: it leads here, to what the server is and where discovery is.
  const issuerPath = new URL(issuer).pathname.replace(/\/$/, '');
  if (issuerPath) {
    router.get([issuerPath, `${issuerPath}/`], (ctx) => {
      ctx.status = 303;
      ctx.redirect('/');
    });
  }
  // Browsers ask for /favicon.ico of any page that names no icon (a JSON document, the development outbox's JSON).
  router.get('/favicon.ico', (ctx) => {
    ctx.status = 301;
    ctx.redirect(FAVICON);
  });
  return router;
}
