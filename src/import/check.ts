// Step 1 of an import: every reference row decrypted and checked, and turned into a plan of what it becomes
// here, or refused with the reason. No store access, so nothing is written before everything is checked.
import { HEX32 } from '../core/crypto.js';
import { canonicalEmail, deviceLabel, isServiceName, parseScope } from '../core/identity.js';
import type { Role } from '../core/model.js';
import { type FernetKey, fernetDecrypt } from './fernet.js';
import type { ReferenceDevice, ReferenceGrant, ReferenceService, ReferenceSnapshot, ReferenceUser } from './reference.js';
import type { Recorder } from './report.js';

/** pyotp's secrets are 32 characters of RFC 4648 base32; shorter ones (80 bits and up) still work in apps. */
const BASE32_SECRET = /^[A-Z2-7]{16,128}=*$/;
/** A user-service token travels in JSON and in a response header: printable ASCII, no spaces. */
const HEADER_SAFE_TOKEN = /^[\x21-\x7e]{1,128}$/;
const SIGNATURE = /^[0-9a-fA-F]{64}$/;
const SHA512_HEX = /^[0-9a-fA-F]{128}$/;
/** Our salt column holds up to 64 ASCII characters; the reference's are 32 hex. Kept byte for byte: it is hashed as text. */
const SALT = /^[\x21-\x7e]{1,64}$/;
const ASCII_SCOPE = /^[\x20-\x7e]{0,255}$/;

export interface UserPlan {
  readonly ref: ReferenceUser;
  readonly label: string;
  readonly email: string;
  readonly role: Role;
  readonly totpSecret: string;
}

export interface ServicePlan {
  readonly ref: ReferenceService;
  readonly label: string;
  readonly token: { readonly hash: string; readonly salt: string; readonly alg: 'sha512-ref' };
}

export interface DevicePlan {
  readonly ref: ReferenceDevice;
  readonly label: string;
  readonly signature: string;
  readonly deviceType: string;
}

export interface GrantPlan {
  readonly ref: ReferenceGrant;
  readonly label: string;
  readonly scope: string;
  readonly token: string;
}

/** Fernet decryption that counts, to tell a wrong key (nothing opens) from damaged rows (some do not). */
export class Decrypter {
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

export function checkUsers(rows: readonly ReferenceUser[], fernet: Decrypter, rec: Recorder): UserPlan[] {
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

export function checkServices(rows: readonly ReferenceService[], rec: Recorder): ServicePlan[] {
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

export function checkDevices(snapshot: ReferenceSnapshot, users: readonly UserPlan[], rec: Recorder): DevicePlan[] {
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

export function checkGrants(
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
