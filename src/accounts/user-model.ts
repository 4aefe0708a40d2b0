// The user document. `_id` is a random string that never changes: it is the OIDC `sub`.
import { Schema, type Connection, type Model } from 'mongoose';

export type UserStatus = 'active' | 'disabled';
export const ROLES = ['admin'] as const;
export type Role = (typeof ROLES)[number];

/** Verification methods the recovery flow will use; registered by the user, all optional. */
export interface SecurityInfo {
  alternateEmail?: string;
  mobilePhone?: string;
  officePhone?: string;
  authenticator?: {
    totpSecret?: string;
    registeredAt?: Date;
    /** The seed as first sealed, kept when `keys reseal-secrets` seals it again: the same authenticator still (methods/totp.ts). */
    identity?: string;
  };
  /**
   * The authenticator app that approves notifications (methods/app-devices.ts): the enrolled device, whose public key
   * is kept in `app_devices` under this id. Enrolling another device replaces it.
   */
  appDevice?: { id: string; name: string; registeredAt: Date };
  confirmedAt?: Date;
}

export interface User {
  _id: string;
  username: string;
  email: string;
  emailVerified: boolean;
  name: string;
  /** The argon2id hash, sealed with DATA_ENCRYPTION_KEY (accounts/passwords.ts); in clear from before sealing began. */
  passwordHash: string;
  status: UserStatus;
  roles: Role[];
  securityInfo: SecurityInfo;
  /** Sessions and tokens issued before this moment are dead (account-level revocation: disable, reset, lockdown). */
  revokedAt?: Date;
  /** Set by "This wasn't me": sign-in is refused until a recovery with the full method count or an admin clears it. */
  lockedDownAt?: Date;
  /**
   * The password is a temporary one an administrator set (`users create` or `set-password` without --permanent): the
   * next sign-in with it asks for the person's own before it completes (interactions/password-change.ts).
   */
  passwordChangeRequired?: boolean;
  /**
   * The page language the owner last signed in with (accounts/users.ts `rememberLanguage`): notices reach them in it,
   * whoever caused them (someone else's wrong passwords, an administrator, a recovery run in another language).
   */
  language?: string;
  createdAt: Date;
  updatedAt: Date;
}

const securityInfoSchema = new Schema<SecurityInfo>(
  {
    alternateEmail: String,
    mobilePhone: String,
    officePhone: String,
    authenticator: { totpSecret: String, registeredAt: Date, identity: String },
    appDevice: { id: String, name: String, registeredAt: Date },
    confirmedAt: Date,
  },
  { _id: false },
);

const userSchema = new Schema<User>(
  {
    _id: { type: String, required: true },
    username: { type: String, required: true },
    email: { type: String, required: true },
    emailVerified: { type: Boolean, default: false },
    name: { type: String, default: '' },
    passwordHash: { type: String, required: true },
    status: { type: String, enum: ['active', 'disabled'], default: 'active' },
    roles: { type: [String], enum: ROLES, default: [] },
    securityInfo: { type: securityInfoSchema, default: () => ({}) },
    revokedAt: Date,
    lockedDownAt: Date,
    passwordChangeRequired: Boolean,
    language: String,
  },
  { collection: 'users', timestamps: true, versionKey: false, minimize: false },
);

export type UserModel = Model<User>;

export function userModel(connection: Connection): UserModel {
  return (connection.models.User as UserModel | undefined) ?? connection.model<User>('User', userSchema);
}
