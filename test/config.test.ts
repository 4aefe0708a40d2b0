// The configuration refuses to run production with development defaults, and validates every value at boot.
import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../config/index.ts';

const production = {
  NODE_ENV: 'production',
  ISSUER: 'https://id.example.com/oidc',
  MONGODB_URI: 'mongodb://db.internal:27017/latchkey?replicaSet=rs0',
  TRUST_PROXY: 'true',
  DATA_ENCRYPTION_KEY: 'a1'.repeat(32),
  SMTP_URL: 'smtps://mailer:secret@mail.example.com',
  MAIL_FROM: 'Example sign-in <no-reply@example.com>',
  SMS_PROVIDER: 'webhook',
  SMS_WEBHOOK_URL: 'https://sms.example.com/send',
  SMS_WEBHOOK_SECRET: 'a-webhook-secret-of-at-least-32-characters',
};

const twilio = { SMS_PROVIDER: 'twilio', TWILIO_ACCOUNT_SID: 'AC1', TWILIO_AUTH_TOKEN: 't', TWILIO_FROM: '+15005550006' };

describe('production', () => {
  it('starts with a complete production configuration: Secure cookies and the issuer path as mount point', () => {
    const config = loadConfig(production);
    expect(config.cookieSecure).toBe(true);
    expect(config.issuerPath).toBe('/oidc');
    expect(config.production).toBe(true);
  });

  it.each([
    ['no MONGODB_URI', { MONGODB_URI: '' }, /MONGODB_URI/],
    ['an http issuer', { ISSUER: 'http://id.example.com/oidc' }, /https/],
    ['no trusted TLS proxy', { TRUST_PROXY: 'false' }, /TRUST_PROXY/],
    ['insecure cookies', { COOKIE_SECURE: 'false' }, /COOKIE_SECURE/],
    ['short cookie keys', { COOKIE_KEYS: 'short' }, /COOKIE_KEYS/],
    ['no data encryption key', { DATA_ENCRYPTION_KEY: '' }, /DATA_ENCRYPTION_KEY/],
    ['a previous data encryption key of the wrong size', { DATA_ENCRYPTION_KEY_PREVIOUS: `${'b2'.repeat(32)},abcd` }, /DATA_ENCRYPTION_KEY_PREVIOUS/],
    ['a fixed CAPTCHA answer', { CAPTCHA_TEST_ANSWER: 'abc123' }, /CAPTCHA_TEST_ANSWER/],
    ['no SMTP server', { SMTP_URL: '' }, /SMTP_URL/],
    ['the development outbox for text messages', { SMS_PROVIDER: 'outbox' }, /SMS_PROVIDER/],
    ['an incomplete webhook', { SMS_WEBHOOK_SECRET: 'short' }, /SMS_WEBHOOK_SECRET/],
    ['cookie keys of one repeated character', { COOKIE_KEYS: 'a'.repeat(40) }, /COOKIE_KEYS/],
    ['mail that may go out without TLS', { SMTP_URL: 'smtp://mail.example.com:587/?ignoreTLS=true' }, /\?ignoreTLS/],
    ['mail to an unverified certificate', { SMTP_URL: 'smtps://mail.example.com/?tls.rejectUnauthorized=false' }, /\?tls\.rejectUnauthorized/],
    ['STARTTLS made optional', { SMTP_URL: 'smtp://mail.example.com:587/?requireTLS=false' }, /\?requireTLS/],
    ['codes to an SMS webhook over plain http', { SMS_WEBHOOK_URL: 'http://sms.example.com/send' }, /SMS_WEBHOOK_URL must be an https/],
    ['codes to a Twilio API over plain http', { ...twilio, TWILIO_API_BASE: 'http://twilio.internal' }, /TWILIO_API_BASE/],
    ['the development From address', { MAIL_FROM: 'Latchkey <no-reply@localhost>' }, /MAIL_FROM/],
    ['a From address at a reserved .invalid domain', { MAIL_FROM: 'no-reply@latchkey.invalid' }, /MAIL_FROM/],
  ])('refuses %s', (_label, change, message) => {
    expect(() => loadConfig({ ...production, ...change })).toThrow(message);
    expect(() => loadConfig({ ...production, ...change })).toThrow(ConfigError);
  });
});

describe('mail server (SMTP_URL)', () => {
  it('requires verified TLS for a mail server on another machine in production, not for a relay on this one', () => {
    expect(loadConfig(production).delivery.smtpRequiresTls).toBe(true);
    expect(loadConfig({ ...production, SMTP_URL: 'smtp://mail.example.com:587' }).delivery.smtpRequiresTls).toBe(true);
    expect(loadConfig({ ...production, SMTP_URL: 'smtp://127.0.0.1:25' }).delivery.smtpRequiresTls).toBe(false);
    expect(loadConfig({ ...production, SMTP_URL: 'smtp://localhost:25/?ignoreTLS=true' }).delivery.smtpRequiresTls).toBe(false);
    expect(loadConfig({ SMTP_URL: 'smtp://mail.example.com:587' }).delivery.smtpRequiresTls).toBe(false);
    // URL keeps an smtp: host as written: a relay named in capitals is still this machine's.
    expect(loadConfig({ ...production, SMTP_URL: 'smtp://LOCALHOST:25' }).delivery.smtpRequiresTls).toBe(false);
  });

  it.each(['service=Outlook365', 'proxy=socks5://proxy.example.com:1080', 'jsonTransport=true', 'streamTransport=true', 'sendmail=true'])(
    'refuses ?%s, which would send the mail elsewhere than the host the TLS rule was decided on, or nowhere',
    (query) => {
      // On "localhost", the TLS exception for a relay on this machine would otherwise let codes cross the network in clear.
      expect(() => loadConfig({ ...production, SMTP_URL: `smtp://u:p@localhost/?${query}` })).toThrow(/is not supported: write the mail server's own host/);
      expect(() => loadConfig({ SMTP_URL: `smtp://mail.example.com/?${query}` })).toThrow(ConfigError);
    },
  );

  it('lets a text-message gateway on this machine (a sidecar) be reached over plain http in production', () => {
    expect(loadConfig({ ...production, SMS_WEBHOOK_URL: 'http://127.0.0.1:8080/send' }).delivery.sms).toMatchObject({ provider: 'webhook' });
  });

  it.each([
    ['no scheme (nodemailer would send to localhost:587)', 'mail.example.com', /SMTP_URL must be a URL/],
    ['a host and port without scheme', 'mail.example.com:587', /smtp:\/\/ or smtps:\/\//],
    ['another scheme', 'https://mail.example.com', /smtp:\/\/ or smtps:\/\/, not https:/],
  ])('refuses %s, in development too', (_label, value, message) => {
    expect(() => loadConfig({ SMTP_URL: value })).toThrow(message);
    expect(() => loadConfig({ ...production, SMTP_URL: value })).toThrow(message);
  });
});

describe('text-message providers (SMS_WEBHOOK_URL, TWILIO_API_BASE)', () => {
  it.each([
    ['SMS_WEBHOOK_URL', { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://gw:secret@sms.example.com/send' }, /signature made with SMS_WEBHOOK_SECRET/],
    ['SMS_WEBHOOK_URL', { SMS_PROVIDER: 'webhook', SMS_WEBHOOK_URL: 'https://gw@sms.example.com/send' }, /signature made with SMS_WEBHOOK_SECRET/],
    ['TWILIO_API_BASE', { ...twilio, TWILIO_API_BASE: 'https://AC1:token@api.example.com' }, /TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN instead/],
  ])('refuses %s with a user name or password in every environment (fetch would refuse it and every text fail), saying what authenticates instead', (variable, change, instead) => {
    for (const env of [{ ...production, ...change }, { SMS_WEBHOOK_SECRET: production.SMS_WEBHOOK_SECRET, ...change }]) {
      expect(() => loadConfig(env)).toThrow(new RegExp(`${variable}: must not carry a user name or password`));
      expect(() => loadConfig(env)).toThrow(instead);
    }
  });

  it('refuses a text-message URL that is not http or https, which fetch cannot post to', () => {
    expect(() => loadConfig({ ...production, SMS_WEBHOOK_URL: 'ftp://sms.example.com/send' })).toThrow(/SMS_WEBHOOK_URL: an http:\/\/ or https:\/\/ URL/);
    expect(() => loadConfig({ ...twilio, TWILIO_API_BASE: 'mailto:api@example.com' })).toThrow(/TWILIO_API_BASE/);
  });
});

describe('validation', () => {
  it('uses development defaults on a developer machine', () => {
    const config = loadConfig({});
    expect(config.issuer).toBe('http://localhost:3000/oidc');
    expect(config.cookieSecure).toBe(false);
    expect(config.ttl.authorizationCode).toBe(60);
    expect(config.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it.each([
    ['authorization codes living longer than 10 minutes', { TTL_AUTHORIZATION_CODE: '601' }],
    ['argon2 below the OWASP minimum', { ARGON2_MEMORY_KIB: '4096' }],
    ['a port out of range', { PORT: '70000' }],
    ['an issuer that is not a URL', { ISSUER: 'not a url' }],
    ['an unknown environment', { NODE_ENV: 'staging' }],
    ['access tokens living longer than a day', { TTL_ACCESS_TOKEN: String(24 * 3600 + 1) }],
    ['ID tokens living longer than a day', { TTL_ID_TOKEN: String(24 * 3600 + 1) }],
    ['refresh token chains longer than a year', { TTL_REFRESH_TOKEN: String(366 * 24 * 3600) }],
    ['sessions longer than 30 days', { TTL_SESSION: String(31 * 24 * 3600) }],
    ['an idle timeout longer than a week', { SESSION_IDLE_TIMEOUT: String(8 * 24 * 3600) }],
    ['grants longer than two years', { TTL_GRANT: String(731 * 24 * 3600) }],
    ['client credentials tokens longer than a day', { TTL_CLIENT_CREDENTIALS: String(24 * 3600 + 1) }],
    ['no proxy hop (the client would write its own address)', { TRUST_PROXY_HOPS: '0' }],
  ])('refuses %s, naming the variable', (_label, env) => {
    const variable = Object.keys(env)[0]!;
    expect(() => loadConfig(env)).toThrow(new RegExp(variable));
  });

  it('refuses an https issuer without a trusted TLS proxy (Secure cookies could never be set)', () => {
    expect(() => loadConfig({ ISSUER: 'https://localhost:8443/oidc' })).toThrow(/TRUST_PROXY/);
    expect(loadConfig({ ISSUER: 'https://localhost:8443/oidc', TRUST_PROXY: 'true' }).cookieSecure).toBe(true);
  });

  it.each(['https://id.example.com/oidc', 'http://192.168.1.20:3000/oidc', 'http://id.example.com/oidc'])(
    'refuses an issuer on another machine (%s) outside production, where /dev/outbox shows every code sent',
    (issuer) => {
      for (const env of ['development', 'test']) {
        expect(() => loadConfig({ NODE_ENV: env, ISSUER: issuer, TRUST_PROXY: 'true' })).toThrow(/NODE_ENV=production/);
      }
    },
  );

  it.each(['http://localhost:3000/oidc', 'http://127.0.0.1:3000/oidc', 'http://[::1]:3000/oidc', 'https://id.localhost/oidc'])('accepts an issuer on this machine (%s) outside production', (issuer) => {
    expect(loadConfig({ ISSUER: issuer, TRUST_PROXY: 'true' }).issuer).toBe(issuer);
  });

  it('names Latchkey\'s database when MONGODB_URI names none', () => {
    expect(loadConfig({ MONGODB_URI: 'mongodb://127.0.0.1:27017' }).mongodbUri).toBe('mongodb://127.0.0.1:27017/latchkey');
    expect(loadConfig({ MONGODB_URI: 'mongodb://db/idp?replicaSet=rs0' }).mongodbUri).toBe('mongodb://db/idp?replicaSet=rs0');
  });

  it('refuses authorization by POST without Secure cookies (its SameSite=None cookie would be dropped)', () => {
    expect(() => loadConfig({ AUTHORIZATION_POST: 'true' })).toThrow(/AUTHORIZATION_POST/);
  });

  it('refuses an https issuer with COOKIE_SECURE=false outside production too', () => {
    expect(() => loadConfig({ ISSUER: 'https://localhost:8443/oidc', TRUST_PROXY: 'true', COOKIE_SECURE: 'false' })).toThrow(/Secure cookies/);
  });

  it('turns authorization by POST on exactly when cookies are Secure, unless AUTHORIZATION_POST=false', () => {
    expect(loadConfig({}).authorizationPost).toBe(false);
    expect(loadConfig({ ISSUER: 'https://localhost:8443/oidc', TRUST_PROXY: 'true' }).authorizationPost).toBe(true);
    expect(loadConfig({ ...production }).authorizationPost).toBe(true);
    expect(loadConfig({ ...production, AUTHORIZATION_POST: 'false' }).authorizationPost).toBe(false);
  });

  it('ends sessions after hours of idleness by default, within the absolute lifetime, and refuses an idle timeout past it', () => {
    const config = loadConfig({});
    expect(config.ttl.sessionIdle).toBe(8 * 3600);
    expect(config.ttl.session).toBe(14 * 24 * 3600);
    expect(() => loadConfig({ TTL_SESSION: '3600', SESSION_IDLE_TIMEOUT: '7200' })).toThrow(/SESSION_IDLE_TIMEOUT/);
  });

  it('refuses an issuer with a query', () => {
    expect(() => loadConfig({ ISSUER: 'https://localhost:8443/oidc?x=1' })).toThrow(/query/);
  });
});

describe('brand', () => {
  const base = { NODE_ENV: 'test', ISSUER: 'http://localhost:3000/oidc', MONGODB_URI: 'mongodb://127.0.0.1:1/x' };

  it('takes the name, logo, accent colour and links from the environment', () => {
    const { brand } = loadConfig({ ...base, BRAND_NAME: 'Acme ID', BRAND_ACCENT: '#1D6B3A', BRAND_LOGO_URL: 'https://cdn.acme.example/logo.svg', BRAND_HELP_URL: 'https://help.acme.example/', BRAND_HOME_URL: 'https://portal.acme.example/' });
    expect(brand).toMatchObject({ name: 'Acme ID', accent: '#1d6b3a', logoUrl: 'https://cdn.acme.example/logo.svg', helpUrl: 'https://help.acme.example/', homeUrl: 'https://portal.acme.example/' });
  });

  it('refuses at start an accent colour with too little contrast for WCAG AA, saying why', () => {
    expect(() => loadConfig({ ...base, BRAND_ACCENT: '#ffcc00' })).toThrow(/BRAND_ACCENT #ffcc00 has a contrast of 1\.\d+:1 .*WCAG AA needs 4\.5:1/);
    expect(() => loadConfig({ ...base, BRAND_ACCENT: '#4a90e2' })).toThrow(/contrast/);
    expect(() => loadConfig({ ...base, BRAND_ACCENT: 'green' })).toThrow(/BRAND_ACCENT/);
    expect(() => loadConfig({ ...base, BRAND_LOGO_URL: 'javascript:alert(1)' })).toThrow(/BRAND_LOGO_URL/);
    expect(() => loadConfig({ ...base, BRAND_HOME_URL: 'javascript:alert(1)' })).toThrow(/BRAND_HOME_URL/);
  });

  it.each(['//tracker.example/p.png', '/\\tracker.example/p.png', '/\\/tracker.example/p.png'])(
    'refuses a logo "path" %s that browsers and mail clients load from another site, in every environment',
    (logo) => {
      expect(() => loadConfig({ ...base, BRAND_LOGO_URL: logo })).toThrow(/BRAND_LOGO_URL: an https:\/\/ URL or a path on this server/);
      expect(() => loadConfig({ ...production, BRAND_LOGO_URL: logo })).toThrow(/BRAND_LOGO_URL/);
    },
  );

  it('takes a logo path on this server', () => {
    expect(loadConfig({ ...base, BRAND_LOGO_URL: '/static/acme.png' }).brand.logoUrl).toBe('/static/acme.png');
  });
});

it('lists every setting that does not fit at once, not only the first', () => {
  let message = '';
  try {
    loadConfig({ NODE_ENV: 'development', ISSUER: 'http://example.com/oidc?x=1', BRAND_ACCENT: '#ffff00', TTL_SESSION: '3600', SESSION_IDLE_TIMEOUT: '7200' });
  } catch (error) {
    message = (error as Error).message;
  }
  for (const problem of [/query/, /not this machine/, /BRAND_ACCENT/, /SESSION_IDLE_TIMEOUT/]) expect(message).toMatch(problem);
});

it('lists settings that cannot be built with the rest: a provider\'s missing parts and a key of the wrong length', () => {
  let message = '';
  try {
    loadConfig({ ...production, SMS_WEBHOOK_SECRET: 'short', VOICE_PROVIDER: 'twilio', DATA_ENCRYPTION_KEY: 'abcd', DATA_ENCRYPTION_KEY_PREVIOUS: 'ef01', COOKIE_SECURE: 'false' });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    message = (error as Error).message;
  }
  for (const problem of [/SMS_PROVIDER=webhook needs/, /VOICE_PROVIDER=twilio needs/, /DATA_ENCRYPTION_KEY must be 32 bytes/, /DATA_ENCRYPTION_KEY_PREVIOUS must be 32 bytes/, /COOKIE_SECURE=false/]) {
    expect(message).toMatch(problem);
  }
  expect(message).not.toMatch(/SMS_PROVIDER must be webhook or twilio/); // it is webhook, with a short secret
});
