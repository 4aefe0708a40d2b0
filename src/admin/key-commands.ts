// `npm run admin -- keys …`: the token signing keys (oidc/keys.ts). A running server loads its keys once, at
// start, so a rotation reaches each instance when it restarts; the retired keys stay published meanwhile.
import type { Config } from '../../config/index.ts';
import { createKeyStore, type KeyInfo } from '../oidc/keys.ts';
import { defineCommand, type Area } from './command.ts';
import { isoDate, table, type Output } from './output.ts';

/**
 * How long a retired key stays published: until the last token it signed has expired. ID tokens are always
 * signed; access tokens are when they are JWTs for an API audience. Refresh tokens are opaque.
 */
export function retentionSeconds(config: Config): number {
  return Math.max(config.ttl.idToken, config.ttl.accessToken);
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
  summary: 'Creates a new ES256 + RS256 signing pair and retires the current one.',
  details:
    'Retired keys stay published (so tokens they signed still verify) for the longest ID token or access token\n' +
    'lifetime (TTL_ID_TOKEN, TTL_ACCESS_TOKEN), then are dropped. Run it with the same environment as the server.',
  options: {},
  async run({ out, session }) {
    const retain = retentionSeconds(session.config());
    const keys = await createKeyStore(await session.connection()).rotate(retain);
    printKeys(out, keys, 'Signing keys rotated.');
    const retired = keys.some((k) => k.status === 'retired');
    out.note(
      'note: running instances pick up new signing keys on restart; until then they keep signing with the keys they loaded. ' +
        (retired ? `Restart every instance: the retired keys stay published for ${retain} seconds.` : 'Restart every instance.'),
    );
  },
});

const list = defineCommand({
  name: 'list',
  summary: 'Lists the signing keys a server starting now would load: active first, then retired ones still published.',
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
