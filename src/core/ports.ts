// What the core needs from storage; the entities it stores are in model.ts. `store/` implements these for SQLite,
// MySQL and PostgreSQL; tests run one contract suite against every implementation.
import type { Change, ChangeRow } from './changes.js';
import type {
  Device,
  Grant,
  Group,
  GroupGrant,
  Invite,
  NewDevice,
  NewPasskey,
  NewRule,
  Passkey,
  ProxyToken,
  Role,
  Service,
  SignInChange,
  SignInState,
  StoredRule,
  StoredTokenHash,
  User,
  WebAuthnChallenge,
} from './model.js';

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
  findById(id: number): Promise<User | undefined>;
  list(): Promise<User[]>;
  deleteByEmail(email: string): Promise<boolean>;
  /** Atomically moves the replay guard forward; `false` if `step` is not newer than the stored one. */
  advanceTotpStep(userId: number, step: number): Promise<boolean>;
  /**
   * Changes how an account signs in, under its lock: reads its state, asks `decide`, and applies the change it
   * returns, in one transaction that holds the user's row (SELECT … FOR UPDATE on MySQL and PostgreSQL; on SQLite
   * a write first, which makes the transaction the database's only writer). Every path that removes a passkey or
   * turns passkey-only on goes through here, so two changes can never both pass a check made on the same state.
   * `undefined` when there is no such user.
   */
  changeSignIn<R>(
    userId: number,
    decide: (state: SignInState) => { readonly change?: SignInChange; readonly result: R },
  ): Promise<R | undefined>;
  /**
   * Gives an account without a TOTP secret one (confirmed by a first code at `step`, which becomes the replay
   * guard) and allows codes; `false` if the user is gone or has a secret already.
   */
  addTotpSecret(userId: number, sealed: string, step: number): Promise<boolean>;
  /**
   * Removes the user's TOTP secret (and turns passkey-only off: there are no codes to refuse), only while they
   * have a passkey to sign in with, checked under the account's lock as `changeSignIn` does; `false` if the user
   * has no secret, or no passkey.
   */
  removeTotpSecret(userId: number): Promise<boolean>;
}

/** `abandoned`: the caller stopped waiting before the commit, so nothing was committed (as for codes). */
export type SignInWrite = 'created' | 'refused' | 'abandoned';

export interface PasskeyStore {
  /** Throws `ConflictError` when the credential id is already registered (to anyone). */
  create(passkey: NewPasskey): Promise<Passkey>;
  findByCredentialId(credentialId: string): Promise<Passkey | undefined>;
  /** Every passkey, or one user's, oldest first. */
  list(userId?: number): Promise<Passkey[]>;
  find(id: number): Promise<Passkey | undefined>;
  /** Renames the passkey if it belongs to `userId`. */
  rename(userId: number, id: number, name: string): Promise<boolean>;
  /**
   * A sign-in with a passkey, in one transaction: moves its counter to `signCount` and stamps its last use, then
   * adds the device. The counter must move forwards (or stay 0 on an authenticator that keeps none): `refused`
   * when it did not, or the passkey is gone; nothing is written then.
   */
  signIn(passkeyId: number, signCount: number, device: NewDevice, stillWanted: () => boolean): Promise<SignInWrite>;
}

export interface InviteStore {
  /** Adds the invite and deletes the user's earlier ones, in one transaction: a newer invite voids older ones. */
  create(invite: Omit<Invite, 'id' | 'usedAt'>): Promise<Invite>;
  findByTokenHash(tokenHash: string): Promise<Invite | undefined>;
  /** Invites not used and not expired at `now`. */
  listPending(now: number): Promise<Invite[]>;
  /**
   * Redeems the invite in one transaction: marks it used (only if unused and unexpired at `now`), then replaces
   * the user's TOTP secret (`totp`, confirmed by a first code at `step`; codes are allowed again, passkey-only
   * goes off) or adds their passkey, and adds the device. `refused` when the invite was no longer valid: nothing
   * is written then.
   */
  redeem(input: {
    readonly tokenHash: string;
    readonly now: number;
    readonly device: NewDevice;
    readonly totp?: { readonly sealed: string; readonly step: number };
    readonly passkey?: NewPasskey;
    readonly stillWanted: () => boolean;
  }): Promise<SignInWrite>;
}

export interface ChallengeStore {
  create(challenge: WebAuthnChallenge): Promise<void>;
  /** Removes the challenge and returns it: of any number of callers exactly one gets it. Expiry is the caller's check. */
  take(handleHash: string): Promise<WebAuthnChallenge | undefined>;
  /** Deletes challenges that expired before `before`. */
  prune(before: number): Promise<number>;
}

export interface DeviceStore {
  create(device: NewDevice): Promise<void>;
  /**
   * A sign-in with a code, in one transaction: moves the user's replay guard to `step` and adds the device, or
   * does neither. `replayed` when `step` is not newer than the stored one; `abandoned` (rolled back) when
   * `stillWanted()` answers false just before the commit.
   */
  addWithCodeStep(device: NewDevice, step: number, stillWanted: () => boolean): Promise<'created' | 'replayed' | 'abandoned'>;
  /** The device and its owner in one round trip. */
  findWithUser(deviceId: string): Promise<{ device: Device; user: User } | undefined>;
  list(userId?: number): Promise<Device[]>;
  delete(deviceId: string): Promise<boolean>;
  /** Gives the device a name of the user's choosing (shown where its type was), if it belongs to `userId`. */
  rename(deviceId: string, userId: number, name: string): Promise<boolean>;
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

export interface GroupStore {
  /** Throws `ConflictError` when the name is taken. */
  create(name: string, createdAt: number): Promise<Group>;
  findByName(name: string): Promise<Group | undefined>;
  /** Deletes the group with its memberships and grants. */
  delete(id: number): Promise<boolean>;
  list(): Promise<Group[]>;
  /** `false` when the user already was a member. */
  addMember(groupId: number, userId: number, createdAt: number): Promise<boolean>;
  removeMember(groupId: number, userId: number): Promise<boolean>;
  /** Every membership, by group then user. */
  members(): Promise<{ groupId: number; userId: number }[]>;
  /** Adds the group's grant of the service, or sets its scope. */
  grant(groupId: number, serviceId: number, scope: string, createdAt: number): Promise<void>;
  revoke(groupId: number, serviceId: number): Promise<boolean>;
  grants(): Promise<GroupGrant[]>;
  /**
   * What /verify needs about a user beyond their own grant, in one round trip: the names of their groups, and
   * the scopes of their groups' grants of the service (one per granting group; none when no group grants it).
   */
  accessOf(userId: number, serviceId: number): Promise<{ groups: string[]; scopes: string[] }>;
}

/** A whole access policy with names resolved to ids, as `PolicyStore.apply` writes it. */
export interface ResolvedPolicy {
  readonly groups: ReadonlyArray<{
    readonly name: string;
    readonly memberIds: readonly number[];
    readonly grants: ReadonlyArray<{ readonly serviceId: number; readonly scope: string }>;
  }>;
  /** The services the policy names; others are left as they are. */
  readonly services: ReadonlyArray<{
    readonly serviceId: number;
    /** Every user grant of the service (a new one is inserted with its sealed token; an existing one keeps its token). */
    readonly grants: readonly Grant[];
    readonly rules: readonly NewRule[];
  }>;
  readonly now: number;
}

export interface PolicyStore {
  /**
   * Makes groups, memberships, group grants, and the named services' user grants and rules match `policy`, in
   * one transaction: all of it or nothing. Groups not in the policy are deleted; rules are replaced in order.
   */
  apply(policy: ResolvedPolicy): Promise<void>;
}

export interface RuleStore {
  /** One service's rules (or every rule), in order. */
  list(serviceId?: number): Promise<StoredRule[]>;
  /**
   * Adds the rule at the end of its service's list, or just before rule `beforeId`; `undefined` (nothing
   * written) when `beforeId` is not a rule of that service.
   */
  add(rule: NewRule, beforeId?: number): Promise<StoredRule | undefined>;
  delete(id: number): Promise<boolean>;
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

/** A row of the change feed as read back; its id orders the feed. */
export interface FedChange {
  readonly id: number;
  readonly row: ChangeRow;
}

/**
 * The change feed. Store mutations that can alter a /verify answer append their changes in their own transaction
 * (store/changes.ts: `ChangeLog.transaction`); instances read them back here.
 */
export interface ChangeStore {
  /** The newest row's id (0 when there is none): a starting instance reads only what comes after it. */
  latestId(): Promise<number>;
  /** Rows with an id above `afterId`, oldest first, at most `limit`: one query on the primary key. */
  since(afterId: number, limit: number): Promise<FedChange[]>;
  /** Deletes rows written before `before`. */
  prune(before: number): Promise<number>;
  /**
   * Calls `listener` with every change this process commits, right after the commit; the mutation resolves only
   * once what the listener returns has settled.
   */
  onCommitted(listener: (change: Change) => void | Promise<void>): void;
  /**
   * PostgreSQL only: calls `onNotify` whenever a transaction that appended rows commits, on any instance, until
   * the returned stop function is called or the connection fails (`onError`).
   */
  listen?: (onNotify: () => void, onError: (err: Error) => void) => Promise<() => Promise<void>>;
}

/** Everything one /verify needs, fetched in one round trip. */
export interface VerifyLookup {
  readonly found?: { readonly device: Device; readonly user: User };
  readonly service?: Service;
  readonly grant?: Grant;
  /** How many access rules the service has (with `service`). */
  readonly ruleCount?: number;
  /** The user's group names, and the scopes of their groups' grants of the service, all in one comma-joined text, none without a group grant (with `found` and `service`). */
  readonly groups?: readonly string[];
  readonly groupScopes?: readonly string[];
}

export interface Store {
  readonly users: UserStore;
  readonly devices: DeviceStore;
  readonly services: ServiceStore;
  readonly grants: GrantStore;
  readonly proxyTokens: ProxyTokenStore;
  readonly loginFailures: LoginFailureStore;
  readonly passkeys: PasskeyStore;
  readonly invites: InviteStore;
  readonly challenges: ChallengeStore;
  readonly sealedValues: SealedValueStore;
  readonly changes: ChangeStore;
  readonly groups: GroupStore;
  readonly rules: RuleStore;
  readonly policy: PolicyStore;
  /** The device with its user (if `deviceId` is given), the service by name, and their grant: one query. */
  lookupForVerify(deviceId: string | undefined, serviceName: string | undefined): Promise<VerifyLookup>;
  /** Cheap round trip for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
