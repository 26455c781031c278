// The core's GrantStore over Kysely.
import type { GrantStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { toGrant } from './rows.js';
import { affected, isUniqueViolation } from './sql-helpers.js';

export function createGrantStore({ db }: OpenDatabase, changes: ChangeLog): GrantStore {
  const grants: GrantStore = {
    async find(userId, serviceId) {
      const row = await db
        .selectFrom('grants')
        .selectAll()
        .where('user_id', '=', userId)
        .where('service_id', '=', serviceId)
        .executeTakeFirst();
      return row && toGrant(row);
    },
    async insertIfAbsent(g) {
      try {
        await changes.transaction(async (trx, changed) => {
          await trx
            .insertInto('grants')
            .values({
              user_id: g.userId,
              service_id: g.serviceId,
              scope: g.scope,
              token_sealed: g.tokenSealed,
              created_at: g.createdAt,
              last_seen_at: null,
              via_group: g.viaGroup === true ? 1 : 0,
            })
            .execute();
          changed({ kind: 'grant', userId: g.userId, serviceId: g.serviceId });
        });
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    async setScope(userId, serviceId, scope) {
      // Compare-free update: MySQL reports 0 changed rows when the value is already equal, so existence is
      // checked by a read instead of by the row count.
      return changes.transaction(async (trx, changed) => {
        // Setting a user's own grant makes a group member's token row a grant of its own.
        await trx
          .updateTable('grants')
          .set({ scope, via_group: 0 })
          .where('user_id', '=', userId)
          .where('service_id', '=', serviceId)
          .execute();
        const found =
          (await trx
            .selectFrom('grants')
            .select('user_id')
            .where('user_id', '=', userId)
            .where('service_id', '=', serviceId)
            .executeTakeFirst()) !== undefined;
        if (found) changed({ kind: 'grant', userId, serviceId });
        return found;
      });
    },
    delete: (userId, serviceId) =>
      changes.transaction(async (trx, changed) => {
        const deleted = affected(
          await trx.deleteFrom('grants').where('user_id', '=', userId).where('service_id', '=', serviceId).executeTakeFirst(),
        );
        if (deleted) changed({ kind: 'grant', userId, serviceId });
        return deleted;
      }),
    async list() {
      return (await db.selectFrom('grants').selectAll().orderBy('user_id').orderBy('service_id').execute()).map(toGrant);
    },
    async touch(keys, at) {
      for (const k of keys) {
        await db
          .updateTable('grants')
          .set({ last_seen_at: at })
          .where('user_id', '=', k.userId)
          .where('service_id', '=', k.serviceId)
          .execute();
      }
    },
  };
  return grants;
}
