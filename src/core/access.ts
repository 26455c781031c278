// The /verify decision: may this caller ask, is this device genuine, does its user have access to the service.
// Warm requests are answered from memory (no query, no HMAC, no decryption) and synchronously; cold ones need
// one round trip (two when the caller uses a proxy token).
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { type KeyRing, sealContext, tokenMatches, UnreadableSecretError } from './crypto.js';
import type { Decision, Identity, VerifyOutcome } from './decisions.js';
import type { Devices } from './devices.js';
import { newGrant } from './grants.js';
import { isServiceName, parseScope } from './identity.js';
import type { LastSeen } from './last-seen.js';
import type { Grant, Store, StoredTokenHash, User } from './ports.js';
import type { CachedCaller, VerifyCache } from './verify-cache.js';

const BAD_CREDENTIAL: VerifyOutcome = { kind: 'bad-credential' };
const UNAUTHENTICATED: VerifyOutcome = { kind: 'unauthenticated' };

const CREDENTIAL_SHAPE = /^[\x21-\x7e]{16,512}$/;

export interface AccessDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  readonly cache: VerifyCache;
  /** Validates the cookie pair against the row the look-up found. */
  readonly devices: Devices;
  readonly lastSeen?: LastSeen | undefined;
}

export class Access {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #cache: VerifyCache;
  readonly #devices: Devices;
  readonly #lastSeen: LastSeen | undefined;

  constructor(deps: AccessDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#cache = deps.cache;
    this.#devices = deps.devices;
    this.#lastSeen = deps.lastSeen;
  }

  /**
   * The reference's decision order: caller credential, then device, then service, then grant. A credential is
   * either that service's own token or any proxy token. The answer itself when everything needed is in memory
   * (or the credential is malformed); a promise only when the database must be asked.
   */
  verify(
    serviceName: string,
    credential: string | undefined,
    device: DeviceCredential | undefined,
  ): VerifyOutcome | Promise<VerifyOutcome> {
    if (credential === undefined) return BAD_CREDENTIAL;
    // The warm path: this exact request was allowed a moment ago (its key can only match a well-formed credential).
    if (device !== undefined) {
      const warm = this.#cache.request(device, serviceName, credential);
      // Refused a moment ago for its cookie pair, with this same caller credential accepted: refused again.
      if (warm === 'bad') return UNAUTHENTICATED;
      if (warm !== undefined) {
        this.#lastSeen?.record(warm.outcome.deviceId, warm.outcome.userId, warm.serviceId);
        return warm.outcome;
      }
    }
    // A caller in memory was well-formed when it was checked (only those are remembered): the same string still is.
    const caller = this.#cache.caller(serviceName, credential);
    if (!caller && !CREDENTIAL_SHAPE.test(credential)) return BAD_CREDENTIAL;
    if (caller) {
      if (!device) return UNAUTHENTICATED;
      const found = this.#cache.deviceOrBad(device);
      if (found === 'bad') {
        this.#cache.rememberBadRequest(device, serviceName, credential);
        return UNAUTHENTICATED;
      }
      if (found !== undefined) {
        if (caller.serviceId === null) return { kind: 'unknown-service', email: found.user.email };
        const decision = this.#cache.decision(found.user.id, caller.serviceId);
        if (decision) return this.#outcome(decision, found.user, caller.serviceId, found.device.id, { device, serviceName, credential });
      }
    }
    return this.#verifyCold(serviceName, credential, caller, device);
  }

  async #verifyCold(
    serviceName: string,
    credential: string,
    cachedCaller: CachedCaller | undefined,
    device: DeviceCredential | undefined,
  ): Promise<VerifyOutcome> {
    this.#cache.countMiss();
    const name = isServiceName(serviceName) ? serviceName : undefined;
    const { found, service, grant } = await this.#store.lookupForVerify(device?.deviceId, name);
    if (!cachedCaller) {
      if (!(await this.#callerMayVerify(credential, service?.token))) return BAD_CREDENTIAL;
      this.#cache.rememberCaller(serviceName, credential, service?.id ?? null);
    }

    const authenticated = this.#devices.validate(device, found);
    if (!authenticated || !device) {
      if (device) this.#cache.rememberBadRequest(device, serviceName, credential);
      return UNAUTHENTICATED;
    }
    if (!service) return { kind: 'unknown-service', email: authenticated.user.email };

    const decision = await this.#decide(authenticated.user, service.id, grant);
    this.#cache.rememberDecision(authenticated.user.id, service.id, decision);
    return this.#outcome(decision, authenticated.user, service.id, authenticated.device.id, { device, serviceName, credential });
  }

  /** The outcome of a decision; an allow is remembered whole for the exact request that earned it. */
  #outcome(
    decision: Decision,
    user: User,
    serviceId: number,
    deviceId: string,
    request: { device: DeviceCredential; serviceName: string; credential: string },
  ): VerifyOutcome {
    if (decision.kind === 'forbidden') return { kind: 'forbidden', email: user.email };
    this.#lastSeen?.record(deviceId, user.id, serviceId);
    const outcome = { kind: 'allow', identity: decision.identity, userId: user.id, deviceId } as const;
    this.#cache.rememberAnswer(request.device, request.serviceName, request.credential, { outcome, serviceId });
    return outcome;
  }

  async #decide(user: User, serviceId: number, grant: Grant | undefined): Promise<Decision> {
    if (!grant && user.role === 'admin') {
      // Admins may use every service; their grant (and so their pseudonymous token) is made on first use.
      // If two first uses race, the row that landed first is the one both answer with.
      await this.#store.grants.insertIfAbsent(newGrant(this.#keys, this.#clock.now(), user.id, serviceId, ''));
      grant = await this.#store.grants.find(user.id, serviceId);
    }
    if (!grant) return { kind: 'forbidden' };
    const token = this.#keys.open(grant.tokenSealed, sealContext.grantToken(user.id, serviceId));
    if (token === null) throw new UnreadableSecretError(`grant token for user ${user.id}, service ${serviceId} does not decrypt`);
    const scope = parseScope(grant.scope);
    const identity: Identity = {
      userServiceToken: token,
      ...(scope.has('read:email') ? { email: user.email } : {}),
      ...(scope.has('read:username') && user.username !== null ? { username: user.username } : {}),
      ...(scope.has('read:user-role') ? { role: user.role } : {}),
    };
    return { kind: 'allow', identity };
  }

  async #callerMayVerify(credential: string, serviceToken: StoredTokenHash | undefined): Promise<boolean> {
    if (serviceToken && tokenMatches(credential, serviceToken)) return true;
    // Check every proxy token without stopping early, so timing does not tell which one matched.
    let ok = false;
    for (const proxy of await this.#store.proxyTokens.list()) ok = tokenMatches(credential, proxy.token) || ok;
    return ok;
  }
}
