// Benchmark child: the least any password sign-in can do over HTTP. A bare Koa server whose POST reads a form,
// verifies its `password` with argon2id (the same parameters as Latchkey's, from BENCH_ARGON2) and answers a 303;
// no database, no CSRF, no lockout, no session. Password POSTs per second here ÷ raw argon2 verifications per
// second is the ceiling for Latchkey's password POST ratio on this machine: what the HTTP round trip and the
// shared cores leave of argon2's own rate.
import argon2 from 'argon2';
import Koa from 'koa';
import { runKoaChild } from './koa-child.ts';

/** Larger than any sign-in form the benchmark sends. */
const MAX_FORM_BYTES = 4096;

async function readForm(request: NodeJS.ReadableStream): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) throw new Error('form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

await runKoaChild(async () => {
  const params = JSON.parse(process.env.BENCH_ARGON2 ?? '') as { memoryCost: number; timeCost: number; parallelism: number };
  const password = process.env.BENCH_PASSWORD ?? '';
  const passwordHash = await argon2.hash(password.normalize('NFKC'), { type: argon2.argon2id, ...params });

  const app = new Koa();
  app.use(async (ctx) => {
    const form = await readForm(ctx.req);
    const valid = await argon2.verify(passwordHash, (form.get('password') ?? '').normalize('NFKC'));
    // A wrong password is not what the benchmark sends: it answers otherwise, so the window counts it as failed.
    if (!valid) ctx.throw(401);
    ctx.status = 303;
    ctx.set('location', '/signed-in');
  });
  return app;
});
