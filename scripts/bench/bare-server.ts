// Benchmark child: a yardstick. oidc-provider with its defaults (built-in development interactions whose sign-in
// form accepts any login) and only what makes it do the same protocol work as Latchkey: one static client, an
// ES256 signing key, signed cookies and the same scope-to-claims map. Storage is the in-memory adapter ("bare"),
// or with BENCH_MONGODB_URI set the plain MongoDB adapter of plain-adapter.ts on that database ("plain"), whose
// commands are counted as Latchkey's are. BENCH_TARGET_NAME overrides the name the load client knows it by.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider, { type JWK } from 'oidc-provider';
import { SCOPE_CLAIMS } from '../../src/oidc/account.ts';
import { connectDatabase } from '../../src/db/connection.ts';
import { plainMongoAdapter } from './plain-adapter.ts';
import { runChild } from './ipc.ts';
import { cpuMicros, REDIRECT_URI, type ServerCounters, type Target } from './target.ts';

await runChild(async () => {
  const uri = process.env.BENCH_MONGODB_URI;
  let dbCommands = 0;
  const dbCommandsByName = new Map<string, number>();
  const connection = uri
    ? await connectDatabase(uri, {
        onCommand({ commandName }) {
          dbCommands += 1;
          dbCommandsByName.set(commandName, (dbCommandsByName.get(commandName) ?? 0) + 1);
        },
      })
    : undefined;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // The benchmark's Latchkey client signs ID tokens with ES256 (latchkey-server.ts); the library's development key
  // is RS256, several times slower to sign.
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signingKey: JWK = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: 'bench-es256', alg: 'ES256', use: 'sig' };
  const clientSecret = randomBytes(32).toString('base64url');

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'bench-rp',
        client_secret: clientSecret,
        redirect_uris: [REDIRECT_URI],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    ...(connection && { adapter: plainMongoAdapter(connection) }),
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: SCOPE_CLAIMS,
    features: { devInteractions: { enabled: true } },
    // The development login form takes any login as the account id; give it the claims a real account would have.
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({ sub, name: 'Bench User', preferred_username: sub, email: `${sub}@example.test`, email_verified: true }),
    }),
  });
  server.on('request', provider.callback());

  const target: Target = { name: process.env.BENCH_TARGET_NAME || (connection ? 'plain' : 'bare'), issuer, clientId: 'bench-rp', clientSecret, login: 'bench-user', password: 'anything' };
  return {
    info: { target },
    handlers: {
      async counters(): Promise<ServerCounters> {
        return connection
          ? { cpuMicros: cpuMicros(), dbCommands, dbCommandsByName: Object.fromEntries(dbCommandsByName) }
          : { cpuMicros: cpuMicros(), dbCommands: null, dbCommandsByName: {} };
      },
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection?.dropDatabase().catch(() => {});
      await connection?.close();
    },
  };
});
