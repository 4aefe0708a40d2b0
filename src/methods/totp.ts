// "Enter a code from my authenticator app": TOTP (RFC 6238) with otplib: 30-second steps, the current step or the
// one before (a code typed just as it changed), each code accepted once even across parallel requests — the time
// step it matched is claimed (a unique insert), so a replay of that code loses, and so is the step before it (an
// older code is not accepted after a newer one). The seed is stored sealed with
// DATA_ENCRYPTION_KEY (security/encryption.ts).
import { generateSecret, generateURI, verify } from 'otplib';
import type { Connection } from 'mongoose';
import { claim, type ExpiringDoc } from '../db/atomic.ts';
import type { SecretBox } from '../security/encryption.ts';
import type { VerificationMethod } from './method.ts';
import type { User } from '../accounts/user-model.ts';

export const USED_TOTP_STEPS = 'totp_used_steps';
/** Authenticator apps show 6 digits (otplib's default, and what every common app uses). */
export const TOTP_DIGITS = 6;
/** A used step is remembered past the window in which its code could be accepted (current + one back). */
const REMEMBER_SECONDS = 120;

/** Whether the account has an authenticator registered (nothing is opened: the admin CLI asks this without the key). */
export const hasAuthenticator = (user: User): boolean => Boolean(user.securityInfo?.authenticator?.totpSecret);

export function createTotpMethod({ connection, box, clock = Date.now }: { connection: Connection; box: SecretBox; clock?: () => number }): VerificationMethod {
  const used = connection.db!.collection<ExpiringDoc>(USED_TOTP_STEPS);
  // What a decoy's code is checked against: sealed like a real seed, so that opening it costs the same.
  const nobodysSeed = box.seal(generateSecret());
  return {
    id: 'totp',
    kind: 'code',
    strong: true,
    isRegistered: hasAuthenticator,
    // Sealed with a fresh nonce each time: a seed enrolled again, even the same one, is a new authenticator. Sealed
    // again under a new DATA_ENCRYPTION_KEY it is not (its `identity` is the seed as first sealed): its proofs in a
    // flow still stand, and its run of wrong codes goes on.
    authenticator: (user) => user.securityInfo.authenticator?.identity ?? user.securityInfo.authenticator?.totpSecret ?? '',
    // Nothing about an app can be masked usefully; the page names the method only.
    hint: () => '',
    decoyHint: () => '',
    checkable: (user) => !user?.securityInfo.authenticator?.totpSecret || box.opens(user.securityInfo.authenticator.totpSecret),
    async verifyHeld(user, code) {
      if (!new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(code)) return 'wrong'; // otplib throws on anything else
      const held = user?.securityInfo.authenticator?.totpSecret;
      const result = await verify({ secret: box.open(held ?? nobodysSeed), token: code, epoch: Math.floor(clock() / 1000), epochTolerance: [30, 0] });
      if (!held || !result.valid || !('timeStep' in result)) return 'wrong';
      const rememberUntil = new Date(clock() + REMEMBER_SECONDS * 1000);
      if (!(await claim(used, `${user!._id}:${result.timeStep}`, rememberUntil))) return 'used';
      // Once a code is used, the one before it is spent too (whether or not it ever was): a code captured earlier and
      // held back, by a phishing page for instance, is refused after the owner has used a newer one. Taken by a claim
      // like any other, so the step before is also closed to requests that come after this one.
      await claim(used, `${user!._id}:${result.timeStep - 1}`, rememberUntil);
      return 'right';
    },
  };
}

/** A new authenticator seed: the sealed form to store, and the otpauth URI the user's app scans. */
export function newAuthenticator(box: SecretBox, { issuer, label }: { issuer: string; label: string }) {
  const secret = generateSecret();
  return { sealed: box.seal(secret), uri: generateURI({ issuer, label, secret }), secret };
}
