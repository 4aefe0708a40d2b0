// Structured JSON logs. Field names that could carry a secret are redacted wherever they appear, so a careless
// `log.info({ body })` cannot leak a password, a code or a token.
import { pino, type Logger } from 'pino';

export type { Logger };

const secretPaths = [
  'password',
  'newPassword',
  'code',
  'token',
  'secret',
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'authorization',
  'cookie',
  '_csrf',
].flatMap((key) => [key, `*.${key}`, `*.*.${key}`]);

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'latchkey' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: [...secretPaths, 'req.headers.cookie', 'req.headers.authorization', 'res.headers["set-cookie"]'], censor: '[redacted]' },
    },
    destination,
  );
}
