// What the core needs from storage. `store/` implements these for SQLite, MySQL and PostgreSQL; tests run one
// contract suite against every implementation.
import type { TokenAlg } from './crypto.js';

export type Role = 'admin' | 'user';

export interface User {
  readonly id: number;
  /** Canonical form, see `canonicalEmail`. */
  readonly email: string;
  readonly username: string | null;
  readonly role: Role;
  /** Sealed with `sealContext.totpSecret(id)`. */
  readonly totpSecretSealed: string;
  /** The last TOTP step that logged in; no code at or before it is accepted again. */
  readonly lastTotpStep: number | null;
  readonly createdAt: number;
}

export interface Device {
  readonly id: string;
  readonly userId: number;
  /** HMAC-SHA256(secret, id) as 64 hex; the secret itself is never stored. */
  readonly signature: string;
  readonly deviceType: string;
  readonly createdAt: number;
  readonly lastSeenAt: number | null;
}

export interface StoredTokenHash {
  readonly hash: string;
  readonly salt: string;
  readonly alg: TokenAlg;
}

export interface Service {
  readonly id: number;
  readonly name: string;
  readonly token: StoredTokenHash;
  readonly createdAt: number;
}

export interface Grant {
  readonly userId: number;
  readonly serviceId: number;
  /** Comma-separated scopes as in the reference, e.g. `read:email,read:username`. */
  readonly scope: string;
  /** The pseudonymous user-service token, sealed with `sealContext.grantToken(userId, serviceId)`. */
  readonly tokenSealed: string;
  readonly createdAt: number;
}

export interface ProxyToken {
  readonly id: number;
  readonly name: string;
  readonly token: StoredTokenHash;
  readonly createdAt: number;
}

/** A unique name or email is already taken. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

export interface UserStore {
  /** Inserts the user; `sealSecret` is given the new row's id, so the sealed secret can be bound to it. */
  create(
    input: { email: string; username: string | null; role: Role; createdAt: number },
    sealSecret: (userId: number) => string,
  ): Promise<User>;
  findByEmail(email: string): Promise<User | undefined>;
  list(): Promise<User[]>;
  deleteByEmail(email: string): Promise<boolean>;
  /** Atomically moves the replay guard forward; `false` if `step` is not newer than the stored one. */
  advanceTotpStep(userId: number, step: number): Promise<boolean>;
}

export interface DeviceStore {
  create(device: Omit<Device, 'lastSeenAt'>): Promise<void>;
  /**
   * A sign-in with a code, in one transaction: moves the user's replay guard to `step` and adds the device, or
   * does neither. `replayed` when `step` is not newer than the stored one; `abandoned` (rolled back) when
   * `stillWanted()` answers false just before the commit.
   */
  addWithCodeStep(
    device: Omit<Device, 'lastSeenAt'>,
    step: number,
    stillWanted: () => boolean,
  ): Promise<'created' | 'replayed' | 'abandoned'>;
  /** The device and its owner in one round trip. */
  findWithUser(deviceId: string): Promise<{ device: Device; user: User } | undefined>;
  list(userId?: number): Promise<Device[]>;
  delete(deviceId: string): Promise<boolean>;
  touch(deviceIds: readonly string[], at: number): Promise<void>;
}

export interface ServiceStore {
  create(input: { name: string; token: StoredTokenHash; createdAt: number }): Promise<Service>;
  findByName(name: string): Promise<Service | undefined>;
  list(): Promise<Service[]>;
  deleteByName(name: string): Promise<boolean>;
  setToken(name: string, token: StoredTokenHash): Promise<boolean>;
}

export interface GrantStore {
  find(userId: number, serviceId: number): Promise<Grant | undefined>;
  /** Inserts unless a grant for (user, service) exists; `false` when one did (the existing one wins). */
  insertIfAbsent(grant: Grant): Promise<boolean>;
  setScope(userId: number, serviceId: number, scope: string): Promise<boolean>;
  delete(userId: number, serviceId: number): Promise<boolean>;
  list(): Promise<Grant[]>;
  touch(keys: readonly { userId: number; serviceId: number }[], at: number): Promise<void>;
}

export interface ProxyTokenStore {
  create(input: { name: string; token: StoredTokenHash; createdAt: number }): Promise<ProxyToken>;
  list(): Promise<ProxyToken[]>;
  deleteByName(name: string): Promise<boolean>;
}

export interface LoginFailureStore {
  /** Records one attempt under each subject (the rows share `attemptId`). */
  record(attemptId: string, subjects: readonly string[], at: number): Promise<void>;
  /**
   * For each subject, how many of its rows newer than each of `since` (same order) were recorded no later than
   * the given attempt, that attempt included: one query. Counting in insertion order means that of many parallel
   * attempts exactly the first ones fit the budget, never none and never all.
   */
  counts(attemptId: string, subjects: readonly string[], since: readonly number[]): Promise<Map<string, number[]>>;
  /** Takes an attempt back (it succeeded, or it was refused without being evaluated). */
  forget(attemptId: string): Promise<void>;
  /** Clears a subject's failures (an admin unlocking an account); returns how many went. */
  clear(subject: string): Promise<number>;
  /** Deletes rows older than `before`. */
  prune(before: number): Promise<number>;
}

/** A stored sealed value and the row it belongs to, from which its associated data (`sealContext`) follows. */
export type SealedValue =
  | { readonly column: 'users.totp_secret'; readonly userId: number; readonly sealed: string }
  | { readonly column: 'grants.token'; readonly userId: number; readonly serviceId: number; readonly sealed: string };

/** The stored sealed values that name one key id. */
export interface SealedKeyGroup {
  /** The second field of `v1.<key id>.<body>`, as written in the values. */
  readonly keyId: string;
  readonly count: number;
  /** A few of the values (the oldest rows), to try the configured key with that id on. */
  readonly samples: readonly SealedValue[];
}

export interface SealedValueStore {
  /**
   * Every key id named by a stored sealed value (users' TOTP secrets and grants' tokens), with how many values
   * name it and up to `samplesPerKey` of them: a few queries, whatever the number of rows.
   */
  groupByKeyId(samplesPerKey: number): Promise<SealedKeyGroup[]>;
}

/** Everything one /verify needs, fetched in one round trip. */
export interface VerifyLookup {
  readonly found?: { readonly device: Device; readonly user: User };
  readonly service?: Service;
  readonly grant?: Grant;
}

export interface Store {
  readonly users: UserStore;
  readonly devices: DeviceStore;
  readonly services: ServiceStore;
  readonly grants: GrantStore;
  readonly proxyTokens: ProxyTokenStore;
  readonly loginFailures: LoginFailureStore;
  readonly sealedValues: SealedValueStore;
  /** The device with its user (if `deviceId` is given), the service by name, and their grant: one query. */
  lookupForVerify(deviceId: string | undefined, serviceName: string | undefined): Promise<VerifyLookup>;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
