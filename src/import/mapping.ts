// Moving a reference deployment over: its users, devices, services and grants, read through `ReferenceSource`
// and written through `Store`. No SQL here: reader.ts alone talks to the reference's MySQL tables; check.ts turns
// each reference row into a plan (step 1), write.ts writes the plans (step 2), and this file runs the two.
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
import { AdminError } from '../core/admin-tools.js';
import type { Clock } from '../core/clock.js';
import type { KeyRing } from '../core/crypto.js';
import type { Store } from '../core/ports.js';
import { checkDevices, checkGrants, checkServices, checkUsers, Decrypter } from './check.js';
import type { FernetKey } from './fernet.js';
import type { ReferenceSource } from './reference.js';
import { type ImportReport, Recorder } from './report.js';
import { importDevices, importGrants, importServices, importUsers, type Writer } from './write.js';

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
