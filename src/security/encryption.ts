// Secrets at rest (authenticator seeds, client secrets) are encrypted with AES-256-GCM under DATA_ENCRYPTION_KEY, a
// key kept in configuration, never in the database: a copy of the database alone does not reveal them, nor
// (keyBeyondDatabase) the key of the sent codes' hashes.
//
// The key can be changed without losing what it sealed: the keys it replaced go in DATA_ENCRYPTION_KEY_PREVIOUS,
// which still open (never seal), until `keys reseal-secrets` has sealed everything again with the new one.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { Config } from '../../config/index.ts';
import { AppError } from '../errors.ts';

const PREFIX = 'v1';

/**
 * A stored secret that none of the configured keys opens: DATA_ENCRYPTION_KEY was changed without the key it replaced
 * in DATA_ENCRYPTION_KEY_PREVIOUS (or the stored value was damaged). The server's configuration, not the request, is
 * at fault; nothing was changed.
 */
export class UnreadableSecretError extends AppError {
  /** `what`: the secret, named for the operator (a signing key by its kid), when the message is theirs. */
  constructor(what = 'a stored secret') {
    super(
      503,
      'secret_unreadable',
      'error.unavailable',
      `${what} opens with neither DATA_ENCRYPTION_KEY nor any key in DATA_ENCRYPTION_KEY_PREVIOUS: was the key changed without keeping the old one there?`,
    );
  }
}

export interface SecretBox {
  /** Sealed with the current key. */
  seal(plain: string): string;
  /**
   * Opened with whichever configured key sealed it; UnreadableSecretError when none does (naming `what`, for an
   * operator's message: a signing key by its kid).
   */
  open(sealed: string, what?: string): string;
  /** Whether `open` would succeed, without the secret. */
  opens(sealed: string): boolean;
  /** The same secret sealed with the current key, or undefined when the current key sealed it already. */
  reseal(sealed: string): string | undefined;
}

function openWith(key: Buffer, sealed: string): string | undefined {
  const [prefix, iv, tag, data] = sealed.split('.');
  if (prefix !== PREFIX || !iv || !tag || data === undefined) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined; // another key sealed it (the tag does not match), or it was damaged
  }
}

/** `previous`: keys that sealed secrets before `key` replaced them; they open, and never seal. */
export function createSecretBox(key: Buffer, previous: readonly Buffer[] = []): SecretBox {
  for (const k of [key, ...previous]) if (k.length !== 32) throw new Error('a data encryption key must be 32 bytes');
  const seal = (plain: string) => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [PREFIX, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  };
  const openAny = (sealed: string) => {
    for (const k of previous) {
      const plain = openWith(k, sealed);
      if (plain !== undefined) return plain;
    }
    return undefined;
  };
  const openCurrentOrAny = (sealed: string) => openWith(key, sealed) ?? openAny(sealed);
  return {
    seal,
    open(sealed, what) {
      const plain = openCurrentOrAny(sealed);
      if (plain === undefined) throw new UnreadableSecretError(what);
      return plain;
    },
    opens: (sealed) => openCurrentOrAny(sealed) !== undefined,
    reseal(sealed) {
      if (openWith(key, sealed) !== undefined) return undefined;
      const plain = openAny(sealed);
      if (plain === undefined) throw new UnreadableSecretError();
      return seal(plain);
    },
  };
}

/** Whether a stored value has a sealed secret's form (a value stored in clear before sealing began does not). */
export const isSealed = (stored: string): boolean => stored.startsWith(`${PREFIX}.`) && stored.split('.').length === 4;

/**
 * A box, or a function that gives one at first need: the admin CLI reads the server's key (and checks it is the
 * servers', security/data-key-check.ts) only for a command that seals or opens a secret.
 */
export type SecretBoxSource = SecretBox | (() => Promise<SecretBox>);

/** The box of `source`, made once, when first asked for. */
export function boxWhenNeeded(source: SecretBoxSource): () => Promise<SecretBox> {
  let made: Promise<SecretBox> | undefined;
  return () => (made ??= typeof source === 'function' ? source() : Promise.resolve(source));
}

/** The server's box: DATA_ENCRYPTION_KEY seals, it and DATA_ENCRYPTION_KEY_PREVIOUS open. */
export const configuredSecretBox = (config: Pick<Config, 'dataEncryptionKey' | 'previousDataEncryptionKeys'>): SecretBox =>
  createSecretBox(config.dataEncryptionKey, config.previousDataEncryptionKeys);

/**
 * A key for `purpose` that needs both the configuration's key and a secret the instances share through the database
 * (db/secrets.ts). A key that guards a secret the database holds (the hash of a sent code) must not be derivable
 * from a copy of the database alone: a 6-digit code's hash falls to a million guesses in about a second once its key
 * is known. The database's half keeps a development installation, whose configuration key is public, as private as
 * before.
 */
export function keyBeyondDatabase(configurationKey: Buffer, databaseSecret: string, purpose: string): string {
  return Buffer.from(hkdfSync('sha256', configurationKey, Buffer.from(databaseSecret, 'base64url'), `latchkey ${purpose}`, 32)).toString('base64url');
}
