// The authenticator app's devices: how one is enrolled, and how its requests are proved to be its own. The protocol
// (README, "Authenticator app protocol"; scripts/authenticator.ts speaks it):
//
//   1. The account asks for an enrolment link (its security info page, or `npm run admin -- users enrol-app`): a
//      one-time token, good for ENROLMENT_SECONDS while the account's access goes on (no reset, lockdown or disable
//      since), shown as a QR code of `<origin>/authenticator/enrol#<token>`.
//   2. The app makes its own P-256 key pair and posts the form `token`, `name`, `proof` to /authenticator/enrol:
//      `proof` is a JWT (ES256) signed with that key, its public key in the header (`jwk`, as in DPoP, RFC 9449),
//      `aud` that URL, and the token as its `token` claim: the key's owner asked. The token is consumed (one
//      enrolment per token), the device is named by its key's RFC 7638 thumbprint, and it replaces the account's
//      previous one.
//   3. Every later request of the app is a form whose `token` is a JWT signed with its key: `sub` the device, `aud` the URL it is posted to,
//      `jti` a nonce used once, `iat` within REQUEST_SECONDS. /authenticator/pending returns the notification
//      waiting for the device (delivery/app-push.ts); its answer goes to the notification's answer URL with
//      `decision` (approve or deny) and, to approve, `number`: the one the person's screen shows.
//
// Nothing here decides a recovery: the answer is judged as a call's keys are (flows/recovery/call-answers.ts).
import { createHash, randomBytes } from 'node:crypto';
import type { Connection } from 'mongoose';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { claim, consume, NEVER_EXPIRES, upsertRetryingDuplicateKey, type ExpiringDoc } from '../db/atomic.ts';
import type { User } from '../accounts/user-model.ts';
import { revocationMsOf, revokedSinceCheck } from '../accounts/users.ts';
import { TooManyRequestsError, ValidationError } from '../errors.ts';
import { APP_NOTIFICATIONS, type AppNotificationDoc } from '../delivery/app-push.ts';

export const APP_DEVICES = 'app_devices';
export const APP_ENROLMENTS = 'app_enrolments';
/** The nonces (`jti`) of the apps' requests, each accepted once. */
export const APP_REQUEST_NONCES = 'app_request_nonces';
/** How long an enrolment link works: long enough to install an app and scan it. */
export const ENROLMENT_SECONDS = 15 * 60;
/** How old an app's signed request may be (its `iat`), and how far ahead of our clock. */
export const REQUEST_SECONDS = 120;
/**
 * Signed requests a device may make in a minute, of each kind (polls for what is waiting, answers): an app polling
 * every second stays within it, its answers counted apart, and a key that leaked with its app cannot fill the nonces
 * collection (each request stores one) faster than this.
 */
export const DEVICE_REQUESTS_PER_MINUTE = 60;
/** The longest name a device may be given (shown on the security info page and in notices). */
export const DEVICE_NAME_MAX = 60;
/**
 * How long a key's record counts as its holder's even before the holder's account names it: an enrolment writes the
 * record first and the account after, and another account's enrolment in between must not take the key as left.
 */
const HOLDER_SETTLE_MS = 60_000;
export const ENROLMENT_PATH = '/authenticator/enrol';
export const PENDING_PATH = '/authenticator/pending';

interface DeviceDoc {
  /** The RFC 7638 thumbprint of its public key. */
  _id: string;
  accountId: string;
  publicKey: JWK;
  name: string;
  createdAt: Date;
  /** The enrolment (its token's hash) it enrolled with: the page that made the link knows its own (`enrolledWith`). */
  enrolment: string;
}

interface EnrolmentDoc extends ExpiringDoc {
  accountId: string;
  /** The account's revocation when the link was made (users.ts revocationMsOf): a later one voids the link. */
  seenRevocationMs: number;
}

/**
 * Whether the access of the session that made the link goes on: not once the account is disabled or locked down, or
 * its access was revoked since (a password reset or set-password). Revocations are compared as stored, never with
 * a clock, so instances whose clocks differ agree (users.ts revokedSinceCheck).
 */
const linkStillValid = (account: User | null, enrolment: EnrolmentDoc): account is User =>
  account?.status === 'active' && !account.lockedDownAt && !revokedSinceCheck(account, enrolment.seenRevocationMs ?? 0);

/** Why an enrolment was refused: a 400 whose JSON error (with its support code) says which part was wrong. */
export class EnrolmentError extends ValidationError {
  constructor(code: 'invalid_request' | 'invalid_key' | 'invalid_proof' | 'invalid_token') {
    super(code, `enrolment refused: ${code}`);
  }
}

/** A request proved to come from the device the account has enrolled now. */
export interface DeviceRequest {
  deviceId: string;
  accountId: string;
  claims: JWTPayload;
}

/** What enrolling a device changes of the account (accounts/users.ts setSecurityInfo). */
export type SetAppDevice = (accountId: string, device: { id: string; name: string } | null) => Promise<User>;

export interface AppDevices {
  /** A one-time enrolment link for the account, when it stops working, and its id (what `cancelEnrolment` takes). */
  startEnrolment(accountId: string): Promise<{ link: string; expiresAt: Date; enrolmentId: string }>;
  /** The link of that enrolment no longer works (its page moved on); one already used is unchanged. */
  cancelEnrolment(enrolmentId: string): Promise<void>;
  /** Whether the device enrolled with that enrolment's link. */
  enrolledWith(deviceId: string, enrolmentId: string): Promise<boolean>;
  /** Enrols the app's key for the account whose token it presents; the device id, and the account it now serves. */
  enrol(input: { token?: string; name?: string; proof?: string }): Promise<{ deviceId: string; before: User; user: User }>;
  /** The device's request, if signed by the key of the device its account has enrolled now, and never seen before. */
  authenticate(token: unknown, audience: string): Promise<DeviceRequest | undefined>;
  /** The notification waiting for the device, if any. */
  waiting(deviceId: string): Promise<Omit<AppNotificationDoc, '_id'> | undefined>;
  /** The notification for `answerUrl` was answered for good: the device is no longer shown it. */
  dismiss(deviceId: string, answerUrl: string): Promise<void>;
}

const hashOf = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A public P-256 key and nothing else: what ES256 verifies with (a private part is refused, not stored). */
function publicKeyOf(value: unknown): JWK {
  const jwk = value as Partial<Record<string, unknown>> | null;
  const coordinate = (c: unknown) => typeof c === 'string' && /^[\w-]{43}$/.test(c);
  if (!jwk || typeof jwk !== 'object' || jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !coordinate(jwk.x) || !coordinate(jwk.y) || 'd' in jwk) {
    throw new EnrolmentError('invalid_key');
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x as string, y: jwk.y as string };
}

/**
 * A device's name as people type it: trimmed, cut at DEVICE_NAME_MAX code points, without control characters nor
 * invisible format ones (a right-to-left override would make a notice read other than it says).
 */
export function deviceName(value: unknown): string {
  const cleaned = typeof value === 'string' ? value.replace(/\p{Cc}/gu, ' ').replace(/\p{Cf}/gu, '').trim() : '';
  return [...cleaned].slice(0, DEVICE_NAME_MAX).join('') || 'Authenticator app';
}

export function createAppDevices({ connection, issuer, findAccount, setAppDevice, allowRequest, clock = Date.now }: {
  connection: Connection;
  issuer: string;
  /** One of the device's DEVICE_REQUESTS_PER_MINUTE of that kind (a db/atomic.ts slot: it holds across instances). */
  allowRequest: (deviceId: string, kind: 'poll' | 'answer') => Promise<boolean>;
  /** The account as stored now (a removed device must stop at once). */
  findAccount: (id: string) => Promise<User | null>;
  setAppDevice: SetAppDevice;
  clock?: () => number;
}): AppDevices {
  const origin = new URL(issuer).origin;
  const devices = () => connection.db!.collection<DeviceDoc>(APP_DEVICES);
  const enrolments = () => connection.db!.collection<EnrolmentDoc>(APP_ENROLMENTS);
  const nonces = () => connection.db!.collection<ExpiringDoc>(APP_REQUEST_NONCES);
  const notifications = () => connection.db!.collection<AppNotificationDoc>(APP_NOTIFICATIONS);
  const seconds = () => Math.floor(clock() / 1000);
  /** jose checks times against this clock, not the machine's (tests move it). */
  const verifyOptions = (audience: string) => ({ algorithms: ['ES256'], audience, maxTokenAge: REQUEST_SECONDS, clockTolerance: 5, currentDate: new Date(clock()) });

  return {
    async startEnrolment(accountId) {
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(clock() + ENROLMENT_SECONDS * 1000);
      // Only its hash is stored: a copy of the database enrols nothing.
      const enrolmentId = hashOf(token);
      const account = await findAccount(accountId);
      await enrolments().insertOne({ _id: enrolmentId, accountId, expiresAt, seenRevocationMs: account ? revocationMsOf(account) : 0 });
      return { link: `${origin}${ENROLMENT_PATH}#${token}`, expiresAt, enrolmentId };
    },

    async cancelEnrolment(enrolmentId) {
      await consume(enrolments(), enrolmentId);
    },

    async enrolledWith(deviceId, enrolmentId) {
      return (await devices().findOne({ _id: deviceId }, { projection: { enrolment: 1 } }))?.enrolment === enrolmentId;
    },

    async enrol(input) {
      const { token, name, proof } = input;
      if (typeof token !== 'string' || token.length > 100 || typeof proof !== 'string' || proof.length > 4096) throw new EnrolmentError('invalid_request');
      let header: ReturnType<typeof decodeProtectedHeader>;
      try {
        header = decodeProtectedHeader(proof);
      } catch {
        throw new EnrolmentError('invalid_proof');
      }
      const jwk = publicKeyOf(header.jwk);
      // The key's holder asked for this token: a proof signed with it, naming the token, for this server.
      try {
        const { payload } = await jwtVerify(proof, await importJWK(jwk, 'ES256'), verifyOptions(`${origin}${ENROLMENT_PATH}`));
        if (payload.token !== token) throw new EnrolmentError('invalid_proof');
      } catch {
        throw new EnrolmentError('invalid_proof');
      }
      const enrolment = await enrolments().findOne({ _id: hashOf(token) });
      if (!enrolment || enrolment.expiresAt.getTime() <= clock()) throw new EnrolmentError('invalid_token');
      // A link is the session's that made it: it enrols nothing once that access ends, as the session's tokens do.
      const before = await findAccount(enrolment.accountId);
      if (!linkStillValid(before, enrolment)) throw new EnrolmentError('invalid_token');
      // A key serves one account: one that another account has enrolled now, or is enrolling (a record of the last
      // minute), is refused; one it has replaced or removed, whose key record stays, is free again.
      const deviceId = await calculateJwkThumbprint(jwk, 'sha256');
      const holder = await devices().findOne({ _id: deviceId }, { projection: { accountId: 1, createdAt: 1 } });
      if (holder && holder.accountId !== before._id) {
        const settling = clock() - new Date(holder.createdAt).getTime() < HOLDER_SETTLE_MS;
        if (settling || (await findAccount(holder.accountId))?.securityInfo?.appDevice?.id === deviceId) throw new EnrolmentError('invalid_key');
      }
      // One enrolment per token, whatever races: the delete decides (db/atomic.ts).
      if (!(await consume(enrolments(), enrolment._id))) throw new EnrolmentError('invalid_token');
      const device = { accountId: before._id, publicKey: jwk, name: deviceName(name), createdAt: new Date(clock()), enrolment: enrolment._id };
      if (holder?.accountId === before._id) {
        // Its own key again: a record only this account writes.
        await upsertRetryingDuplicateKey(() => devices().replaceOne({ _id: deviceId }, device, { upsert: true }));
      } else {
        // A record another account left goes, and the insert decides: of two accounts racing with one key, one has it.
        if (holder) await devices().deleteOne({ _id: deviceId, accountId: holder.accountId });
        const records = connection.db!.collection<ExpiringDoc>(APP_DEVICES); // claimed as a record that never expires
        if (!(await claim(records, deviceId, NEVER_EXPIRES, device))) throw new EnrolmentError('invalid_key');
      }
      const user = await setAppDevice(before._id, { id: deviceId, name: deviceName(name) });
      // Access that ended between the check and the write (read back after it) takes the device back off.
      if (!linkStillValid(user, enrolment)) {
        await setAppDevice(before._id, before.securityInfo?.appDevice ?? null);
        throw new EnrolmentError('invalid_token');
      }
      const replaced = before.securityInfo?.appDevice?.id;
      if (replaced && replaced !== deviceId) await devices().deleteOne({ _id: replaced });
      return { deviceId, before, user };
    },

    async authenticate(token, audience) {
      if (typeof token !== 'string' || token.length > 4096) return undefined;
      let subject: unknown;
      try {
        subject = decodeJwt(token).sub; // which key to verify with; nothing is trusted before the signature is
      } catch {
        return undefined;
      }
      if (typeof subject !== 'string' || subject.length > 100) return undefined;
      const device = await devices().findOne({ _id: subject });
      if (!device) return undefined;
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(token, await importJWK(device.publicKey, 'ES256'), { ...verifyOptions(audience), subject, requiredClaims: ['jti', 'iat'] }));
      } catch {
        return undefined;
      }
      if (typeof claims.jti !== 'string' || claims.jti.length < 16 || claims.jti.length > 100 || (claims.iat ?? 0) > seconds() + 5) return undefined;
      // The device its account has now: one removed or replaced proves nothing, though its key still signs.
      const account = await findAccount(device.accountId);
      if (account?.status !== 'active' || account.securityInfo?.appDevice?.id !== device._id) return undefined;
      // Within the device's budget (a 429 the app can wait out, not a refusal of the device), before its nonce is stored.
      const kind = audience === `${origin}${PENDING_PATH}` ? 'poll' : 'answer';
      if (!(await allowRequest(device._id, kind))) throw new TooManyRequestsError(60, `device ${device._id} over ${DEVICE_REQUESTS_PER_MINUTE} ${kind} requests a minute`);
      // Each signed request once: a replay (the same jti) is refused, decided by the claim.
      const keptUntil = new Date(clock() + 2 * REQUEST_SECONDS * 1000);
      if (!(await claim(nonces(), `${device._id}:${claims.jti}`, keptUntil))) return undefined;
      return { deviceId: device._id, accountId: device.accountId, claims };
    },

    async waiting(deviceId) {
      const notification = await notifications().findOne({ _id: deviceId });
      if (!notification || notification.expiresAt.getTime() <= clock()) return undefined;
      const { _id, ...rest } = notification;
      return rest;
    },

    async dismiss(deviceId, answerUrl) {
      // Only that notification: a newer one (Send again) stays for the app to fetch.
      await notifications().deleteOne({ _id: deviceId, answerUrl });
    },
  };
}
