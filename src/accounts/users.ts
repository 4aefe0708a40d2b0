// Accounts: creating users, finding them by login name, checking passwords. Used by the sign-in pages,
// oidc-provider's findAccount and the admin commands.
//
// A user is found by username or email through `_id`-keyed alias documents (`login:<name>` → user id), so the
// sign-in path never filters on another field. Claiming the aliases by insert also makes names unique atomically.
import { randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { claim, consume, type ExpiringDoc } from '../db/atomic.ts';
import { isTooLong, type PasswordHasher } from './passwords.ts';
import { userModel, type Role, type User, type UserStatus } from './user-model.ts';
import { ConflictError, NotFoundError, ValidationError } from '../http/errors.ts';

const ALIASES = 'user_aliases';
// Aliases never expire; the date only satisfies the shared document shape.
const NEVER = new Date('9999-12-31T00:00:00Z');

export const USERNAME_PATTERN = /^[a-z0-9][a-z0-9._-]{1,62}$/;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface NewUser {
  username: string;
  email: string;
  name?: string;
  password: string;
  emailVerified?: boolean;
  roles?: Role[];
}

export type SignInResult = { ok: true; user: User } | { ok: false };

export interface Accounts {
  create(input: NewUser): Promise<User>;
  findById(id: string): Promise<User | null>;
  /** By username or email, case-insensitive. */
  findByLogin(login: string): Promise<User | null>;
  /** The same answer, in the same time, for an unknown login, a wrong password and a disabled account. */
  signIn(login: string, password: string): Promise<SignInResult>;
  setStatus(id: string, status: UserStatus): Promise<User>;
  setRoles(id: string, roles: Role[]): Promise<User>;
  setPassword(id: string, password: string): Promise<void>;
  list(options?: { limit?: number; skip?: number }): Promise<User[]>;
}

export function loginKey(login: string): string {
  return `login:${login.trim().normalize('NFKC').toLowerCase()}`;
}

export function createAccounts(connection: Connection, hasher: PasswordHasher): Accounts {
  const users = userModel(connection);
  const aliases = connection.db!.collection<ExpiringDoc>(ALIASES);

  async function findById(id: string): Promise<User | null> {
    return users.findById(id).lean<User>().exec();
  }

  async function findByLogin(login: string): Promise<User | null> {
    if (!login || login.length > 320) return null;
    const alias = await aliases.findOne({ _id: loginKey(login) });
    if (!alias || typeof alias.userId !== 'string') return null;
    return findById(alias.userId);
  }

  async function mustFind(id: string): Promise<User> {
    const user = await findById(id);
    if (!user) throw new NotFoundError('user_not_found', `no user ${id}`);
    return user;
  }

  async function update(id: string, changes: Partial<User>): Promise<User> {
    const result = await users.updateOne({ _id: id }, { $set: changes }).exec();
    if (result.matchedCount === 0) throw new NotFoundError('user_not_found', `no user ${id}`);
    return mustFind(id);
  }

  return {
    async create(input) {
      const username = input.username.trim().toLowerCase();
      const email = input.email.trim().toLowerCase();
      if (!USERNAME_PATTERN.test(username)) throw new ValidationError('invalid_username', 'username: 2-63 of a-z 0-9 . _ -');
      if (!EMAIL_PATTERN.test(email)) throw new ValidationError('invalid_email', 'email address is not valid');
      if (isTooLong(input.password) || [...input.password].length < 8) {
        throw new ValidationError('invalid_password', 'password must have 8 to 1024 characters');
      }
      const id = randomBytes(16).toString('base64url');
      const passwordHash = await hasher.hash(input.password);
      const claimed: string[] = [];
      const releaseClaims = async () => {
        for (const mine of claimed) await consume(aliases, mine);
      };
      for (const key of [loginKey(username), loginKey(email)]) {
        if (!(await claim(aliases, key, NEVER, { userId: id }))) {
          await releaseClaims();
          throw new ConflictError('login_taken', `${key.slice('login:'.length)} is already in use`);
        }
        claimed.push(key);
      }
      try {
        const created = await users.create({
          _id: id,
          username,
          email,
          emailVerified: input.emailVerified ?? false,
          name: input.name ?? '',
          passwordHash,
          roles: input.roles ?? [],
        });
        return created.toObject();
      } catch (error) {
        await releaseClaims();
        throw error;
      }
    },

    findById,
    findByLogin,

    async signIn(login, password) {
      const user = await findByLogin(login);
      if (!user) {
        // The same work as for a known user (a user read and an argon2 verification), so time tells nothing.
        await findById('\u0000no-such-user');
        await hasher.verifyDummy(password);
        return { ok: false };
      }
      const valid = await hasher.verify(user.passwordHash, password);
      if (!valid || user.status !== 'active') return { ok: false };
      if (hasher.needsRehash(user.passwordHash)) {
        await users.updateOne({ _id: user._id }, { $set: { passwordHash: await hasher.hash(password) } });
      }
      return { ok: true, user };
    },

    setStatus: (id, status) => update(id, { status }),
    setRoles: (id, roles) => update(id, { roles }),

    async setPassword(id, password) {
      await mustFind(id);
      await update(id, { passwordHash: await hasher.hash(password) });
    },

    async list({ limit = 50, skip = 0 } = {}) {
      return users.find().sort({ createdAt: 1, _id: 1 }).skip(skip).limit(Math.min(limit, 500)).lean<User[]>().exec();
    },
  };
}
