// The core's GroupStore over Kysely: groups, their members, and their grants of services.
import { sql } from 'kysely';
import type { GroupStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { toGroup, toGroupGrant } from './rows.js';
import { affected, exact, insertedId, isUniqueViolation, uniquely } from './sql-helpers.js';

// Every change that can alter a decision is recorded in the change feed in its own transaction: a member's
// change names that user; a group's deletion or grant change names every group decision.
export function createGroupStore({ db, dialect }: OpenDatabase, changes: ChangeLog): GroupStore {
  return {
    create: (name, createdAt) =>
      uniquely('group', async () => {
        const id = await insertedId(dialect, db.insertInto('user_groups').values({ name, created_at: createdAt }));
        return { id, name, createdAt };
      }),
    async findByName(name) {
      const row = await db.selectFrom('user_groups').selectAll().where('name', '=', name).executeTakeFirst();
      return row && exact(row.name, name) ? toGroup(row) : undefined;
    },
    async delete(id) {
      // Memberships and grants go with it (ON DELETE CASCADE).
      return changes.transaction(async (trx, changed) => {
        const deleted = affected(await trx.deleteFrom('user_groups').where('id', '=', id).executeTakeFirst());
        if (deleted) changed({ kind: 'groups' });
        return deleted;
      });
    },
    async list() {
      return (await db.selectFrom('user_groups').selectAll().orderBy('name').execute()).map(toGroup);
    },
    async addMember(groupId, userId, createdAt) {
      try {
        // A failed insert ends the transaction (PostgreSQL aborts it), so the duplicate is caught outside it.
        await changes.transaction(async (trx, changed) => {
          await trx.insertInto('group_members').values({ group_id: groupId, user_id: userId, created_at: createdAt }).execute();
          changed({ kind: 'user', userId });
        });
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    removeMember(groupId, userId) {
      return changes.transaction(async (trx, changed) => {
        const removed = affected(
          await trx.deleteFrom('group_members').where('group_id', '=', groupId).where('user_id', '=', userId).executeTakeFirst(),
        );
        if (removed) changed({ kind: 'user', userId });
        return removed;
      });
    },
    async members() {
      const rows = await db.selectFrom('group_members').select(['group_id', 'user_id']).orderBy('group_id').orderBy('user_id').execute();
      return rows.map((r) => ({ groupId: Number(r.group_id), userId: Number(r.user_id) }));
    },
    async grant(groupId, serviceId, scope, createdAt) {
      await changes.transaction(async (trx, changed) => {
        changed({ kind: 'groups' });
        const updated = await trx
          .updateTable('group_grants')
          .set({ scope })
          .where('group_id', '=', groupId)
          .where('service_id', '=', serviceId)
          .executeTakeFirst();
        // MySQL counts an update to the same value as no change: existence is checked by a read then.
        if (affected(updated)) return;
        const found = await trx
          .selectFrom('group_grants')
          .select('scope')
          .where('group_id', '=', groupId)
          .where('service_id', '=', serviceId)
          .executeTakeFirst();
        if (!found)
          await trx.insertInto('group_grants').values({ group_id: groupId, service_id: serviceId, scope, created_at: createdAt }).execute();
      });
    },
    revoke(groupId, serviceId) {
      return changes.transaction(async (trx, changed) => {
        const revoked = affected(
          await trx.deleteFrom('group_grants').where('group_id', '=', groupId).where('service_id', '=', serviceId).executeTakeFirst(),
        );
        if (revoked) changed({ kind: 'groups' });
        return revoked;
      });
    },
    async grants() {
      return (await db.selectFrom('group_grants').selectAll().orderBy('group_id').orderBy('service_id').execute()).map(toGroupGrant);
    },
    async accessOf(userId, serviceId) {
      const rows = await db
        .selectFrom('group_members as m')
        .innerJoin('user_groups as g', 'g.id', 'm.group_id')
        .leftJoin('group_grants as gg', (j) => j.onRef('gg.group_id', '=', 'm.group_id').on('gg.service_id', '=', serviceId))
        .select(['g.name as name', 'gg.scope as scope', sql<number | null>`gg.group_id`.as('granted')])
        .where('m.user_id', '=', userId)
        .orderBy('g.name')
        .execute();
      return {
        groups: rows.map((r) => r.name),
        scopes: rows.filter((r) => r.granted !== null).map((r) => r.scope ?? ''),
      };
    },
  };
}
