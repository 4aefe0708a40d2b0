// Benchmark child: a bare Koa hello-world, the ceiling for any Koa app's requests per second on this machine. The
// discovery and JWKS figures are read against it.
import Koa from 'koa';
import { runKoaChild } from './koa-child.ts';

await runKoaChild(async () => {
  const app = new Koa();
  app.use((ctx) => {
    ctx.body = { hello: 'world' };
  });
  return app;
});
