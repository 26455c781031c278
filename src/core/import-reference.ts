// Moving a reference deployment over: its users, devices, services and grants, read through `ReferenceSource`
// and written through `Store`. No SQL here; src/store/reference-reader.ts reads the reference's MySQL tables.
//
// What carries over, so nobody notices the move:
// - devices keep their id and signature, so every browser's `device_id` / `hmac_secret` cookies keep working;
// - user-service tokens keep their values (re-sealed with our KeyRing, bound to OUR new row ids);
// - service tokens keep working: their SHA-512(token ‖ salt) hashes are stored as alg `sha512-ref`;
// - TOTP secrets are re-sealed, so authenticator apps keep working.
//
// Re-running is safe: rows that already exist here are never changed. Users are matched by canonical email,
// services by exact name, devices by id, grants by (user, service); an existing row wins, and where it differs
// from the reference the report says so in `notes`. Everything is decrypted and checked before the first write.
import { AdminError } from './admin.js';
import type { Clock } from './clock.js';
import { HEX32, type KeyRing, sealContext } from './crypto.js';
import { type FernetKey, fernetDecrypt } from './fernet.js';
import { canonicalEmail, deviceLabel, isServiceName, parseScope } from './identity.js';
import { ConflictError, type Role, type Store } from './ports.js';

/** A `User` row as read. Times are epoch milliseconds, `null` where the column is NULL or not a date. */
export interface ReferenceUser {
  readonly id: number;
  readonly username: string | null;
  readonly email: string | null;
  readonly role: string;
  readonly totpSecretEncrypted: string | null;
  readonly createdAt: number | null;
}

export interface ReferenceDevice {
  readonly id: string;
  readonly userId: number;
  readonly signature: string;
  readonly deviceType: string | null;
  readonly lastLoginAt: number | null;
}

export interface ReferenceService {
  readonly id: number;
  readonly name: string;
  readonly tokenHash: string;
  readonly salt: string;
  readonly createdAt: number | null;
}

/** A `UserService` row. */
export interface ReferenceGrant {
  readonly userId: number;
  readonly serviceId: number;
  readonly scope: string;
  readonly tokenEncrypted: string;
  readonly lastLoginAt: number | null;
}

/** The four tables, read at one point in time. */
export interface ReferenceSnapshot {
  readonly users: readonly ReferenceUser[];
  readonly devices: readonly ReferenceDevice[];
  readonly services: readonly ReferenceService[];
  readonly grants: readonly ReferenceGrant[];
}

export interface ReferenceSource {
  snapshot(): Promise<ReferenceSnapshot>;
}

export type ReferenceTable = 'User' | 'Device' | 'Service' | 'UserService';

export interface ImportIssue {
  readonly table: ReferenceTable;
  /** Which reference row, e.g. `UserID 4 (ann@example.com)`; never a secret. */
  readonly row: string;
  readonly message: string;
}

export interface Tally {
  /** New here: created (`--apply`) or to be created (dry run). */
  create: number;
  /** Already here (same email, name, id or user and service): left as it is. */
  existing: number;
  /** Not imported; `problems` says why. */
  refused: number;
}

export interface ImportReport {
  readonly applied: boolean;
  readonly users: Tally;
  readonly devices: Tally;
  readonly services: Tally;
  readonly grants: Tally;
  /** Rows that were not imported, and why. */
  readonly problems: ImportIssue[];
  /** Rows imported or kept with something worth knowing: a value that changed, or an existing row that differs. */
  readonly notes: ImportIssue[];
}

export interface ImportDeps {
  readonly source: ReferenceSource;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
}

export interface ImportOptions {
  /** The reference's `TOTP_ENCRYPTION_KEY`. */
  readonly fernetKey: FernetKey;
  /** Write; without it nothing is written and the report says what would be. */
  readonly apply: boolean;
}

/** pyotp's secrets are 32 characters of RFC 4648 base32; shorter ones (80 bits and up) still work in apps. */
const BASE32_SECRET = /^[A-Z2-7]{16,128}=*$/;
/** A user-service token travels in JSON and in a response header: printable ASCII, no spaces. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,128}$/;
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
const SHA512_HEX = /^[0-9a-fA-F]{128}$/;
/** Our salt column holds up to 64 ASCII characters; the reference's are 32 hex. Kept byte for byte: it is hashed as text. */
const SALT = /^[\x21-\x7e]{1,64}$/;
const ASCII_SCOPE = /^[\x20-\x7e]{0,255}$/;

interface UserPlan {
  readonly ref: ReferenceUser;
  readonly label: string;
  readonly email: string;
  readonly role: Role;
  readonly totpSecret: string;
}

interface ServicePlan {
  readonly ref: ReferenceService;
  readonly label: string;
  readonly token: { readonly hash: string; readonly salt: string; readonly alg: 'sha512-ref' };
}

interface DevicePlan {
  readonly ref: ReferenceDevice;
  readonly label: string;
  readonly signature: string;
  readonly deviceType: string;
}

interface GrantPlan {
  readonly ref: ReferenceGrant;
  readonly label: string;
  readonly scope: string;
  readonly token: string;
}

const newTally = (): Tally => ({ create: 0, existing: 0, refused: 0 });

const TALLY: Record<ReferenceTable, 'users' | 'devices' | 'services' | 'grants'> = {
  User: 'users',
  Device: 'devices',
  Service: 'services',
  UserService: 'grants',
};

/** Collects counts, problems and notes while the import runs. */
class Recorder {
  readonly report: ImportReport;
  constructor(applied: boolean) {
    this.report = {
      applied,
      users: newTally(),
      devices: newTally(),
      services: newTally(),
      grants: newTally(),
      problems: [],
      notes: [],
    };
  }
  refuse(table: ReferenceTable, row: string, message: string): void {
    this.report.problems.push({ table, row, message });
    this.report[TALLY[table]].refused++;
  }
  note(table: ReferenceTable, row: string, message: string): void {
    this.report.notes.push({ table, row, message });
  }
  count(table: ReferenceTable, what: 'create' | 'existing'): void {
    this.report[TALLY[table]][what]++;
  }
}

/** Fernet decryption that counts, to tell a wrong key (nothing opens) from damaged rows (some do not). */
class Decrypter {
  readonly #key: FernetKey;
  attempted = 0;
  opened = 0;
  constructor(key: FernetKey) {
    this.#key = key;
  }
  open(token: string | null): string | null {
    if (token === null) return null;
    this.attempted++;
    const plain = fernetDecrypt(this.#key, token);
    if (plain !== null) this.opened++;
    return plain;
  }
}

const NOT_DECRYPTING = 'does not decrypt with this key (altered, or encrypted with another key)';

function checkUsers(rows: readonly ReferenceUser[], fernet: Decrypter, rec: Recorder): UserPlan[] {
  const plans: UserPlan[] = [];
  const byEmail = new Map<string, number>();
  for (const ref of [...rows].sort((a, b) => a.id - b.id)) {
    const label = `UserID ${ref.id}${ref.email === null ? '' : ` (${ref.email})`}`;
    const email = canonicalEmail(ref.email);
    const secret = fernet.open(ref.totpSecretEncrypted);
    const twin = email === undefined ? undefined : byEmail.get(email);
    if (email === undefined) rec.refuse('User', label, 'Email is not an email address');
    else if (twin !== undefined)
      rec.refuse('User', label, `same email as UserID ${twin} once canonical (${email}); only UserID ${twin} can be imported`);
    else if (ref.totpSecretEncrypted === null) rec.refuse('User', label, 'no TOTPSecretEncrypted');
    else if (secret === null) rec.refuse('User', label, `TOTPSecretEncrypted ${NOT_DECRYPTING}`);
    else if (!BASE32_SECRET.test(secret)) rec.refuse('User', label, 'the decrypted TOTP secret is not a base32 secret');
    else {
      if (ref.role !== 'admin' && ref.role !== 'user')
        rec.note('User', label, `Role ${JSON.stringify(ref.role)} is neither admin nor user; imported as user`);
      plans.push({ ref, label, email, role: ref.role === 'admin' ? 'admin' : 'user', totpSecret: secret });
    }
    // The lower UserID keeps its email even when it is refused, so a twin never slips in in its place.
    if (email !== undefined && twin === undefined) byEmail.set(email, ref.id);
  }
  return plans;
}

function checkServices(rows: readonly ReferenceService[], rec: Recorder): ServicePlan[] {
  const plans: ServicePlan[] = [];
  const byName = new Map<string, number>();
  for (const ref of [...rows].sort((a, b) => a.id - b.id)) {
    const label = `ServiceID ${ref.id} (${ref.name})`;
    const twin = byName.get(ref.name);
    if (!isServiceName(ref.name))
      rec.refuse(
        'Service',
        label,
        'ServiceName is not usable in /verify/<service> here: 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit',
      );
    else if (twin !== undefined)
      rec.refuse('Service', label, `same ServiceName as ServiceID ${twin}; only ServiceID ${twin} can be imported`);
    else if (!SHA512_HEX.test(ref.tokenHash)) rec.refuse('Service', label, 'ServiceTokenHash is not a SHA-512 hex digest');
    else if (!SALT.test(ref.salt)) rec.refuse('Service', label, 'HashSalt is not 1-64 printable ASCII characters');
    else plans.push({ ref, label, token: { hash: ref.tokenHash.toLowerCase(), salt: ref.salt, alg: 'sha512-ref' } });
    if (twin === undefined) byName.set(ref.name, ref.id);
  }
  return plans;
}

/** Why a row that points at a user or service cannot come along. */
function missing(what: 'User' | 'Service', id: number, known: readonly { id: number }[]): string {
  const column = what === 'User' ? 'UserID' : 'ServiceID';
  return known.some((r) => r.id === id)
    ? `its ${what.toLowerCase()} (${column} ${id}) is not imported`
    : `no ${what} row with ${column} ${id}`;
}

function checkDevices(snapshot: ReferenceSnapshot, users: readonly UserPlan[], rec: Recorder): DevicePlan[] {
  const plans: DevicePlan[] = [];
  const importable = new Set(users.map((u) => u.ref.id));
  for (const ref of [...snapshot.devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const label = `DeviceID ${ref.id}`;
    if (!HEX32.test(ref.id)) rec.refuse('Device', label, 'DeviceID is not 32 lowercase hex characters, so no browser can present it here');
    else if (!SIGNATURE.test(ref.signature)) rec.refuse('Device', label, 'DeviceHMACSignature is not 64 hex characters');
    else if (!importable.has(ref.userId)) rec.refuse('Device', label, missing('User', ref.userId, snapshot.users));
    else plans.push({ ref, label, signature: ref.signature.toLowerCase(), deviceType: deviceLabel(ref.deviceType) });
  }
  return plans;
}

function checkGrants(
  snapshot: ReferenceSnapshot,
  users: readonly UserPlan[],
  services: readonly ServicePlan[],
  fernet: Decrypter,
  rec: Recorder,
): GrantPlan[] {
  const plans: GrantPlan[] = [];
  const importableUsers = new Set(users.map((u) => u.ref.id));
  const importableServices = new Set(services.map((s) => s.ref.id));
  for (const ref of [...snapshot.grants].sort((a, b) => a.userId - b.userId || a.serviceId - b.serviceId)) {
    const label = `UserID ${ref.userId}, ServiceID ${ref.serviceId}`;
    const token = fernet.open(ref.tokenEncrypted);
    if (!importableUsers.has(ref.userId)) rec.refuse('UserService', label, missing('User', ref.userId, snapshot.users));
    else if (!importableServices.has(ref.serviceId)) rec.refuse('UserService', label, missing('Service', ref.serviceId, snapshot.services));
    else if (token === null) rec.refuse('UserService', label, `UserServiceTokenEncrypted ${NOT_DECRYPTING}`);
    else if (!HEADER_SAFE_TOKEN.test(token))
      rec.refuse('UserService', label, 'the decrypted user-service token is not 1-128 printable ASCII characters');
    else {
      let scope = ref.scope;
      if (!ASCII_SCOPE.test(scope)) {
        scope = [...parseScope(scope)].join(',');
        rec.note('UserService', label, `Scope has characters other than printable ASCII; imported as ${JSON.stringify(scope)}`);
      }
      plans.push({ ref, label, scope, token });
    }
  }
  return plans;
}

interface Writer {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly apply: boolean;
  readonly now: number;
  readonly rec: Recorder;
}

/** Reference UserID → our id; `null` for a user a dry run would create. */
async function importUsers({ store, keys, apply, now, rec }: Writer, plans: readonly UserPlan[]): Promise<Map<number, number | null>> {
  const ids = new Map<number, number | null>();
  for (const plan of plans) {
    let existing = await store.users.findByEmail(plan.email);
    if (!existing && !apply) {
      rec.count('User', 'create');
      ids.set(plan.ref.id, null);
      continue;
    }
    if (!existing) {
      try {
        const created = await store.users.create(
          { email: plan.email, username: plan.ref.username, role: plan.role, createdAt: plan.ref.createdAt ?? now },
          (id) => keys.seal(plan.totpSecret, sealContext.totpSecret(id)),
        );
        rec.count('User', 'create');
        ids.set(plan.ref.id, created.id);
        continue;
      } catch (err) {
        // Someone added the same email since the lookup: theirs stands, as on a re-run.
        existing = err instanceof ConflictError ? await store.users.findByEmail(plan.email) : undefined;
        if (!existing) throw err;
      }
    }
    rec.count('User', 'existing');
    ids.set(plan.ref.id, existing.id);
    const differences = [
      keys.open(existing.totpSecretSealed, sealContext.totpSecret(existing.id)) === plan.totpSecret ? '' : 'TOTP secret',
      existing.role === plan.role ? '' : 'role',
      existing.username === plan.ref.username ? '' : 'username',
    ].filter(Boolean);
    if (differences.length > 0)
      rec.note('User', plan.label, `already here (id ${existing.id}) with another ${differences.join(', ')}; kept as it is here`);
  }
  return ids;
}

/** Reference ServiceID → our id; `null` for a service a dry run would create. */
async function importServices({ store, apply, now, rec }: Writer, plans: readonly ServicePlan[]): Promise<Map<number, number | null>> {
  const ids = new Map<number, number | null>();
  for (const plan of plans) {
    let existing = await store.services.findByName(plan.ref.name);
    if (!existing && !apply) {
      rec.count('Service', 'create');
      ids.set(plan.ref.id, null);
      continue;
    }
    if (!existing) {
      try {
        const created = await store.services.create({ name: plan.ref.name, token: plan.token, createdAt: plan.ref.createdAt ?? now });
        rec.count('Service', 'create');
        ids.set(plan.ref.id, created.id);
        continue;
      } catch (err) {
        existing = err instanceof ConflictError ? await store.services.findByName(plan.ref.name) : undefined;
        if (!existing) throw err;
      }
    }
    rec.count('Service', 'existing');
    ids.set(plan.ref.id, existing.id);
    const t = existing.token;
    if (t.hash !== plan.token.hash || t.salt !== plan.token.salt || t.alg !== plan.token.alg)
      rec.note(
        'Service',
        plan.label,
        `already here (id ${existing.id}) with another token; kept, so the reference's token does not work for it`,
      );
  }
  return ids;
}

async function importDevices({ store, apply, now, rec }: Writer, plans: readonly DevicePlan[], userIds: Map<number, number | null>) {
  for (const plan of plans) {
    const userId = userIds.get(plan.ref.userId) ?? null;
    const existing = await store.devices.findWithUser(plan.ref.id);
    if (existing) {
      if (userId !== null && existing.device.userId === userId && existing.device.signature === plan.signature)
        rec.count('Device', 'existing');
      else
        rec.refuse(
          'Device',
          plan.label,
          'a device with this id is already here for another user or with another signature; kept as it is here',
        );
      continue;
    }
    rec.count('Device', 'create');
    if (!apply || userId === null) continue;
    await store.devices.create({
      id: plan.ref.id,
      userId,
      signature: plan.signature,
      deviceType: plan.deviceType,
      // The reference does not record when a device was added; its last login is the only time it has.
      createdAt: plan.ref.lastLoginAt ?? now,
    });
    if (plan.ref.lastLoginAt !== null) await store.devices.touch([plan.ref.id], plan.ref.lastLoginAt);
  }
}

async function importGrants(
  { store, keys, apply, now, rec }: Writer,
  plans: readonly GrantPlan[],
  userIds: Map<number, number | null>,
  serviceIds: Map<number, number | null>,
) {
  for (const plan of plans) {
    const userId = userIds.get(plan.ref.userId) ?? null;
    const serviceId = serviceIds.get(plan.ref.serviceId) ?? null;
    // With `apply` both ids are real; in a dry run a new user or service has no grants here yet.
    if (userId === null || serviceId === null) {
      rec.count('UserService', 'create');
      continue;
    }
    let here = await store.grants.find(userId, serviceId);
    if (!here && !apply) {
      rec.count('UserService', 'create');
      continue;
    }
    if (!here) {
      const inserted = await store.grants.insertIfAbsent({
        userId,
        serviceId,
        scope: plan.scope,
        tokenSealed: keys.seal(plan.token, sealContext.grantToken(userId, serviceId)),
        createdAt: plan.ref.lastLoginAt ?? now,
      });
      if (inserted) {
        rec.count('UserService', 'create');
        if (plan.ref.lastLoginAt !== null) await store.grants.touch([{ userId, serviceId }], plan.ref.lastLoginAt);
        continue;
      }
      // An admin's first verify made one since the lookup: that one stands, as on a re-run.
      here = await store.grants.find(userId, serviceId);
    }
    rec.count('UserService', 'existing');
    if (!here) continue;
    const differences = [
      keys.open(here.tokenSealed, sealContext.grantToken(userId, serviceId)) === plan.token ? '' : 'user-service token',
      here.scope === plan.scope ? '' : 'scope',
    ].filter(Boolean);
    if (differences.length > 0)
      rec.note('UserService', plan.label, `already here with another ${differences.join(' and ')}; kept as it is here`);
  }
}

/**
 * Reads the reference, decrypts and checks every row, then (with `apply`) writes what is new. Throws `AdminError`
 * before writing anything when the key opens none of the encrypted values, since that is a wrong key, not data.
 */
export async function importReference(deps: ImportDeps, options: ImportOptions): Promise<ImportReport> {
  const snapshot = await deps.source.snapshot();
  const rec = new Recorder(options.apply);
  const fernet = new Decrypter(options.fernetKey);

  // 1. Check and decrypt everything; no store access yet.
  const users = checkUsers(snapshot.users, fernet, rec);
  const services = checkServices(snapshot.services, rec);
  const devices = checkDevices(snapshot, users, rec);
  const grants = checkGrants(snapshot, users, services, fernet, rec);
  if (fernet.attempted > 0 && fernet.opened === 0) {
    throw new AdminError(
      `the Fernet key decrypts none of the ${fernet.attempted} encrypted values: use the reference's TOTP_ENCRYPTION_KEY (nothing was written)`,
    );
  }

  // 2. Match against what is here, and write what is new (only with `apply`).
  const writer: Writer = { store: deps.store, keys: deps.keys, apply: options.apply, now: deps.clock.now(), rec };
  const userIds = await importUsers(writer, users);
  const serviceIds = await importServices(writer, services);
  await importDevices(writer, devices, userIds);
  await importGrants(writer, grants, userIds, serviceIds);
  return rec.report;
}
