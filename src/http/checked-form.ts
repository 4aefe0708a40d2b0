// A form posted by one of our pages, as every route takes it: its CSRF token checked for the page that issued it,
// then its fields against a schema. A refusal names the fields that failed, never their values.
import type { Context } from 'koa';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { readForm } from './body.ts';
import { verifyCsrfToken, type CsrfOptions } from './csrf.ts';

/** A form that carries nothing but its CSRF token (a confirmation button). */
export const csrfOnly = z.object({ csrf: z.string() });

/** `form` (already read) checked: its token for `scope`, then its fields against `schema`. */
export function checkForm<T>(ctx: Context, form: Record<string, string>, schema: z.ZodType<T>, scope: string, csrf: CsrfOptions): T {
  verifyCsrfToken(ctx, scope, form.csrf, csrf);
  const parsed = schema.safeParse(form);
  if (!parsed.success) throw new ValidationError('invalid_form', parsed.error.issues.map((i) => i.path.join('.')).join(','));
  return parsed.data;
}

/** The request's form read (at most `limit` bytes) and checked as `checkForm` does. */
export async function readCheckedForm<T>(ctx: Context, schema: z.ZodType<T>, scope: string, { limit, ...csrf }: CsrfOptions & { limit: number }): Promise<T> {
  return checkForm(ctx, await readForm(ctx, limit), schema, scope, csrf);
}
