// The device lifecycle in one place, as Lucia's core owns a session: a device is created at sign-in (`newDevice`),
// read from its cookie pair (`cookies.ts` parses the header strictly; `http/device-cookies.ts` writes it),
// validated against its stored signature, listed, and revoked (by its user, by "sign out everywhere", at logout,
// by an admin). Every other module asks this one. Free of HTTP and SQL.
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { deviceRef, deviceSignature, randomHex, safeEqual } from './crypto.js';
import { deviceLabel } from './identity.js';
import type { Device, NewDevice, SignInMethod, User } from './model.js';
import type { Store } from './ports.js';
import type { CachedDevice, VerifyCache } from './verify-cache.js';

/**
 * By default, how recent a device's sign-in must be to change how its account signs in (FRESH_SIGN_IN_MINUTES):
 * 10 minutes, as Authelia's elevated session.
 */
export const FRESH_SIGN_IN_IN_MS = 10 * 60_000;

/** Whether `device` signed in (or signed in again) less than `withinMs` before `now`: `recent:N` rules, step-up. */
export function signedInWithin(device: Pick<Device, 'signedInAt'>, withinMs: number, now: number): boolean {
  return now - device.signedInAt < withinMs;
}

/** Compared against when no device was found, so that path costs the same as a wrong secret. */
const DECOY_SIGNATURE = '0'.repeat(64);

/** `found` if the pair's HMAC matches its stored signature, else `null`. The HMAC is computed on every path. */
function checkSignature(credential: DeviceCredential | undefined, found: CachedDevice | undefined): CachedDevice | null {
  if (!credential) return null;
  const expected = deviceSignature(credential.deviceId, credential.secret);
  const ok = safeEqual(expected, found?.device.signature ?? DECOY_SIGNATURE);
  return ok && found ? found : null;
}

/**
 * A new device for `userId`, as every sign-in makes one (code, passkey, invite): a fresh id and secret, never
 * taken from the client; only their HMAC goes in the row. `credential` becomes the two cookies. `method` is how
 * it signed in (what `passkey` access rules ask). With `renew` (a genuine device of this same user, already
 * proven), no new device is made: that one's sign-in method and time are renewed and it keeps its cookies.
 */
export function newDevice(
  userId: number,
  deviceType: unknown,
  now: number,
  method: SignInMethod = 'code',
  renew?: { readonly deviceId: string; readonly secret: string },
) {
  const deviceId = renew?.deviceId ?? randomHex(16);
  const secret = renew?.secret ?? randomHex(16);
  const label = deviceLabel(deviceType);
  const row: NewDevice = {
    id: deviceId,
    userId,
    signature: deviceSignature(deviceId, secret),
    deviceType: label,
    createdAt: now,
    signedInWith: method,
    signedInAt: now,
    ...(renew ? { renews: true } : {}),
  };
  return { credential: { deviceId, secret, userId }, row, deviceType: label };
}

export class Devices {
  readonly #store: Store;
  readonly #cache: VerifyCache;
  readonly #clock: Clock;
  readonly #freshSignInInMs: number;

  constructor(deps: { readonly store: Store; readonly cache: VerifyCache; readonly clock: Clock; readonly freshSignInInMs?: number }) {
    this.#store = deps.store;
    this.#cache = deps.cache;
    this.#clock = deps.clock;
    this.#freshSignInInMs = deps.freshSignInInMs ?? FRESH_SIGN_IN_IN_MS;
  }

  /**
   * Whether `device` signed in (or signed in again) recently enough to change how its account signs in (add or
   * remove a passkey or an authenticator app, turn passkey-only on or off): a stolen signed-in browser cannot make
   * itself a lasting way in. A change made in two steps (the authenticator app: scan a QR code, then type its first
   * code) begins only in the first half of that window (`toBegin`), so the second step does not fall past its end.
   */
  signedInRecently(device: Pick<Device, 'signedInAt'>, { toBegin = false } = {}): boolean {
    return signedInWithin(device, toBegin ? this.#freshSignInInMs / 2 : this.#freshSignInInMs, this.#clock.now());
  }

  /** The device and its user if the pair is genuine, else `null`. */
  async authenticate(credential: DeviceCredential | undefined): Promise<{ device: Device; user: User } | null> {
    if (!credential || this.#cache.isKnownBad(credential)) return null;
    const cached = this.#cache.device(credential);
    if (cached) return cached;
    return this.validate(credential, await this.#store.devices.findWithUser(credential.deviceId));
  }

  /**
   * The one check of a cookie pair against what the database holds for its id (`found`, possibly nothing): the
   * device if genuine, else `null`. Either answer is remembered (a genuine pair as a device, any other as junk).
   */
  validate(credential: DeviceCredential | undefined, found: CachedDevice | undefined): CachedDevice | null {
    const genuine = checkSignature(credential, found);
    if (credential) {
      if (genuine) this.#cache.rememberDevice(credential, genuine);
      else this.#cache.rememberBad(credential);
    }
    return genuine;
  }

  /** Every device, or one user's, oldest first. */
  list(userId?: number): Promise<Device[]> {
    return this.#store.devices.list(userId);
  }

  /** A user's devices, each with a reference that names it on the account page without exposing its id. */
  async of(userId: number): Promise<Array<Device & { ref: string }>> {
    return (await this.#store.devices.list(userId)).map((d) => ({ ...d, ref: deviceRef(d.id) }));
  }

  /** Revokes one of the user's own devices by its reference; the revoked device, or `undefined` if none. */
  async revokeOwn(userId: number, ref: string): Promise<Device | undefined> {
    const device = (await this.of(userId)).find((d) => d.ref === ref);
    if (!device) return undefined;
    return (await this.revoke(device.id)) ? device : undefined;
  }

  /**
   * Names one of the user's own devices (by its reference), so that two of the same kind can be told apart; the
   * renamed device, or `undefined` if none.
   */
  async renameOwn(userId: number, ref: string, name: string): Promise<Device | undefined> {
    const device = (await this.of(userId)).find((d) => d.ref === ref);
    if (!device) return undefined;
    // MySQL reports no change for the name it already has: that is a success too.
    const renamed = (await this.#store.devices.rename(device.id, userId, name)) || device.deviceType === name;
    return renamed ? { ...device, deviceType: name } : undefined;
  }

  /** Revokes every device of the user: "sign out everywhere". */
  async revokeAll(userId: number): Promise<number> {
    let n = 0;
    for (const d of await this.#store.devices.list(userId)) if (await this.revoke(d.id)) n++;
    return n;
  }

  /** Deletes this device if the pair is genuine. */
  async logout(credential: DeviceCredential | undefined): Promise<boolean> {
    const found = await this.authenticate(credential);
    return found ? this.revoke(found.device.id) : false;
  }

  /**
   * Revokes a device by its id (every revocation ends here); `false` if there was none. The store records the
   * change in the feed, which drops the device from every instance's cache (this one's as soon as it commits).
   */
  revoke(deviceId: string): Promise<boolean> {
    return this.#store.devices.delete(deviceId);
  }
}
