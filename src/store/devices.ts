// The core's DeviceStore over Kysely; the device-with-owner read is shared with the /verify look-up.
import type { Kysely, Transaction } from 'kysely';
import type { Change } from '../core/changes.js';
import type { NewDevice } from '../core/model.js';
import type { DeviceStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { toDevice } from './rows.js';
import type { Database } from './schema.js';
import { affected } from './sql-helpers.js';
import { findDeviceWithUser } from './verify-lookup.js';

/** Thrown inside a transaction to roll it back when its caller stopped waiting. */
const ABANDONED = new Error('abandoned by the caller');

/** A new device's row. */
const newDeviceRow = (d: NewDevice) => ({
  id: d.id,
  user_id: d.userId,
  signature: d.signature,
  device_type: d.deviceType,
  created_at: d.createdAt,
  last_seen_at: null,
  signed_in_with: d.signedInWith ?? 'code',
  signed_in_at: d.signedInAt ?? d.createdAt,
});

/**
 * A sign-in's writes in one transaction: `claim` takes what the sign-in spends (a code's time step, an invite, a
 * passkey's counter) and answers why not if it cannot; then the new device. All rolled back, as `'abandoned'`,
 * when the caller stopped waiting meanwhile (its deadline passed), so no device exists that nobody received.
 */
export async function addDeviceAfter<Refused extends string>(
  db: Kysely<Database> | ChangeLog,
  device: NewDevice,
  stillWanted: () => boolean,
  claim: (trx: Transaction<Database>, changed: (change: Change) => void) => Promise<Refused | undefined>,
): Promise<Refused | 'created' | 'abandoned'> {
  // Given the change log, a claim may record a change (an invite turning passkey-only off) in the transaction.
  const inTransaction = <T>(work: (trx: Transaction<Database>, changed: (change: Change) => void) => Promise<T>) =>
    'store' in db ? db.transaction(work) : db.transaction().execute((trx) => work(trx, () => {}));
  try {
    return await inTransaction(async (trx, changed) => {
      const refused = await claim(trx, changed);
      if (refused !== undefined) return refused;
      if (device.renews === true) {
        const renewed = await trx
          .updateTable('devices')
          .set({ signed_in_with: device.signedInWith ?? 'code', signed_in_at: device.signedInAt ?? device.createdAt })
          .where('id', '=', device.id)
          .where('user_id', '=', device.userId)
          .executeTakeFirst();
        // Gone (signed out meanwhile): rolled back like an abandoned sign-in, nothing is written.
        if (!affected(renewed)) throw ABANDONED;
        // How and when it signed in is cached with the device (access rules ask): every instance forgets it.
        changed({ kind: 'device', deviceId: device.id });
      } else await trx.insertInto('devices').values(newDeviceRow(device)).execute();
      if (!stillWanted()) throw ABANDONED;
      return 'created' as const;
    });
  } catch (err) {
    if (err === ABANDONED) return 'abandoned';
    throw err;
  }
}

export function createDeviceStore(database: OpenDatabase, changes: ChangeLog): DeviceStore {
  const { db } = database;
  return {
    async create(d) {
      await db.insertInto('devices').values(newDeviceRow(d)).execute();
    },
    addWithCodeStep: (d, step, stillWanted) =>
      addDeviceAfter(changes, d, stillWanted, async (trx) => {
        const advanced = await trx
          .updateTable('users')
          .set({ last_totp_step: step })
          .where('id', '=', d.userId)
          .where((eb) => eb.or([eb('last_totp_step', 'is', null), eb('last_totp_step', '<', step)]))
          .executeTakeFirst();
        return affected(advanced) ? undefined : ('replayed' as const);
      }),
    findWithUser: (deviceId) => findDeviceWithUser(database, deviceId),
    async list(userId) {
      let q = db.selectFrom('devices').selectAll().orderBy('created_at').orderBy('id');
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      return (await q.execute()).map(toDevice);
    },
    delete: (deviceId) =>
      changes.transaction(async (trx, changed) => {
        const deleted = affected(await trx.deleteFrom('devices').where('id', '=', deviceId).executeTakeFirst());
        if (deleted) changed({ kind: 'device', deviceId });
        return deleted;
      }),
    async rename(deviceId, userId, name) {
      const r = await db
        .updateTable('devices')
        .set({ device_type: name })
        .where('id', '=', deviceId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return affected(r);
    },
    async touch(ids, at) {
      if (ids.length === 0) return;
      await db.updateTable('devices').set({ last_seen_at: at }).where('id', 'in', ids).execute();
    },
  };
}
