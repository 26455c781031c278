// The login → device → verify loop, free of HTTP and SQL: it speaks to storage only through `Store`.
import { randomUUID } from 'node:crypto';
import type { Clock } from './clock.js';
import type { DeviceCredential } from './cookies.js';
import { deviceRef, deviceSignature, type KeyRing, randomHex, safeEqual, sealContext, tokenMatches } from './crypto.js';
import { canonicalEmail, deviceLabel, isServiceName, parseScope } from './identity.js';
import type { LastSeen } from './last-seen.js';
import type { Device, Grant, Store, StoredTokenHash, User } from './ports.js';
import { accountSubject, addressSubject, LOGIN_LIMITS, withinLimits } from './throttle.js';
import { isWellFormedCode, matchTotp, newTotpSecret } from './totp.js';
import { type CacheOptions, DEFAULT_CACHE_OPTIONS, type Decision, VerifyCache } from './verify-cache.js';

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
  /** The client's address key (see `clientKey`), for the per-address budget. */
  readonly client: string;
}

export type LoginResult =
  | { readonly ok: true; readonly device: NewDevice; readonly email: string; readonly deviceType: string }
  | { readonly ok: false; readonly reason: 'invalid' | 'replayed' | 'throttled'; readonly email: string | undefined };

export interface NewDevice extends DeviceCredential {
  readonly userId: number;
}

export interface AuthDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  readonly cache?: CacheOptions;
  readonly lastSeen?: LastSeen;
}

const BAD_CREDENTIAL: VerifyOutcome = { kind: 'bad-credential' };
const UNAUTHENTICATED: VerifyOutcome = { kind: 'unauthenticated' };
const UNKNOWN_SERVICE: VerifyOutcome = { kind: 'unknown-service' };
const FORBIDDEN: VerifyOutcome = { kind: 'forbidden' };
/** Compared against when no device was found, so that path costs the same as a wrong secret. */
const DECOY_SIGNATURE = '0'.repeat(64);

const CREDENTIAL_SHAPE = /^[\x21-\x7e]{16,512}$/;

export class Auth {
  readonly #store: Store;
  readonly #keys: KeyRing;
  readonly #clock: Clock;
  readonly #lastSeen: LastSeen | undefined;
  readonly cache: VerifyCache;
  /** Opened for unknown emails, so that path does the same decryption and TOTP work as a known one. */
  readonly #decoy: { sealed: string; context: string };

  constructor(deps: AuthDeps) {
    this.#store = deps.store;
    this.#keys = deps.keys;
    this.#clock = deps.clock;
    this.#lastSeen = deps.lastSeen;
    this.cache = new VerifyCache(deps.cache ?? DEFAULT_CACHE_OPTIONS, deps.clock);
    const context = sealContext.totpSecret(0);
    this.#decoy = { sealed: deps.keys.seal(newTotpSecret(), context), context };
  }

  /**
   * Registers a new device on a correct, unused code, within the guess budget. Every failure does the same work
   * (one budget check, one user lookup, one decryption, one TOTP check) and differs only in its `reason`, which
   * is for the audit log and never for the client.
   */
  async login(input: LoginInput): Promise<LoginResult> {
    const email = canonicalEmail(input.email);
    const codeOk = isWellFormedCode(input.code);
    const now = this.#clock.now();
    const failures = this.#store.loginFailures;
    const account = accountSubject(email);
    const address = addressSubject(input.client);
    // Count this attempt in first, then look at what came before it: of many parallel guesses exactly the first
    // ones within the budget are evaluated.
    const attemptId = randomHex(8);
    await failures.record(attemptId, [account, address], now);
    const windows = [...LOGIN_LIMITS.account, ...LOGIN_LIMITS.address].map((l) => now - l.windowInMs);
    const counts = await failures.counts(attemptId, [account, address], windows);
    const nAccount = LOGIN_LIMITS.account.length;
    const withinBudget =
      withinLimits(counts.get(account)?.slice(0, nAccount) ?? [], LOGIN_LIMITS.account) &&
      withinLimits(counts.get(address)?.slice(nAccount) ?? [], LOGIN_LIMITS.address);

    const user = await this.#store.users.findByEmail(email ?? '');
    const secret = user
      ? this.#keys.open(user.totpSecretSealed, sealContext.totpSecret(user.id))
      : this.#keys.open(this.#decoy.sealed, this.#decoy.context);
    // Over the budget the code is not evaluated at all: the same TOTP work runs on an empty code.
    const code = withinBudget && codeOk ? (input.code as string) : '';
    const step = await matchTotp(secret ?? '', code, now, user?.lastTotpStep ?? null);
    if (!withinBudget) {
      // Refused unevaluated, so it is no guess: take it back, and the budget refills as old failures age out.
      await failures.forget(attemptId);
      return { ok: false, reason: 'throttled', email };
    }
    if (!user || !email || secret === null || step === null) return { ok: false, reason: 'invalid', email };
    // The replay guard is a conditional UPDATE, so of many parallel logins with one code exactly one wins.
    if (!(await this.#store.users.advanceTotpStep(user.id, step))) return { ok: false, reason: 'replayed', email };
    await failures.forget(attemptId);
    const deviceId = randomHex(16);
    const deviceSecret = randomHex(16);
    const deviceType = deviceLabel(input.deviceType);
    await this.#store.devices.create({
      id: deviceId,
      userId: user.id,
      signature: deviceSignature(deviceId, deviceSecret),
      deviceType,
      createdAt: now,
    });
    return { ok: true, device: { deviceId, secret: deviceSecret, userId: user.id }, email, deviceType };
  }

  /** The device and its user if the pair is genuine, else `null`. The HMAC is computed on every path. */
  async authenticate(credential: DeviceCredential | undefined): Promise<{ device: Device; user: User } | null> {
    if (!credential || this.cache.isKnownBad(credential)) return null;
    const cached = this.cache.device(credential);
    if (cached) return cached;
    const found = this.#checkSignature(credential, await this.#store.devices.findWithUser(credential.deviceId));
    if (found) this.cache.rememberDevice(credential, found);
    else this.cache.rememberBad(credential);
    return found;
  }

  /** A user's devices, each with a reference that names it on the account page without exposing its id. */
  async devicesOf(userId: number): Promise<Array<Device & { ref: string }>> {
    return (await this.#store.devices.list(userId)).map((d) => ({ ...d, ref: deviceRef(d.id) }));
  }

  /** Revokes one of the user's own devices by its reference; `false` if the user has no such device. */
  async revokeOwnDevice(userId: number, ref: string): Promise<boolean> {
    const device = (await this.devicesOf(userId)).find((d) => d.ref === ref);
    if (!device) return false;
    this.cache.forgetDevice(device.id);
    return this.#store.devices.delete(device.id);
  }

  /** Revokes every device of the user: "sign out everywhere". */
  async revokeAllDevices(userId: number): Promise<number> {
    let n = 0;
    for (const d of await this.#store.devices.list(userId)) {
      this.cache.forgetDevice(d.id);
      if (await this.#store.devices.delete(d.id)) n++;
    }
    return n;
  }

  /** Deletes this device if the pair is genuine. */
  async logout(credential: DeviceCredential | undefined): Promise<boolean> {
    const found = await this.authenticate(credential);
    if (!found) return false;
    this.cache.forgetDevice(found.device.id);
    return this.#store.devices.delete(found.device.id);
  }

  /**
   * The reference's decision order: caller credential, then device, then service, then grant. A credential is
   * either that service's own token or any proxy token. Warm requests are answered from memory (no query, no
   * HMAC, no decryption); cold ones need one round trip (two when the caller uses a proxy token).
   */
  async verify(serviceName: string, credential: string | undefined, device: DeviceCredential | undefined): Promise<VerifyOutcome> {
    return this.peek(serviceName, credential, device) ?? this.#verifyCold(serviceName, credential as string, device);
  }

  /**
   * The answer if it needs no database: a malformed credential, or a caller, device and decision all in the
   * caches, or known-bad cookies from a known caller. `undefined` means `verify` must look things up.
   */
  peek(serviceName: string, credential: string | undefined, device: DeviceCredential | undefined): VerifyOutcome | undefined {
    if (!credential || !CREDENTIAL_SHAPE.test(credential)) return BAD_CREDENTIAL;
    const caller = this.cache.caller(serviceName, credential);
    if (!caller) return undefined;
    if (!device) return UNAUTHENTICATED;
    const found = this.cache.device(device);
    if (!found) return this.cache.isKnownBad(device) ? UNAUTHENTICATED : undefined;
    if (caller.serviceId === null) return UNKNOWN_SERVICE;
    const decision = this.cache.decision(found.user.id, caller.serviceId);
    if (!decision) return undefined;
    this.cache.stats.positiveHits++;
    return this.#outcome(decision, found.user.id, caller.serviceId, found.device.id);
  }

  async #verifyCold(serviceName: string, credential: string, device: DeviceCredential | undefined): Promise<VerifyOutcome> {
    this.cache.stats.misses++;
    const name = isServiceName(serviceName) ? serviceName : undefined;
    const cachedCaller = this.cache.caller(serviceName, credential);
    const { found, service, grant } = await this.#store.lookupForVerify(device?.deviceId, name);
    if (!cachedCaller) {
      if (!(await this.#callerMayVerify(credential, service?.token))) return BAD_CREDENTIAL;
      this.cache.rememberCaller(serviceName, credential, service?.id ?? null);
    }

    const authenticated = this.#checkSignature(device, found);
    if (!authenticated) {
      if (device) this.cache.rememberBad(device);
      return UNAUTHENTICATED;
    }
    if (device) this.cache.rememberDevice(device, authenticated);
    if (!service) return UNKNOWN_SERVICE;

    const decision = await this.#decide(authenticated.user, service.id, grant);
    this.cache.rememberDecision(authenticated.user.id, service.id, decision);
    return this.#outcome(decision, authenticated.user.id, service.id, authenticated.device.id);
  }

  #outcome(decision: Decision, userId: number, serviceId: number, deviceId: string): VerifyOutcome {
    if (decision.kind === 'forbidden') return FORBIDDEN;
    this.#lastSeen?.record(deviceId, userId, serviceId);
    return { kind: 'allow', identity: decision.identity, userId, deviceId };
  }

  async #decide(user: User, serviceId: number, grant: Grant | undefined): Promise<Decision> {
    if (!grant && user.role === 'admin') {
      // Admins may use every service; their grant (and so their pseudonymous token) is made on first use.
      // If two first uses race, the row that landed first is the one both answer with.
      await this.#store.grants.insertIfAbsent(this.newGrant(user.id, serviceId, ''));
      grant = await this.#store.grants.find(user.id, serviceId);
    }
    if (!grant) return { kind: 'forbidden' };
    const token = this.#keys.open(grant.tokenSealed, sealContext.grantToken(user.id, serviceId));
    if (token === null) throw new Error(`grant token for user ${user.id}, service ${serviceId} does not decrypt`);
    const scope = parseScope(grant.scope);
    const identity: Identity = {
      userServiceToken: token,
      ...(scope.has('read:email') ? { email: user.email } : {}),
      ...(scope.has('read:username') && user.username !== null ? { username: user.username } : {}),
      ...(scope.has('read:user-role') ? { role: user.role } : {}),
    };
    return { kind: 'allow', identity };
  }

  #checkSignature(credential: DeviceCredential | undefined, found: { device: Device; user: User } | undefined) {
    if (!credential) return null;
    const expected = deviceSignature(credential.deviceId, credential.secret);
    const ok = safeEqual(expected, found?.device.signature ?? DECOY_SIGNATURE);
    return ok && found ? found : null;
  }

  async #callerMayVerify(credential: string, serviceToken: StoredTokenHash | undefined): Promise<boolean> {
    if (serviceToken && tokenMatches(credential, serviceToken)) return true;
    // Check every proxy token without stopping early, so timing does not tell which one matched.
    let ok = false;
    for (const proxy of await this.#store.proxyTokens.list()) ok = tokenMatches(credential, proxy.token) || ok;
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
