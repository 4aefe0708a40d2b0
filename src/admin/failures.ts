// Turns whatever stopped an admin command into a message for the operator and an exit code:
//   2  the command line is wrong (see --help)
//   1  everything else: refused input, not found, already exists, database or configuration problems.
import { ConfigError } from '../../config/index.ts';
import { AppError, ConflictError, NotFoundError, ServiceUnavailableError, ValidationError } from '../errors.ts';
import { UsageError } from './command.ts';
import { AdminSetupError } from './session.ts';

export interface Failure {
  exitCode: number;
  /** Stable, for `--json` consumers: the AppError code, or usage / setup / configuration / internal_error. */
  code: string;
  message: string;
  hint?: string;
}

/** Headlines for the codes the admin modules raise; other errors fall back to their class. */
const HEADLINES: Record<string, string> = {
  invalid_client_metadata: 'invalid client settings',
  public_client: 'not possible for a public client',
  keyed_client: 'not possible for a client authenticated by its keys',
  client_not_found: 'no such client',
  client_exists: 'client id already taken',
  invalid_username: 'invalid username',
  invalid_email: 'invalid email address',
  invalid_name: 'invalid name',
  invalid_phone: 'invalid phone number',
  country_not_allowed: 'country not allowed',
  same_phone: 'one phone, two methods',
  invalid_password: 'password refused',
  user_not_found: 'no such user',
  login_taken: 'username or email already in use',
  ambiguous_user: 'ambiguous user',
  policy_refused: 'policy refused, nothing changed',
};

function headline(error: AppError): string {
  const known = HEADLINES[error.code];
  if (known) return known;
  if (error instanceof ValidationError) return 'refused';
  if (error instanceof NotFoundError) return 'not found';
  if (error instanceof ConflictError) return 'already exists';
  if (error instanceof ServiceUnavailableError) return 'temporarily unavailable, try again';
  return error.code;
}

export function describeFailure(error: unknown): Failure {
  if (error instanceof UsageError) return { exitCode: 2, code: 'usage', message: error.message, ...(error.hint && { hint: error.hint }) };
  if (error instanceof AdminSetupError) return { exitCode: 1, code: 'setup', message: error.message };
  if (error instanceof ConfigError) return { exitCode: 1, code: 'configuration', message: error.message };
  if (error instanceof AppError) {
    // Without detail an AppError's message is its code; the headline says the same more readably.
    const detail = error.message === error.code ? '' : `: ${error.message}`;
    return { exitCode: 1, code: error.code, message: `${headline(error)}${detail}` };
  }
  const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
  return { exitCode: 1, code: 'internal_error', message: `unexpected error: ${text}` };
}
