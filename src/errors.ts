// One error hierarchy. Each error carries an HTTP status, a stable code (for JSON and logs), a message id (for
// pages) and private detail that is logged but never shown. http/error-page.ts is the one place that turns them
// into a response.
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  /** Message id of the text shown to people (views use it through the catalogue). */
  readonly messageId: string;

  constructor(status: number, code: string, messageId: string, detail?: string) {
    super(detail ?? code);
    this.status = status;
    this.code = code;
    this.messageId = messageId;
  }
}

/** Input that is malformed, missing or of the wrong type. */
export class ValidationError extends AppError {
  constructor(code = 'invalid_request', detail?: string) {
    super(400, code, 'error.bad_request', detail);
  }
}

export class CsrfError extends AppError {
  constructor(detail?: string) {
    super(403, 'csrf_failed', 'error.csrf', detail);
  }
}

export class NotFoundError extends AppError {
  constructor(code = 'not_found', detail?: string) {
    super(404, code, 'error.not_found', detail);
  }
}

export class ConflictError extends AppError {
  constructor(code = 'conflict', detail?: string) {
    super(409, code, 'error.conflict', detail);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(detail?: string) {
    super(413, 'payload_too_large', 'error.too_large', detail);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(detail?: string) {
    super(415, 'unsupported_media_type', 'error.bad_request', detail);
  }
}

/**
 * A request that did not come over https where cookies must be Secure: refused before any page sets one (the cookies
 * library would throw), and before anything is read or changed.
 */
export class HttpsRequiredError extends AppError {
  constructor(detail?: string) {
    super(403, 'https_required', 'error.https_required', detail);
  }
}

/** The sign-in or consent step this page belongs to has ended (expired, finished, or opened in another browser). */
export class FlowExpiredError extends AppError {
  constructor(detail?: string) {
    super(400, 'interaction_expired', 'error.interaction_expired', detail);
  }
}

/**
 * A sign-out confirmation posted from a page that is out of date: opened before a sign-out that has happened since (in
 * another tab), so its token no longer matches the session, or there is no session left to end.
 */
export class LogoutOutOfDateError extends AppError {
  constructor(detail?: string) {
    super(400, 'logout_out_of_date', 'error.logout_out_of_date', detail);
  }
}

/** The database cannot be reached: nothing was changed, and the same request can be tried again in a moment. */
export class DatabaseUnavailableError extends AppError {
  constructor(detail?: string) {
    super(503, 'temporarily_unavailable', 'error.database_unavailable', detail);
  }
}

/** More requests than a budget allows: the client is asked to wait `retryAfterSeconds` (Retry-After). */
export class TooManyRequestsError extends AppError {
  readonly retryAfterSeconds: number;

  constructor(retryAfterSeconds: number, detail?: string) {
    super(429, 'too_many_requests', 'error.too_many', detail);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(detail?: string) {
    super(503, 'unavailable', 'error.unavailable', detail);
  }
}

/** A known address asked with a method it does not answer (the response says which it does, in `Allow`). */
export class MethodNotAllowedError extends AppError {
  readonly allow: string[];

  constructor(allow: string[], detail?: string) {
    super(405, 'method_not_allowed', 'error.bad_request', detail);
    this.allow = allow;
  }
}
