// What the load client needs to know about a provider under test, and the parts of the flow both providers share.

/** Never fetched: a flow ends when the provider redirects the browser here with the code. */
export const REDIRECT_URI = 'http://127.0.0.1/bench/callback';

/** The same request to both providers; prompt=consent so every flow shows the consent page (and gets a refresh token). */
export const AUTHORIZATION_PARAMS = { scope: 'openid profile email offline_access', prompt: 'consent' } as const;

export interface Target {
  /** "latchkey" or "bare". */
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  login: string;
  password: string;
  /** Latchkey only: an account whose hash has cheaper argon2 parameters than the configured ones. */
  legacyLogin?: string;
  /** Latchkey only: a confidential client with the client_credentials grant (service-to-service scenarios). */
  service?: { clientId: string; clientSecret: string };
  /** Latchkey only: what the recovery scenario needs. */
  recovery?: RecoveryTarget;
}

/** Accounts that can be recovered by an email code, one browser at a time each, and how to pass the CAPTCHA. */
export interface RecoveryTarget {
  /** "Get back into your account", entered directly. */
  url: string;
  /** The development CAPTCHA answer (CAPTCHA_TEST_ANSWER) the benchmark's server runs with. */
  captchaAnswer: string;
  accounts: Array<{ login: string; alternateEmail: string }>;
}

/** What a server child reports about the measured window: its own CPU time and, for Latchkey, database commands. */
export interface ServerCounters {
  cpuMicros: number;
  /** Commands started on the database connection since the process began; null without a database. */
  dbCommands: number | null;
  dbCommandsByName: Record<string, number>;
}

/** Process CPU time (user + system, all threads: argon2 runs on libuv's pool) in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
