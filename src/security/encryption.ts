// Secrets at rest (authenticator seeds) are encrypted with AES-256-GCM under DATA_ENCRYPTION_KEY, a key kept in
// configuration, never in the database: a copy of the database alone does not reveal them, nor (keyBeyondDatabase)
// the key of the sent codes' hashes.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const PREFIX = 'v1';

export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== 32) throw new Error('the data encryption key must be 32 bytes');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [PREFIX, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
    },
    open(sealed) {
      const [prefix, iv, tag, data] = sealed.split('.');
      if (prefix !== PREFIX || !iv || !tag || data === undefined) throw new Error('not a sealed secret');
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}

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
