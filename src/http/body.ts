// Reads an application/x-www-form-urlencoded body with a size cap. Anything else is refused: our pages only post
// plain forms, and the provider parses its own endpoints' bodies.
import type { Context } from 'koa';
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from '../errors.ts';

export async function readForm(ctx: Context, limit: number): Promise<Record<string, string>> {
  return parseForm(await readFormBytes(ctx, limit));
}

/** The form's bytes as they arrived (a signature is checked over them), with the same checks as `readForm`. */
export async function readFormBytes(ctx: Context, limit: number): Promise<Buffer> {
  if (!ctx.is('application/x-www-form-urlencoded')) throw new UnsupportedMediaTypeError(`content-type ${ctx.get('content-type')}`);
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new PayloadTooLargeError(`declared ${declared} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        // Drop the rest instead of reading it, and close the connection after the 413 page: destroying the socket
        // now would leave the browser with a reset connection instead of an answer.
        ctx.set('Connection', 'close');
        ctx.req.unpipe();
        ctx.req.resume();
        throw new PayloadTooLargeError(`more than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
  } catch (error) {
    // The client went away before its body ended (a closed tab, a dropped connection): its request, not a fault of
    // ours, though nobody is left to read the answer.
    if (ctx.req.destroyed && !(error instanceof PayloadTooLargeError)) throw new ValidationError('body_aborted', `connection closed after ${size} bytes of the body`);
    throw error;
  }
  return Buffer.concat(chunks);
}

/** A form body's fields, refusing broken UTF-8 and repeated fields. */
export function parseForm(bytes: Buffer): Record<string, string> {
  const form = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(bytes.toString('utf8'))) {
    // Broken UTF-8 (raw or percent-encoded) decodes to U+FFFD: refuse it rather than store a mangled value.
    if (key.includes('\uFFFD') || value.includes('\uFFFD')) throw new ValidationError('invalid_encoding', 'body is not valid UTF-8');
    // A repeated field is ambiguous: refuse rather than guess which one counts.
    if (form.has(key)) throw new ValidationError('repeated_field', `field ${key} repeated`);
    form.set(key, value);
  }
  // A null-prototype object: a field named "constructor" or "__proto__" is just a field.
  return Object.assign(Object.create(null) as Record<string, string>, Object.fromEntries(form));
}
