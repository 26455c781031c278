// The core's DeviceStore over Kysely; the device-with-owner read is shared with the /verify look-up.
import type { Kysely, Transaction } from 'kysely';
import type { Device, DeviceStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import { toDevice } from './rows.js';
import type { Database } from './schema.js';
import { affected } from './sql-helpers.js';
import { findDeviceWithUser } from './verify-lookup.js';

/** Thrown inside a transaction to roll it back when its caller stopped waiting. */
const ABANDONED = new Error('abandoned by the caller');

/** A new device's row. */
const newDeviceRow = (d: Omit<Device, 'lastSeenAt'>) => ({
  id: d.id,
  user_id: d.userId,
  signature: d.signature,
  device_type: d.deviceType,
  created_at: d.createdAt,
  last_seen_at: null,
});

/**
 * A sign-in's writes in one transaction: `claim` takes what the sign-in spends (a code's time step, an invite, a
 * passkey's counter) and answers why not if it cannot; then the new device. All rolled back, as `'abandoned'`,
 * when the caller stopped waiting meanwhile (its deadline passed), so no device exists that nobody received.
 */
export async function addDeviceAfter<Refused extends string>(
  db: Kysely<Database>,
  device: Omit<Device, 'lastSeenAt'>,
  stillWanted: () => boolean,
  claim: (trx: Transaction<Database>) => Promise<Refused | undefined>,
): Promise<Refused | 'created' | 'abandoned'> {
  try {
    return await db.transaction().execute(async (trx) => {
      const refused = await claim(trx);
      if (refused !== undefined) return refused;
      await trx.insertInto('devices').values(newDeviceRow(device)).execute();
      if (!stillWanted()) throw ABANDONED;
      return 'created' as const;
    });
  } catch (err) {
    if (err === ABANDONED) return 'abandoned';
    throw err;
  }
}

export function createDeviceStore(database: OpenDatabase): DeviceStore {
  const { db } = database;
  return {
    async create(d) {
      await db.insertInto('devices').values(newDeviceRow(d)).execute();
    },
    addWithCodeStep: (d, step, stillWanted) =>
      addDeviceAfter(db, d, stillWanted, async (trx) => {
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
    async delete(deviceId) {
      return affected(await db.deleteFrom('devices').where('id', '=', deviceId).executeTakeFirst());
    },
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
