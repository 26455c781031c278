// The core's DeviceStore over Kysely; the device-with-owner read is shared with the /verify look-up.
import type { DeviceStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import { toDevice } from './rows.js';
import { affected } from './sql-helpers.js';
import { findDeviceWithUser } from './verify-lookup.js';

export function createDeviceStore(database: OpenDatabase): DeviceStore {
  const { db } = database;
  return {
    async create(d) {
      await db
        .insertInto('devices')
        .values({
          id: d.id,
          user_id: d.userId,
          signature: d.signature,
          device_type: d.deviceType,
          created_at: d.createdAt,
          last_seen_at: null,
        })
        .execute();
    },
    findWithUser: (deviceId) => findDeviceWithUser(database, deviceId),
    async list(userId) {
      let q = db.selectFrom('devices').selectAll().orderBy('created_at').orderBy('id');
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      return (await q.execute()).map(toDevice);
    },
    async delete(deviceId) {
      return affected(await db.deleteFrom('devices').where('id', '=', deviceId).executeTakeFirst());
    },
    async touch(ids, at) {
      if (ids.length === 0) return;
      await db.updateTable('devices').set({ last_seen_at: at }).where('id', 'in', ids).execute();
    },
  };
}
