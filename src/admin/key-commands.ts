// `npm run admin -- keys …`: the token signing keys (oidc/keys.ts). A running server loads its keys once, at
// start, so a rotation reaches each instance when it restarts; the retired keys stay published meanwhile.
import type { Config } from '../../config/index.ts';
import { createKeyStore, type KeyInfo } from '../oidc/keys.ts';
import { defineCommand, type Area } from './command.ts';
import { isoDate, table, type Output } from './output.ts';

/** Instances not yet restarted keep signing with a retired key; this is how long they have to restart. */
export const RESTART_GRACE_SECONDS = 24 * 3600;

/**
 * How long a retired key stays published: until the last token it signed has expired, counting tokens signed by
 * instances that restart up to a day late. ID tokens are always signed; access tokens are when they are JWTs for
 * an API audience. Refresh tokens are opaque.
 */
export function retentionSeconds(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken) + RESTART_GRACE_SECONDS;
}

function printKeys(out: Output, keys: KeyInfo[], headline?: string): void {
  out.result(keys, () => [
    ...(headline ? [headline] : []),
    ...table(
      ['KID', 'ALG', 'STATUS', 'CREATED', 'PUBLISHED UNTIL'],
      keys.map((k) => [k.kid, k.alg, k.status, isoDate(k.createdAt), k.expiresAt ? isoDate(k.expiresAt) : '(while active)']),
      '(no keys yet: the server creates the first pair when it starts)',
    ),
  ]);
}

const rotate = defineCommand({
  name: 'rotate',
  summary: 'The published next pair starts signing, the active pair retires, and a new next pair is published.',
  details:
    'Retired keys stay published (so tokens they signed still verify) for the longest ID token or access token\n' +
    'lifetime (TTL_ID_TOKEN, TTL_ACCESS_TOKEN) plus a day for every instance to restart, then are dropped.\n' +
    'Run it with the same environment as the server.',
  options: {},
  async run({ out, session }) {
    const retain = retentionSeconds(session.config());
    const keys = await createKeyStore(await session.connection()).rotate(retain);
    printKeys(out, keys, 'Signing keys rotated.');
    const retired = keys.some((k) => k.status === 'retired');
    out.note(
      'note: running instances pick up new signing keys on restart; until then they keep signing with the keys they loaded. ' +
        (retired ? `Restart every instance within a day: the retired keys stay published for ${retain} seconds.` : 'Restart every instance.'),
    );
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'Lists the signing keys a server starting now would load: active (signing), next (published), retired.',
  options: {},
  async run({ out, session }) {
    printKeys(out, await createKeyStore(await session.connection()).list());
  },
});

export const keysArea: Area = {
  name: 'keys',
  summary: 'Rotate and list the token signing keys',
  commands: [rotate, list],
};
