// Step 2 of an import: each checked plan matched against this database, and (with `apply`) written through
// the Store when it is new. An existing row always wins; where it differs from the reference, a note says so.
import { type KeyRing, sealContext } from '../core/crypto.js';
import { ConflictError, type Store } from '../core/ports.js';
import type { DevicePlan, GrantPlan, ServicePlan, UserPlan } from './check.js';
import type { Recorder } from './report.js';

export interface Writer {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly apply: boolean;
  readonly now: number;
  readonly rec: Recorder;
}

/**
 * The row already here that `find` matches, else a new one: created by `create` with `apply`, only counted in a
 * dry run (id `null`). A row someone added since `find` (a unique-key conflict) stands, as on a re-run.
 */
async function findOrCreate<T extends { id: number }>(
  { apply, rec }: Writer,
  table: 'User' | 'Service',
  find: () => Promise<T | undefined>,
  create: () => Promise<T>,
): Promise<{ id: number | null; existing?: T }> {
  let existing = await find();
  if (!existing) {
    if (!apply) {
      rec.count(table, 'create');
      return { id: null };
    }
    try {
      const created = await create();
      rec.count(table, 'create');
      return { id: created.id };
    } catch (err) {
      existing = err instanceof ConflictError ? await find() : undefined;
      if (!existing) throw err;
    }
  }
  rec.count(table, 'existing');
  return { id: existing.id, existing };
}

/** Reference UserID → our id; `null` for a user a dry run would create. */
export async function importUsers(w: Writer, plans: readonly UserPlan[]): Promise<Map<number, number | null>> {
  const { store, keys, now, rec } = w;
  const ids = new Map<number, number | null>();
  for (const plan of plans) {
    const { id, existing } = await findOrCreate(
      w,
      'User',
      () => store.users.findByEmail(plan.email),
      () =>
        store.users.create(
          { email: plan.email, username: plan.ref.username, role: plan.role, createdAt: plan.ref.createdAt ?? now },
          (userId) => keys.seal(plan.totpSecret, sealContext.totpSecret(userId)),
        ),
    );
    ids.set(plan.ref.id, id);
    if (!existing) continue;
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
export async function importServices(w: Writer, plans: readonly ServicePlan[]): Promise<Map<number, number | null>> {
  const { store, now, rec } = w;
  const ids = new Map<number, number | null>();
  for (const plan of plans) {
    const { id, existing } = await findOrCreate(
      w,
      'Service',
      () => store.services.findByName(plan.ref.name),
      () => store.services.create({ name: plan.ref.name, token: plan.token, createdAt: plan.ref.createdAt ?? now }),
    );
    ids.set(plan.ref.id, id);
    if (!existing) continue;
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

export async function importDevices({ store, apply, now, rec }: Writer, plans: readonly DevicePlan[], userIds: Map<number, number | null>) {
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

export async function importGrants(
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
