// The login → device → verify loop, free of HTTP and SQL: it speaks to storage only through `Store`.
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { deviceSignature, type KeyRing, randomHex, safeEqual, sealContext, tokenMatches } from './crypto.js';
import { canonicalEmail, deviceLabel, isServiceName, parseScope } from './identity.js';
import type { Device, Store, User } from './ports.js';
import { isWellFormedCode, matchTotp, newTotpSecret } from './totp.js';

export interface Identity {
  /** The pseudonymous per-user-per-service token. */
  readonly userServiceToken: string;
  /** Present only where the grant's scope allows. */
  readonly email?: string;
  readonly username?: string;
  readonly role?: string;
}

/** One verify pipeline; each HTTP style only renders this differently. */
export type VerifyOutcome =
  | { readonly kind: 'bad-credential' }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'unknown-service' }
  | { readonly kind: 'forbidden' }
  | { readonly kind: 'allow'; readonly identity: Identity; readonly userId: number; readonly deviceId: string };

export interface LoginInput {
  readonly email: unknown;
  readonly code: unknown;
  readonly deviceType: unknown;
}

export interface NewDevice extends DeviceCredential {
  readonly userId: number;
}

export interface AuthDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
}

const CREDENTIAL_SHAPE = /^[\x21-\x7e]{16,512}$/;

export class Auth {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  /** Opened for unknown emails, so that path does the same decryption and TOTP work as a known one. */
  readonly #decoy: { sealed: string; context: string };

  constructor(deps: AuthDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    const context = sealContext.totpSecret(0);
    this.#decoy = { sealed: deps.keys.seal(newTotpSecret(), context), context };
  }

  /**
   * Registers a new device on a correct, unused code. `null` for every kind of failure, after the same work:
   * one user lookup, one decryption, one TOTP check.
   */
  async login(input: LoginInput): Promise<NewDevice | null> {
    const email = canonicalEmail(input.email);
    const codeOk = isWellFormedCode(input.code);
    const user = await this.#store.users.findByEmail(email ?? '');
    const secret = user
      ? this.#keys.open(user.totpSecretSealed, sealContext.totpSecret(user.id))
      : this.#keys.open(this.#decoy.sealed, this.#decoy.context);
    const now = this.#clock.now();
    const step = await matchTotp(secret ?? '', codeOk ? (input.code as string) : '', now, user?.lastTotpStep ?? null);
    if (!user || !email || !codeOk || secret === null || step === null) return null;
    // The replay guard is a conditional UPDATE, so of many parallel logins with one code exactly one wins.
    if (!(await this.#store.users.advanceTotpStep(user.id, step))) return null;
    const deviceId = randomHex(16);
    const deviceSecret = randomHex(16);
    await this.#store.devices.create({
      id: deviceId,
      userId: user.id,
      signature: deviceSignature(deviceId, deviceSecret),
      deviceType: deviceLabel(input.deviceType),
      createdAt: now,
    });
    return { deviceId, secret: deviceSecret, userId: user.id };
  }

  /** The device and its user if the pair is genuine, else `null`. The HMAC is computed on every path. */
  async authenticate(credential: DeviceCredential | undefined): Promise<{ device: Device; user: User } | null> {
    if (!credential) return null;
    const found = await this.#store.devices.findWithUser(credential.deviceId);
    const expected = deviceSignature(credential.deviceId, credential.secret);
    const ok = safeEqual(expected, found?.device.signature ?? '0'.repeat(64));
    return ok && found ? found : null;
  }

  /** Deletes this device if the pair is genuine. */
  async logout(credential: DeviceCredential | undefined): Promise<boolean> {
    const found = await this.authenticate(credential);
    return found ? this.#store.devices.delete(found.device.id) : false;
  }

  /**
   * The reference's decision order: caller credential, then device, then service, then grant. A credential is
   * either that service's own token or any proxy token.
   */
  async verify(serviceName: string, credential: string | undefined, device: DeviceCredential | undefined): Promise<VerifyOutcome> {
    if (!credential || !CREDENTIAL_SHAPE.test(credential)) return { kind: 'bad-credential' };
    const service = isServiceName(serviceName) ? await this.#store.services.findByName(serviceName) : undefined;
    if (!(await this.#callerMayVerify(credential, service?.token))) return { kind: 'bad-credential' };

    const found = await this.authenticate(device);
    if (!found) return { kind: 'unauthenticated' };
    if (!service) return { kind: 'unknown-service' };

    const { user } = found;
    let grant = await this.#store.grants.find(user.id, service.id);
    if (!grant && user.role === 'admin') {
      // Admins may use every service; their grant (and so their pseudonymous token) is made on first use.
      // If two first uses race, the row that landed first is the one both answer with.
      await this.#store.grants.insertIfAbsent(this.newGrant(user.id, service.id, ''));
      grant = await this.#store.grants.find(user.id, service.id);
    }
    if (!grant) return { kind: 'forbidden' };

    const token = this.#keys.open(grant.tokenSealed, sealContext.grantToken(user.id, service.id));
    if (token === null) throw new Error(`grant token for user ${user.id}, service ${service.id} does not decrypt`);
    const scope = parseScope(grant.scope);
    const identity: Identity = {
      userServiceToken: token,
      ...(scope.has('read:email') ? { email: user.email } : {}),
      ...(scope.has('read:username') && user.username !== null ? { username: user.username } : {}),
      ...(scope.has('read:user-role') ? { role: user.role } : {}),
    };
    return { kind: 'allow', identity, userId: user.id, deviceId: found.device.id };
  }

  async #callerMayVerify(credential: string, serviceToken: Parameters<typeof tokenMatches>[1] | undefined): Promise<boolean> {
    // Check every candidate without stopping early, so the answer's timing does not tell which one matched.
    let ok = serviceToken ? tokenMatches(credential, serviceToken) : false;
    for (const proxy of await this.#store.proxyTokens.list()) {
      ok = tokenMatches(credential, proxy.token) || ok;
    }
    return ok;
  }

  newGrant(userId: number, serviceId: number, scope: string) {
    return {
      userId,
      serviceId,
      scope,
      tokenSealed: this.#keys.seal(randomUUID(), sealContext.grantToken(userId, serviceId)),
      createdAt: this.#clock.now(),
    };
  }
}
