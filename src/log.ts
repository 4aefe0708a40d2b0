// Structured JSON logs, redacted before they are written, so a careless `log.info({ body })` or an error message
// quoting a URL cannot leak a password, a code, a token or a cookie. Redaction goes by key name, at any depth and
// in any spelling (accessToken, refresh_token, Password), and by URL parameter inside every string, including the
// message. Error objects are serialized first, so their message, stack and code stay readable.
import { pino, type Logger, type LogFn } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const CENSOR = '[redacted]';

/** Lower-case, without `_` and `-`: `refresh_token`, `refreshToken` and `Refresh-Token` are one name. */
const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');

const secretNames = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'cookies',
  'setcookie',
  'csrf',
  'xsrf',
  'codeverifier',
  'otp',
  'totpsecret',
  'privatekey',
  'apikey',
  'clientassertion',
]);
const secretSuffixes = ['password', 'passphrase', 'secret', 'token'];
// Only in URLs: as keys these words are too common (an account's `state`), as parameters they are the RP's.
const secretUrlParameters = new Set(['state', 'loginhint', 'idtokenhint']);
// Objects under these names are errors, whether or not they are Error instances.
const errorNames = new Set(['err', 'error', 'errors', 'cause', 'aggregateerrors']);

function isSecretName(key: string): boolean {
  const name = normalise(key);
  // Plurals hold the same secrets (`tokens: [...]`, `codes: [...]`).
  const singular = name.endsWith('s') ? name.slice(0, -1) : name;
  return [name, singular].some((n) => n === 'code' || secretNames.has(n) || secretSuffixes.some((suffix) => n.endsWith(suffix)));
}

/**
 * An error's own `code` is an error code (ECONNREFUSED, 11000), which the operator needs. Deeper inside an error
 * (a driver's `errorResponse`) only what looks like one stays: a number or an upper-case identifier.
 */
function isErrorCode(key: string, value: unknown, where: 'error' | 'in-error' | 'plain'): boolean {
  if (normalise(key) !== 'code' || where === 'plain') return false;
  return where === 'error' || typeof value === 'number' || (typeof value === 'string' && /^[A-Z][A-Z0-9_]*$/.test(value));
}

function isSecretParameter(name: string): boolean {
  return isSecretName(name) || secretUrlParameters.has(normalise(name));
}

// name=value after the start of a URL's query or fragment, a separator, or the start of a word (a form body).
const parameterPattern = /(^|[?&#;\s"'(,])([\w.[\]-]+)=([^&#\s"'<>]+)/g;
// The same inside a percent-encoded URL (a redirect_uri carrying another URL's query).
const encodedParameterPattern = /(%3F|%26|%23)([\w.[\]-]+)(%3D)((?:(?!%26|%23)[^&#\s"'<>])+)/gi;
// Long enough to be a credential rather than a word ("Basic authentication").
const bearerPattern = /\b(Bearer|Basic)\s+[\w.~+/-]{16,}=*/gi;
// A JWS or JWE in compact form: ID tokens, JWT access tokens, request objects.
const jwtPattern = /\beyJ[\w-]*(?:\.[\w-]*){2,4}/g;

function redactString(text: string): string {
  return text
    .replace(parameterPattern, (match, start: string, name: string) => (isSecretParameter(name) ? `${start}${name}=${CENSOR}` : match))
    .replace(encodedParameterPattern, (match, start: string, name: string, equals: string) =>
      isSecretParameter(name) ? `${start}${name}${equals}${CENSOR}` : match,
    )
    .replace(bearerPattern, `$1 ${CENSOR}`)
    .replace(jwtPattern, CENSOR);
}

// Past pino's own depth limit (5) nothing is printed anyway; the margin keeps the walk bounded.
const MAX_DEPTH = 10;

/** A redacted copy of `value`; `key` is the name it was found under, `where` whether that is inside an error. */
function redactValue(value: unknown, key: string, where: 'error' | 'in-error' | 'plain', ancestors: Set<object>, depth: number): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (ancestors.has(value)) return '[Circular]';
  if (depth > MAX_DEPTH) return '[too deep]';
  const inside = value instanceof Error || errorNames.has(normalise(key)) ? 'error' : where === 'plain' ? 'plain' : 'in-error';
  let source: unknown = value;
  if (value instanceof Error) source = pino.stdSerializers.err(value);
  // What JSON.stringify would print (a Date's or URL's string, a mongoose document's fields), walked in its place.
  else if (typeof (value as { toJSON?: unknown }).toJSON === 'function') source = (value as { toJSON(): unknown }).toJSON();
  ancestors.add(value);
  try {
    if (source !== value && (source === null || typeof source !== 'object')) return redactValue(source, key, where, ancestors, depth);
    // An array's items stand where the array stands: `errors: [...]` holds errors, `tokens: [...]` tokens.
    if (Array.isArray(source)) return source.map((item) => redactValue(item, key, where, ancestors, depth + 1));
    const copy: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(source as object)) {
      const secret = child !== undefined && isSecretName(name) && !isErrorCode(name, child, inside);
      copy[name] = secret ? CENSOR : redactValue(child, name, inside, ancestors, depth + 1);
    }
    return copy;
  } finally {
    ancestors.delete(value);
  }
}

function redactObject(object: object): Record<string, unknown> {
  try {
    return redactValue(object, '', 'plain', new Set(), 0) as Record<string, unknown>;
  } catch {
    // A throwing getter must not turn a log call into a crash, nor let the unredacted object through.
    return { redaction: 'failed' };
  }
}

/** The message and printf-style arguments: pino adds them to the line after formatters.log has run. */
function redactArguments(args: unknown[]): unknown[] {
  const redactArgument = (arg: unknown) => (typeof arg === 'string' ? redactString(arg) : arg !== null && typeof arg === 'object' ? redactObject(arg) : arg);
  const [first, ...rest] = args;
  if (first === null || typeof first !== 'object') return args.map(redactArgument);
  if (rest.length === 0 || rest[0] === undefined) {
    // Without a message pino takes the error's message itself, past our redaction: hand it over redacted.
    const logged = first as { msg?: unknown; err?: { message?: unknown } };
    const message = first instanceof Error ? first.message : logged.msg === undefined ? logged.err?.message : undefined;
    if (typeof message === 'string') return [first, redactString(message)];
  }
  return [first, ...rest.map(redactArgument)];
}

/**
 * Development's terminal: one short line per event, a request as "GET /interaction/… 200 12.3 ms · K3JD9QXA" (the
 * support code its page showed, so that one a person reads out can be found). Redaction has already happened (it
 * runs before any line is written, whatever the format).
 */
function prettyLines(destination: pino.DestinationStream | undefined): pino.DestinationStream {
  return pretty({
    destination: destination ?? 1,
    colorize: process.stdout.isTTY,
    translateTime: 'SYS:HH:MM:ss',
    singleLine: true,
    ignore: 'pid,hostname,service,requestId,supportCode,method,path,status,ms',
    messageFormat: (line, messageKey) => {
      if (line[messageKey] !== 'request') return String(line[messageKey] ?? '');
      const code = line.supportCode ?? line.requestId;
      return `${String(line.method)} ${String(line.path)} ${String(line.status)} ${String(line.ms)} ms${code ? ` · ${String(code)}` : ''}`;
    },
  });
}

export function createLogger(level: string, destination?: pino.DestinationStream, format: 'json' | 'pretty' = 'json'): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'latchkey' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        // Sees the merging object before serializers and before the err key is treated: everything passes here.
        log: redactObject,
        bindings: redactObject,
      },
      // formatters.log has already serialized every error; the default serializer would rename its type to Object.
      serializers: { err: (err: unknown) => err },
      hooks: {
        logMethod(args, method) {
          method.apply(this, redactArguments(args) as Parameters<LogFn>);
        },
      },
      // The walker hides these too; kept as a second line for the headers of pino's req/res serializers.
      redact: { paths: ['req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'], censor: CENSOR },
    },
    format === 'pretty' ? prettyLines(destination) : destination,
  );
  // A child's bindings skip formatters.log (and formatters.bindings applies to the root only): redact them here.
  // Children inherit this method from the root, so grandchildren go through it as well.
  const child = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return child.call(this, redactObject(bindings), options);
  } as Logger['child'];
  return logger;
}
