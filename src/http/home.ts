// The page at `/`: what this server is, its issuer and discovery document, the way back into an account, and in
// development a link to the demo application. People who type the server's address land here instead of a 404.
import Router from '@koa/router';
import { renderPage } from './render.ts';

export interface HomeOptions {
  issuer: string;
  /** Development only: where `npm run demo` serves its sample application. */
  demoAppUrl: string | undefined;
}

export function homePage({ issuer, demoAppUrl }: HomeOptions): Router {
  const router = new Router();
  router.get('/', async (ctx) => {
    await renderPage(ctx, 'home', { titleId: 'home.title', issuer, discovery: `${issuer}/.well-known/openid-configuration`, demoAppUrl });
  });
  return router;
}
