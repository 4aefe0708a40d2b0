// Users and clients for tests, created through the same commands the admin CLI uses.
import { randomBytes } from 'node:crypto';
import type { TestServer } from './server.ts';
import type { ClientInput, ClientMetadata } from '../../src/admin/clients.ts';
import type { Role, User } from '../../src/accounts/user-model.ts';
import { configuredSecretBox } from '../../src/security/encryption.ts';

export const PASSWORD = 'correct horse battery staple';

export async function createUser(server: TestServer, overrides: Partial<{ username: string; email: string; name: string; password: string; roles: Role[] }> = {}): Promise<User> {
  const tag = randomBytes(4).toString('hex');
  return server.latchkey.accounts.create({
    username: `user${tag}`,
    email: `user${tag}@example.test`,
    name: `Test User ${tag}`,
    password: PASSWORD,
    emailVerified: true,
    ...overrides,
  });
}

/** A stored password hash as argon2 made it: opened with the server's DATA_ENCRYPTION_KEY (accounts/passwords.ts). */
export function openedHash(server: TestServer, stored: string): string {
  return configuredSecretBox(server.config).open(stored);
}

export async function createClient(server: TestServer, overrides: Partial<ClientInput> = {}): Promise<ClientMetadata> {
  return server.clients.create({
    client_name: 'Test App',
    redirect_uris: [`${server.origin}/cb`],
    post_logout_redirect_uris: [`${server.origin}/signed-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    ...overrides,
  });
}
