// The core's PasskeyStore over Kysely: WebAuthn credentials, and the sign-in that moves a credential's counter
// forwards and adds a device in one transaction.
import { sql, type Transaction } from 'kysely';
import type { NewPasskey } from '../core/model.js';
import type { PasskeyStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { addDeviceAfter } from './devices.js';
import { toPasskey } from './rows.js';
import type { Database } from './schema.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

/** Inserts a passkey in `trx`; shared with the invite store (a passkey made while redeeming an invite). */
export async function insertPasskey(database: OpenDatabase, trx: Transaction<Database>, p: NewPasskey): Promise<number> {
  return insertedId(
    database.dialect,
    trx.insertInto('passkeys').values({
      user_id: p.userId,
      credential_id: p.credentialId,
      public_key: p.publicKey,
      sign_count: p.signCount,
      transports: p.transports.join(','),
      name: p.name,
      created_at: p.createdAt,
      last_used_at: null,
    }),
  );
}

export function createPasskeyStore(database: OpenDatabase, changes: ChangeLog): PasskeyStore {
  const { db } = database;
  const findById = async (id: number) => {
    const row = await db.selectFrom('passkeys').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? toPasskey(row) : undefined;
  };
  return {
    async create(p) {
      const id = await uniquely('passkey', () => db.transaction().execute((trx) => insertPasskey(database, trx, p)));
      return { id, ...p, lastUsedAt: null };
    },
    async findByCredentialId(credentialId) {
      const row = await db.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
      return row && exact(row.credential_id, credentialId) ? toPasskey(row) : undefined;
    },
    async list(userId) {
      let q = db.selectFrom('passkeys').selectAll().orderBy('created_at').orderBy('id');
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      return (await q.execute()).map(toPasskey);
    },
    find: findById,
    async rename(userId, id, name) {
      await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).execute();
      // MySQL counts changed rows only (a rename to the same name changes none), so look instead.
      return (await findById(id))?.userId === userId;
    },
    signIn: (passkeyId, signCount, device, stillWanted) =>
      addDeviceAfter(changes, device, stillWanted, async (trx) => {
        // MySQL: the user's row first (shared), as a passkey's removal locks it first too. The new device's foreign
        // key takes that row's shared lock anyway, but only after the passkey's, and the opposite order of a removal
        // running at the same moment would deadlock. (PostgreSQL's key-share lock does not wait for a removal's.)
        if (database.dialect === 'mysql') {
          await trx.selectFrom('users').select('id').where('id', '=', device.userId).modifyEnd(sql`lock in share mode`).execute();
        }
        // Forwards only; an authenticator that keeps no counter reports 0 every time, and stays at 0.
        const moved = await trx
          .updateTable('passkeys')
          .set({ sign_count: signCount, last_used_at: device.createdAt })
          .where('id', '=', passkeyId)
          .where('user_id', '=', device.userId)
          .where('sign_count', signCount === 0 ? '=' : '<', signCount)
          .executeTakeFirst();
        return affected(moved) ? undefined : ('refused' as const);
      }),
  };
}
