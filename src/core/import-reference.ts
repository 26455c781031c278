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
import { canonicalEmail, deviceLabel, isServiceName, SCOPES } from './identity.js';
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

/**
 * Reads the reference, decrypts and checks every row, then (with `apply`) writes what is new. Throws `AdminError`
 * before writing anything when the key opens none of the encrypted values, since that is a wrong key, not data.
 */
export async function importReference(deps: ImportDeps, options: ImportOptions): Promise<ImportReport> {
  const { store, keys, clock } = deps;
  const snapshot = await deps.source.snapshot();
  const now = clock.now();
  const report: ImportReport = {
    applied: options.apply,
    users: newTally(),
    devices: newTally(),
    services: newTally(),
    grants: newTally(),
    problems: [],
    notes: [],
  };
  const problem = (table: ReferenceTable, row: string, message: string) => report.problems.push({ table, row, message });
  const note = (table: ReferenceTable, row: string, message: string) => report.notes.push({ table, row, message });
  let encrypted = 0;
  let opened = 0;
  const decrypt = (token: string | null): string | null => {
    if (token === null) return null;
    encrypted++;
    const plain = fernetDecrypt(options.fernetKey, token);
    if (plain !== null) opened++;
    return plain;
  };

  // 1. Check and decrypt everything; no store access yet.
  const users: UserPlan[] = [];
  const userByEmail = new Map<string, number>();
  for (const ref of [...snapshot.users].sort((a, b) => a.id - b.id)) {
    const label = `UserID ${ref.id}${ref.email === null ? '' : ` (${ref.email})`}`;
    const email = canonicalEmail(ref.email);
    const secret = decrypt(ref.totpSecretEncrypted);
    const refuse = (message: string) => {
      problem('User', label, message);
      report.users.refused++;
    };
    if (email === undefined) {
      refuse('Email is not an email address');
      continue;
    }
    const twin = userByEmail.get(email);
    if (twin !== undefined) {
      refuse(`same email as UserID ${twin} once canonical (${email}); only the lower UserID is imported`);
      continue;
    }
    userByEmail.set(email, ref.id);
    if (secret === null) {
      refuse(
        ref.totpSecretEncrypted === null
          ? 'no TOTPSecretEncrypted'
          : 'TOTPSecretEncrypted does not decrypt with this key (altered, or encrypted with another key)',
      );
      continue;
    }
    if (!BASE32_SECRET.test(secret)) {
      refuse('the decrypted TOTP secret is not a base32 secret');
      continue;
    }
    if (ref.role !== 'admin' && ref.role !== 'user')
      note('User', label, `Role ${JSON.stringify(ref.role)} is neither admin nor user; imported as user`);
    users.push({ ref, label, email, role: ref.role === 'admin' ? 'admin' : 'user', totpSecret: secret });
  }
  const importableUsers = new Set(users.map((u) => u.ref.id));
  const knownUsers = new Set(snapshot.users.map((u) => u.id));
  const ownerProblem = (userId: number) =>
    knownUsers.has(userId) ? `its user (UserID ${userId}) is not imported` : `no User row with UserID ${userId}`;

  const services: ServicePlan[] = [];
  const serviceByName = new Map<string, number>();
  for (const ref of [...snapshot.services].sort((a, b) => a.id - b.id)) {
    const label = `ServiceID ${ref.id} (${ref.name})`;
    const refuse = (message: string) => {
      problem('Service', label, message);
      report.services.refused++;
    };
    const twin = serviceByName.get(ref.name);
    if (!isServiceName(ref.name))
      refuse('ServiceName is not usable in /verify/<service> here: 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit');
    else if (twin !== undefined) refuse(`same ServiceName as ServiceID ${twin}; only the lower ServiceID is imported`);
    else if (!SHA512_HEX.test(ref.tokenHash)) refuse('ServiceTokenHash is not a SHA-512 hex digest');
    else if (!SALT.test(ref.salt)) refuse('HashSalt is not 1-64 printable ASCII characters');
    else {
      serviceByName.set(ref.name, ref.id);
      services.push({ ref, label, token: { hash: ref.tokenHash.toLowerCase(), salt: ref.salt, alg: 'sha512-ref' } });
    }
  }
  const importableServices = new Set(services.map((s) => s.ref.id));
  const knownServices = new Set(snapshot.services.map((s) => s.id));

  const devices: DevicePlan[] = [];
  for (const ref of [...snapshot.devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const label = `DeviceID ${ref.id}`;
    const refuse = (message: string) => {
      problem('Device', label, message);
      report.devices.refused++;
    };
    if (!HEX32.test(ref.id)) refuse('DeviceID is not 32 lowercase hex characters, so no browser can present it here');
    else if (!SIGNATURE.test(ref.signature)) refuse('DeviceHMACSignature is not 64 hex characters');
    else if (!importableUsers.has(ref.userId)) refuse(ownerProblem(ref.userId));
    else devices.push({ ref, label, signature: ref.signature.toLowerCase(), deviceType: deviceLabel(ref.deviceType) });
  }

  const grants: GrantPlan[] = [];
  for (const ref of [...snapshot.grants].sort((a, b) => a.userId - b.userId || a.serviceId - b.serviceId)) {
    const label = `UserID ${ref.userId}, ServiceID ${ref.serviceId}`;
    const refuse = (message: string) => {
      problem('UserService', label, message);
      report.grants.refused++;
    };
    const token = decrypt(ref.tokenEncrypted);
    if (!importableUsers.has(ref.userId)) refuse(ownerProblem(ref.userId));
    else if (!importableServices.has(ref.serviceId))
      refuse(
        knownServices.has(ref.serviceId)
          ? `its service (ServiceID ${ref.serviceId}) is not imported`
          : `no Service row with ServiceID ${ref.serviceId}`,
      );
    else if (token === null) refuse('UserServiceTokenEncrypted does not decrypt with this key (altered, or encrypted with another key)');
    else if (!HEADER_SAFE_TOKEN.test(token)) refuse('the decrypted user-service token is not 1-128 printable ASCII characters');
    else {
      let scope = ref.scope;
      if (!ASCII_SCOPE.test(scope)) {
        scope = ref.scope
          .split(',')
          .map((s) => s.trim())
          .filter((s) => (SCOPES as readonly string[]).includes(s))
          .join(',');
        note('UserService', label, `Scope has characters other than printable ASCII; imported as ${JSON.stringify(scope)}`);
      }
      grants.push({ ref, label, scope, token });
    }
  }

  if (encrypted > 0 && opened === 0) {
    throw new AdminError(
      `the Fernet key decrypts none of the ${encrypted} encrypted values: use the reference's TOTP_ENCRYPTION_KEY (nothing was written)`,
    );
  }

  // 2. Match against what is here, and write what is new. `null` ids: new rows a dry run did not create.
  const userIds = new Map<number, number | null>();
  for (const plan of users) {
    let existing = await store.users.findByEmail(plan.email);
    if (!existing) {
      if (!options.apply) {
        report.users.create++;
        userIds.set(plan.ref.id, null);
        continue;
      }
      try {
        const created = await store.users.create(
          { email: plan.email, username: plan.ref.username, role: plan.role, createdAt: plan.ref.createdAt ?? now },
          (id) => keys.seal(plan.totpSecret, sealContext.totpSecret(id)),
        );
        report.users.create++;
        userIds.set(plan.ref.id, created.id);
        continue;
      } catch (err) {
        // Someone added the same email since the lookup: theirs stands, as on a re-run.
        if (!(err instanceof ConflictError)) throw err;
        existing = await store.users.findByEmail(plan.email);
        if (!existing) throw err;
      }
    }
    report.users.existing++;
    userIds.set(plan.ref.id, existing.id);
    const differences = [
      keys.open(existing.totpSecretSealed, sealContext.totpSecret(existing.id)) === plan.totpSecret ? '' : 'TOTP secret',
      existing.role === plan.role ? '' : 'role',
      existing.username === plan.ref.username ? '' : 'username',
    ].filter(Boolean);
    if (differences.length > 0)
      note('User', plan.label, `already here (id ${existing.id}) with another ${differences.join(', ')}; kept as it is here`);
  }

  const serviceIds = new Map<number, number | null>();
  for (const plan of services) {
    let existing = await store.services.findByName(plan.ref.name);
    if (!existing) {
      if (!options.apply) {
        report.services.create++;
        serviceIds.set(plan.ref.id, null);
        continue;
      }
      try {
        const created = await store.services.create({ name: plan.ref.name, token: plan.token, createdAt: plan.ref.createdAt ?? now });
        report.services.create++;
        serviceIds.set(plan.ref.id, created.id);
        continue;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        existing = await store.services.findByName(plan.ref.name);
        if (!existing) throw err;
      }
    }
    report.services.existing++;
    serviceIds.set(plan.ref.id, existing.id);
    const t = existing.token;
    if (t.hash !== plan.token.hash || t.salt !== plan.token.salt || t.alg !== plan.token.alg)
      note(
        'Service',
        plan.label,
        `already here (id ${existing.id}) with another token; kept, so the reference's token does not work for it`,
      );
  }

  for (const plan of devices) {
    const userId = userIds.get(plan.ref.userId) ?? null;
    const existing = await store.devices.findWithUser(plan.ref.id);
    if (existing) {
      if (userId !== null && existing.device.userId === userId && existing.device.signature === plan.signature) {
        report.devices.existing++;
      } else {
        problem(
          'Device',
          plan.label,
          'a device with this id is already here for another user or with another signature; kept as it is here',
        );
        report.devices.refused++;
      }
      continue;
    }
    report.devices.create++;
    if (!options.apply || userId === null) continue;
    await store.devices.create({
      id: plan.ref.id,
      userId,
      signature: plan.signature,
      deviceType: plan.deviceType,
      // The reference does not record when a device was added; its last login is the earliest time we know of.
      createdAt: plan.ref.lastLoginAt ?? now,
    });
    if (plan.ref.lastLoginAt !== null) await store.devices.touch([plan.ref.id], plan.ref.lastLoginAt);
  }

  for (const plan of grants) {
    const userId = userIds.get(plan.ref.userId) ?? null;
    const serviceId = serviceIds.get(plan.ref.serviceId) ?? null;
    // With `apply` both ids are real; in a dry run a new user or service has no grants here yet.
    if (userId === null || serviceId === null) {
      report.grants.create++;
      continue;
    }
    let here = await store.grants.find(userId, serviceId);
    if (!here) {
      if (!options.apply) {
        report.grants.create++;
        continue;
      }
      const inserted = await store.grants.insertIfAbsent({
        userId,
        serviceId,
        scope: plan.scope,
        tokenSealed: keys.seal(plan.token, sealContext.grantToken(userId, serviceId)),
        createdAt: plan.ref.lastLoginAt ?? now,
      });
      if (inserted) {
        report.grants.create++;
        if (plan.ref.lastLoginAt !== null) await store.grants.touch([{ userId, serviceId }], plan.ref.lastLoginAt);
        continue;
      }
      // An admin's first verify made one since the lookup: that one stands, as on a re-run.
      here = await store.grants.find(userId, serviceId);
    }
    report.grants.existing++;
    if (!here) continue;
    const differences = [
      keys.open(here.tokenSealed, sealContext.grantToken(userId, serviceId)) === plan.token ? '' : 'user-service token',
      here.scope === plan.scope ? '' : 'scope',
    ].filter(Boolean);
    if (differences.length > 0)
      note('UserService', plan.label, `already here with another ${differences.join(' and ')}; kept as it is here`);
  }

  return report;
}
