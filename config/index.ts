// Latchkey's configuration: one schema, documented field by field, read from the environment and validated at
// boot. Production refuses the defaults that are only safe on a developer's machine.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { withDefaultDatabase } from '../src/db/uri.ts';
import { accentProblem, DEFAULT_ACCENT, type Brand } from '../src/http/brand.ts';
import { isLoopbackHost } from '../src/http/loopback.ts';
import { mailDomain, smtpNeedsTls, smtpUrlProblems } from '../src/delivery/smtp-settings.ts';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const seconds = z.coerce.number().int().positive();
const DAY = 24 * 3600;
/**
 * An http(s) URL that text messages are POSTed to. Node's fetch refuses one with a user name or password before
 * sending anything, so it would pass here and then fail every text: `how` says what authenticates the request instead.
 */
const postUrl = (how: string) =>
  z
    .url({ protocol: /^https?$/, error: 'an http:// or https:// URL' })
    .refine((url) => !URL.parse(url)?.username && !URL.parse(url)?.password, {
      error: `must not carry a user name or password (Node's fetch refuses such a URL, so no text would go out): remove them; ${how}`,
    });
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean),
);

/**
 * Every environment variable the server reads, with its default and meaning (the README's table mirrors this; the
 * scripts read DEMO_SEED and LOCAL_DB_DIR, the admin CLI LATCHKEY_ADMIN).
 */
const envSchema = z.object({
  /** development | test | production. Production turns on the strict checks below. */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /** Address and port the HTTP server listens on. */
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Public issuer URL; its path is where the OpenID provider is mounted. https in production. */
  ISSUER: z.url().optional(),
  /** MongoDB connection string (database name in the path). Required in production. */
  MONGODB_URI: z
    .string()
    .refine((uri) => uri === '' || /^mongodb(\+srv)?:\/\//.test(uri), 'a MongoDB connection string starts with mongodb:// or mongodb+srv://')
    .optional(),
  /** Trust X-Forwarded-Proto/-Host/-For from a TLS-terminating proxy in front of Latchkey. */
  TRUST_PROXY: bool.default(false),
  /**
   * With TRUST_PROXY: how many proxies in front of Latchkey append to X-Forwarded-For. The client's address is
   * taken that many entries from the right, so addresses a client writes into the header itself are never used.
   */
  TRUST_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
  /** Comma-separated secrets that sign cookies, newest first. When unset, keys are generated once and kept in MongoDB. */
  COOKIE_KEYS: list.optional(),
  /** Mark cookies Secure and use the __Host- prefix. Defaults to true in production; false only for plain-http development. */
  COOKIE_SECURE: bool.optional(),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** json: one JSON object per line (production's default); pretty: short human lines (development's default). */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** The operator's brand on every page (src/http/brand.ts). */
  BRAND_NAME: z.string().trim().min(1).max(60).default('Latchkey'),
  /**
   * The logo: an https:// URL, or a path on this server. A path starts with one "/": "//host/x" and "/\host/x" are
   * another site to browsers and mail clients (which would then learn of every email opened).
   */
  BRAND_LOGO_URL: z
    .string()
    .trim()
    .regex(/^(https:\/\/|\/(?![/\\]))[^\s"'<>]+$/, 'an https:// URL or a path on this server (one "/" then the path, not "//" or "/\\")')
    .optional(),
  BRAND_ACCENT: z.string().trim().regex(/^#[0-9a-fA-F]{6}$/, 'a colour as #rrggbb').default(DEFAULT_ACCENT),
  BRAND_HELP_URL: z.url({ protocol: /^https?$/ }).optional(),
  BRAND_HOME_URL: z.url({ protocol: /^https?$/ }).optional(),
  BRAND_PRIVACY_URL: z.url({ protocol: /^https?$/ }).optional(),
  BRAND_TERMS_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Development: the port of `npm run demo`'s sample application, linked from the page at `/`. */
  DEMO_RP_PORT: z.coerce.number().int().min(1).max(65535).default(3001),
  /** argon2id cost; never below OWASP's m=19456 KiB, t=2, p=1. Raising it rehashes passwords at their next sign-in. */
  ARGON2_MEMORY_KIB: z.coerce.number().int().min(19456).default(19456),
  ARGON2_TIME_COST: z.coerce.number().int().min(2).default(2),
  ARGON2_PARALLELISM: z.coerce.number().int().min(1).max(16).default(1),
  /**
   * At most this many argon2 operations run at once (each holds about ARGON2_MEMORY_KIB of memory); up to
   * ARGON2_MAX_QUEUED more wait, and any beyond that get a 503 page. Default: the number of CPUs.
   */
  ARGON2_MAX_CONCURRENT: z.coerce.number().int().min(1).max(256).default(availableParallelism()),
  ARGON2_MAX_QUEUED: z.coerce.number().int().min(0).max(10_000).default(64),
  /**
   * A failed sign-in answers no sooner than this many milliseconds after it arrived, so that neither an unknown
   * account nor one whose hash has older, cheaper argon2 parameters can be told apart by timing.
   */
  SIGNIN_FAILURE_MIN_MS: z.coerce.number().int().min(0).max(10_000).default(300),
  /**
   * Token and session lifetimes in seconds. The authorization code stays short (at most 10 minutes). A refresh
   * token is rotated on every use and the new one inherits the remaining lifetime, so TTL_REFRESH_TOKEN is the
   * absolute ceiling of a chain.
   */
  TTL_ACCESS_TOKEN: seconds.max(DAY).default(3600),
  TTL_AUTHORIZATION_CODE: seconds.max(600).default(60),
  TTL_ID_TOKEN: seconds.max(DAY).default(3600),
  TTL_REFRESH_TOKEN: seconds.max(365 * DAY).default(14 * DAY),
  /** A session's absolute lifetime from sign-in: it ends then however much it is used. */
  TTL_SESSION: seconds.max(30 * DAY).default(14 * DAY),
  /** A session unused for this long ends (ASVS 7.3.1: hours, not weeks). At most TTL_SESSION. */
  SESSION_IDLE_TIMEOUT: seconds.max(7 * DAY).default(8 * 3600),
  TTL_INTERACTION: seconds.max(3600).default(1800),
  TTL_GRANT: seconds.max(2 * 365 * DAY).default(90 * DAY),
  TTL_CLIENT_CREDENTIALS: seconds.max(DAY).default(600),
  /** An API audience (resource indicator, RFC 8707). When set, `resource=<this>` gets a JWT access token for it. */
  API_AUDIENCE: z.url().optional(),
  /** Scopes the API audience accepts (space-separated). */
  API_SCOPES: z.string().default('api:read api:write'),
  /**
   * Accept authorization and logout requests by POST as well as GET (OpenID Connect Core §3.1.2.1; the Basic OP
   * certification tests it). On by default whenever cookies are Secure; it needs them, because the session cookie
   * then becomes SameSite=None (a POST from the relying party's site is cross-site).
   */
  AUTHORIZATION_POST: bool.optional(),
  /**
   * Largest accepted form body, in bytes. The default carries the longest new password the rules allow twice (the
   * reset form's password and its confirmation): 1024 code points of 4 bytes each, percent-encoded, is 12,288 bytes
   * a field.
   */
  FORM_BODY_LIMIT: z.coerce.number().int().min(1024).max(1_048_576).default(32_768),
  /** How long shutdown waits for in-flight requests before closing anyway, in milliseconds. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(10_000),
  /**
   * How long a stopping instance keeps answering after /readyz has turned to 503, in milliseconds: long enough for
   * the load balancer to notice (its health-check interval times the failures it waits for), so no request is refused.
   */
  SHUTDOWN_DRAIN_MS: z.coerce.number().int().min(0).max(120_000).default(0),
  /** How often expired documents are swept where the server has no TTL indexes, in seconds. */
  SWEEP_INTERVAL: seconds.default(60),
  /**
   * Days an audit event is kept (0: for ever). Events name accounts, addresses and browsers, so they are not kept
   * beyond what incident response needs: a year by default, the look-back most audit standards ask for.
   */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(0).max(3650).default(365),

  // Delivery of recovery codes and notices. In development, with none of these set, every message lands in the
  // development outbox (/dev/outbox); production refuses to start without a real channel for each enabled method.
  /** SMTP server for email, e.g. smtp://user:pass@mail.example.com:587 (smtps:// for implicit TLS). */
  SMTP_URL: z.string().optional(),
  /** The From address of every email. */
  MAIL_FROM: z.string().default('Latchkey <no-reply@localhost>'),
  /** How text messages are sent: outbox (development only), webhook (your gateway, HMAC-signed) or twilio. */
  SMS_PROVIDER: z.enum(['outbox', 'webhook', 'twilio']).optional(),
  /** webhook: the URL a signed JSON POST goes to, and the HMAC-SHA256 secret (at least 32 characters). */
  SMS_WEBHOOK_URL: postUrl('the gateway checks the signature made with SMS_WEBHOOK_SECRET instead').optional(),
  SMS_WEBHOOK_SECRET: z.string().optional(),
  /** twilio (or a Twilio-compatible API): account, token, sender number, and the API base URL. */
  TWILIO_ACCOUNT_SID: z.string().optional(),
  TWILIO_AUTH_TOKEN: z.string().optional(),
  TWILIO_FROM: z.string().optional(),
  TWILIO_API_BASE: postUrl('the API is sent TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN instead').default('https://api.twilio.com'),
  /**
   * How calls are placed ("Call my mobile phone", "Call my office phone"): none (the call methods are not offered),
   * outbox (development only), webhook (your gateway, HMAC-signed both ways) or twilio (the TWILIO_* account's Calls
   * API, from TWILIO_VOICE_FROM, else TWILIO_FROM). Default: outbox in development, none in production.
   */
  VOICE_PROVIDER: z.enum(['none', 'outbox', 'webhook', 'twilio']).optional(),
  VOICE_WEBHOOK_URL: postUrl('the gateway checks the signature made with VOICE_WEBHOOK_SECRET instead').optional(),
  VOICE_WEBHOOK_SECRET: z.string().optional(),
  TWILIO_VOICE_FROM: z.string().optional(),
  /**
   * Key that encrypts authenticator (TOTP) secrets at rest: 32 bytes as 64 hex characters or base64. Kept outside
   * the database on purpose; required in production. Development uses a fixed, public key when it is unset.
   */
  DATA_ENCRYPTION_KEY: z.string().optional(),
  /**
   * The keys DATA_ENCRYPTION_KEY replaced, comma-separated, newest first: they still open what they sealed (never
   * seal) until `npm run admin -- keys reseal-secrets` has sealed it again with the current key.
   */
  DATA_ENCRYPTION_KEY_PREVIOUS: z.string().optional(),
  /** Development and tests only: every CAPTCHA's answer, so scripts can walk the recovery pages. */
  CAPTCHA_TEST_ANSWER: z.string().min(1).max(32).optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  production: boolean;
  host: string;
  port: number;
  issuer: string;
  /** The issuer's path, e.g. "/oidc": where the provider is mounted. */
  issuerPath: string;
  mongodbUri: string | undefined;
  trustProxy: boolean;
  /** With trustProxy: the proxies that append to X-Forwarded-For (Koa's maxIpsCount). */
  trustProxyHops: number;
  cookieKeys: string[] | undefined;
  cookieSecure: boolean;
  logLevel: Env['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  brand: Brand;
  /** Development only: the demo application's address, for the page at `/`. */
  demoAppUrl: string | undefined;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  passwordWork: { maxConcurrent: number; maxQueued: number };
  signInFailureMinMs: number;
  ttl: {
    accessToken: number;
    authorizationCode: number;
    idToken: number;
    refreshToken: number;
    session: number;
    sessionIdle: number;
    interaction: number;
    grant: number;
    clientCredentials: number;
  };
  api: { audience: string; scopes: string[] } | undefined;
  authorizationPost: boolean;
  formBodyLimit: number;
  shutdownGraceMs: number;
  shutdownDrainMs: number;
  sweepIntervalSeconds: number;
  /** 0: audit events are kept for ever. */
  auditRetentionDays: number;
  delivery: {
    smtpUrl: string | undefined;
    /** Mail must go over verified TLS (production, to a server on another machine): smtp-settings.ts. */
    smtpRequiresTls: boolean;
    mailFrom: string;
    sms:
      | { provider: 'outbox' }
      | { provider: 'webhook'; url: string; secret: string }
      | { provider: 'twilio'; accountSid: string; authToken: string; from: string; apiBase: string };
    voice:
      | { provider: 'none' | 'outbox' }
      | { provider: 'webhook'; url: string; secret: string }
      | { provider: 'twilio'; accountSid: string; authToken: string; from: string; apiBase: string };
    /** True when nothing real is configured for email: messages go to the development outbox. */
    emailToOutbox: boolean;
  };
  /** 32 bytes that encrypt secrets at rest (authenticator secrets). */
  dataEncryptionKey: Buffer;
  /** Keys that encrypted them before (DATA_ENCRYPTION_KEY_PREVIOUS): they decrypt only. */
  previousDataEncryptionKeys: Buffer[];
  captchaTestAnswer: string | undefined;
}

/** Public on purpose: development data is not secret. Production refuses to start without DATA_ENCRYPTION_KEY. */
const DEVELOPMENT_DATA_KEY = Buffer.from('6c617463686b65792d646576656c6f706d656e742d6b65792d6e6f742d736563', 'hex');

/** Whether `key` is the public development key (DATA_ENCRYPTION_KEY unset). */
export const isDevelopmentDataKey = (key: Buffer): boolean => key.equals(DEVELOPMENT_DATA_KEY);

function parseKey(value: string | undefined, name = 'DATA_ENCRYPTION_KEY'): Buffer | undefined {
  if (value === undefined) return undefined;
  const key = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) throw new ConfigError(`${name} must be 32 bytes: 64 hex characters or base64`);
  return key;
}

function previousKeys(value: string | undefined): Buffer[] {
  const listed = (value ?? '').split(',').map((part) => part.trim()).filter(Boolean);
  return listed.map((part) => parseKey(part, 'each key in DATA_ENCRYPTION_KEY_PREVIOUS')!);
}

function voiceSettings(e: Env, production: boolean): Config['delivery']['voice'] {
  const provider = e.VOICE_PROVIDER ?? (production ? 'none' : 'outbox');
  if (provider === 'webhook') {
    if (!e.VOICE_WEBHOOK_URL || !e.VOICE_WEBHOOK_SECRET || e.VOICE_WEBHOOK_SECRET.length < 32) {
      throw new ConfigError('VOICE_PROVIDER=webhook needs VOICE_WEBHOOK_URL and VOICE_WEBHOOK_SECRET (at least 32 characters)');
    }
    return { provider, url: e.VOICE_WEBHOOK_URL, secret: e.VOICE_WEBHOOK_SECRET };
  }
  if (provider === 'twilio') {
    const from = e.TWILIO_VOICE_FROM ?? e.TWILIO_FROM;
    if (!e.TWILIO_ACCOUNT_SID || !e.TWILIO_AUTH_TOKEN || !from) {
      throw new ConfigError('VOICE_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_VOICE_FROM (or TWILIO_FROM)');
    }
    return { provider, accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from, apiBase: e.TWILIO_API_BASE };
  }
  return { provider };
}

function smsSettings(e: Env): Config['delivery']['sms'] {
  const provider = e.SMS_PROVIDER ?? 'outbox';
  if (provider === 'webhook') {
    if (!e.SMS_WEBHOOK_URL || !e.SMS_WEBHOOK_SECRET || e.SMS_WEBHOOK_SECRET.length < 32) {
      throw new ConfigError('SMS_PROVIDER=webhook needs SMS_WEBHOOK_URL and SMS_WEBHOOK_SECRET (at least 32 characters)');
    }
    return { provider, url: e.SMS_WEBHOOK_URL, secret: e.SMS_WEBHOOK_SECRET };
  }
  if (provider === 'twilio') {
    if (!e.TWILIO_ACCOUNT_SID || !e.TWILIO_AUTH_TOKEN || !e.TWILIO_FROM) {
      throw new ConfigError('SMS_PROVIDER=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_FROM');
    }
    return { provider, accountSid: e.TWILIO_ACCOUNT_SID, authToken: e.TWILIO_AUTH_TOKEN, from: e.TWILIO_FROM, apiBase: e.TWILIO_API_BASE };
  }
  return { provider: 'outbox' };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseEnv<T extends z.ZodType>(schema: T, source: NodeJS.ProcessEnv): z.output<T> {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

const apiFrom = (e: { API_AUDIENCE?: string | undefined; API_SCOPES: string }): Config['api'] =>
  e.API_AUDIENCE ? { audience: e.API_AUDIENCE, scopes: e.API_SCOPES.split(/\s+/).filter(Boolean) } : undefined;

/** The API settings alone (API_AUDIENCE, API_SCOPES), for the admin CLI's clients area, which needs nothing else. */
export function loadApiConfig(source: NodeJS.ProcessEnv = process.env): Config['api'] {
  return apiFrom(parseEnv(envSchema.pick({ API_AUDIENCE: true, API_SCOPES: true }), source));
}

/** Reads and validates the configuration; throws ConfigError listing every problem at once. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const e = parseEnv(envSchema, source);
  const production = e.NODE_ENV === 'production';
  const issuer = (e.ISSUER ?? `http://localhost:${e.PORT}/oidc`).replace(/\/+$/, '');
  const issuerUrl = new URL(issuer);
  const cookieSecure = e.COOKIE_SECURE ?? (production || issuerUrl.protocol === 'https:');
  // Settings that cannot be built as given (a provider's missing parts, a key of the wrong length) join the list
  // below, so that one start names every problem.
  const problems: string[] = [];
  const built = <T>(build: () => T, instead: T): T => {
    try {
      return build();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(error.message);
      return instead;
    }
  };
  const config: Config = {
    env: e.NODE_ENV,
    production,
    host: e.HOST,
    port: e.PORT,
    issuer,
    issuerPath: issuerUrl.pathname === '/' ? '' : issuerUrl.pathname,
    // A URI without a database name means Latchkey's database (the driver alone would pick "test").
    mongodbUri: e.MONGODB_URI ? withDefaultDatabase(e.MONGODB_URI) : undefined,
    trustProxy: e.TRUST_PROXY,
    trustProxyHops: e.TRUST_PROXY_HOPS,
    cookieKeys: e.COOKIE_KEYS,
    cookieSecure,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV === 'development' ? 'pretty' : 'json'),
    demoAppUrl: e.NODE_ENV === 'development' ? `http://localhost:${e.DEMO_RP_PORT}/` : undefined,
    brand: {
      name: e.BRAND_NAME,
      logoUrl: e.BRAND_LOGO_URL,
      accent: e.BRAND_ACCENT.toLowerCase(),
      helpUrl: e.BRAND_HELP_URL,
      homeUrl: e.BRAND_HOME_URL,
      privacyUrl: e.BRAND_PRIVACY_URL,
      termsUrl: e.BRAND_TERMS_URL,
    },
    argon2: { memoryCost: e.ARGON2_MEMORY_KIB, timeCost: e.ARGON2_TIME_COST, parallelism: e.ARGON2_PARALLELISM },
    passwordWork: { maxConcurrent: e.ARGON2_MAX_CONCURRENT, maxQueued: e.ARGON2_MAX_QUEUED },
    signInFailureMinMs: e.SIGNIN_FAILURE_MIN_MS,
    ttl: {
      accessToken: e.TTL_ACCESS_TOKEN,
      authorizationCode: e.TTL_AUTHORIZATION_CODE,
      idToken: e.TTL_ID_TOKEN,
      refreshToken: e.TTL_REFRESH_TOKEN,
      session: e.TTL_SESSION,
      sessionIdle: e.SESSION_IDLE_TIMEOUT,
      interaction: e.TTL_INTERACTION,
      grant: e.TTL_GRANT,
      clientCredentials: e.TTL_CLIENT_CREDENTIALS,
    },
    api: apiFrom(e),
    authorizationPost: e.AUTHORIZATION_POST ?? cookieSecure,
    formBodyLimit: e.FORM_BODY_LIMIT,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    shutdownDrainMs: e.SHUTDOWN_DRAIN_MS,
    sweepIntervalSeconds: e.SWEEP_INTERVAL,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    delivery: {
      smtpUrl: e.SMTP_URL,
      smtpRequiresTls: e.SMTP_URL !== undefined && smtpNeedsTls(e.SMTP_URL, production),
      mailFrom: e.MAIL_FROM,
      sms: built(() => smsSettings(e), { provider: 'outbox' }),
      voice: built(() => voiceSettings(e, production), { provider: 'none' }),
      emailToOutbox: !e.SMTP_URL,
    },
    dataEncryptionKey: built(() => parseKey(e.DATA_ENCRYPTION_KEY), undefined) ?? DEVELOPMENT_DATA_KEY,
    previousDataEncryptionKeys: built(() => previousKeys(e.DATA_ENCRYPTION_KEY_PREVIOUS), []),
    captchaTestAnswer: e.CAPTCHA_TEST_ANSWER,
  };
  // Every problem at once: values that do not fit together, then what production must not run with.
  if (issuerUrl.search || issuerUrl.hash) problems.push('ISSUER must not carry a query or fragment');
  if (issuerUrl.protocol === 'https:' && !config.cookieSecure) {
    // Cookies set without Secure on an https site can be overwritten from plain http (a network attacker's).
    problems.push('an https:// ISSUER needs Secure cookies: remove COOKIE_SECURE=false');
  }
  if (config.ttl.sessionIdle > config.ttl.session) problems.push('SESSION_IDLE_TIMEOUT must not exceed TTL_SESSION (the absolute session lifetime)');
  if (config.authorizationPost && !config.cookieSecure) {
    // A POST from the RP's site is cross-site: only a SameSite=None cookie comes along, and browsers require Secure.
    problems.push('AUTHORIZATION_POST=true needs Secure cookies (an https ISSUER behind a TLS proxy)');
  }
  if (config.cookieSecure && !config.trustProxy) {
    // Latchkey serves plain HTTP; it learns that a request came over https only from a trusted TLS proxy.
    problems.push('Secure cookies (an https ISSUER or COOKIE_SECURE=true) need TRUST_PROXY=true behind a TLS proxy');
  }
  if (!production && !isLoopbackHost(issuerUrl.hostname)) {
    // Outside production every code and link sent is readable at /dev/outbox and secrets are encrypted with a public
    // key: an issuer on another machine's name is a deployment that forgot NODE_ENV=production.
    problems.push(`ISSUER names ${issuerUrl.hostname}, not this machine: set NODE_ENV=production (outside production, every code sent is shown at /dev/outbox)`);
  }
  if (config.delivery.smtpUrl) problems.push(...smtpUrlProblems(config.delivery.smtpUrl, { requireTls: config.delivery.smtpRequiresTls }));
  const accentTrouble = accentProblem(config.brand.accent);
  if (accentTrouble) problems.push(accentTrouble);
  const productionProblems = production ? notProductionReady(config, e) : [];
  if (problems.length || productionProblems.length) {
    const sections = [
      ...(problems.length ? [`invalid configuration:\n  ${problems.join('\n  ')}`] : []),
      ...(productionProblems.length ? [`refusing to start in production:\n  ${productionProblems.join('\n  ')}`] : []),
    ];
    throw new ConfigError(sections.join('\n'));
  }
  return config;
}

/** The development defaults production must not run with. */
function notProductionReady(config: Config, e: Env): string[] {
  const problems: string[] = [];
  if (!config.mongodbUri) problems.push('MONGODB_URI is required (the local development database is not for production)');
  if (!config.issuer.startsWith('https://')) problems.push('ISSUER must be an https:// URL');
  if (!config.trustProxy) {
    problems.push('TRUST_PROXY=true is required: Latchkey serves plain HTTP behind a TLS-terminating proxy');
  }
  if (!config.cookieSecure) problems.push('COOKIE_SECURE=false is refused: cookies must be Secure');
  if (config.cookieKeys && config.cookieKeys.some((k) => k.length < 32 || new Set(k).size < 8)) {
    problems.push('COOKIE_KEYS entries must be at least 32 characters of random data (e.g. openssl rand -base64 32)');
  }
  if (!e.DATA_ENCRYPTION_KEY) problems.push('DATA_ENCRYPTION_KEY is required (it seals password hashes, client secrets and authenticator secrets: e.g. openssl rand -hex 32, kept outside the database)');
  if (config.captchaTestAnswer) problems.push('CAPTCHA_TEST_ANSWER is for development and tests only: unset it');
  if (!config.delivery.smtpUrl) problems.push('SMTP_URL is required: recovery codes and security notices go out by email');
  // As set (a provider whose settings are incomplete is named among the invalid ones, not also here).
  if ((e.SMS_PROVIDER ?? 'outbox') === 'outbox') {
    problems.push('SMS_PROVIDER must be webhook or twilio: the development outbox is not for production');
  }
  // Codes, phone numbers and the provider's credentials travel in these requests: the signature proves who sent
  // them, only TLS keeps them from being read on the way.
  // (A gateway on this machine, a sidecar, is reached over plain http as a mail relay there is: nothing on the network
  // carries it.)
  const inClear = (url: string) => url.startsWith('http://') && !isLoopbackHost(new URL(url).hostname);
  if (config.delivery.sms.provider === 'webhook' && inClear(config.delivery.sms.url)) {
    problems.push('SMS_WEBHOOK_URL must be an https:// URL (or a gateway on this machine): codes and phone numbers travel in it');
  }
  if (config.delivery.sms.provider === 'twilio' && inClear(config.delivery.sms.apiBase)) {
    problems.push('TWILIO_API_BASE must be an https:// URL (or an API on this machine): codes and the account token travel in it');
  }
  const { voice } = config.delivery;
  if (voice.provider === 'outbox') problems.push('VOICE_PROVIDER must be none, webhook or twilio: the development outbox is not for production');
  if (voice.provider === 'webhook' && inClear(voice.url)) {
    problems.push('VOICE_WEBHOOK_URL must be an https:// URL (or a gateway on this machine): phone numbers travel in it');
  }
  if (voice.provider === 'twilio' && inClear(voice.apiBase)) {
    problems.push('TWILIO_API_BASE must be an https:// URL (or an API on this machine): the account token travels in it');
  }
  const fromDomain = mailDomain(config.delivery.mailFrom);
  if (!fromDomain || isLoopbackHost(fromDomain) || fromDomain.endsWith('.invalid')) {
    // Receiving servers reject or junk mail from a domain nobody can check (and it names the Message-ID too).
    problems.push(`MAIL_FROM must be an address at your own mail domain, e.g. "Latchkey <no-reply@example.com>", not ${config.delivery.mailFrom}`);
  }
  return problems;
}
