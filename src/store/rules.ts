// The core's RuleStore over Kysely: each service's ordered list of access rules.
import type { RuleStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { fromList, toRule } from './rows.js';
import { affected, insertedId } from './sql-helpers.js';

export function createRuleStore({ db, dialect }: OpenDatabase, changes: ChangeLog): RuleStore {
  return {
    async list(serviceId) {
      let q = db.selectFrom('access_rules').selectAll().orderBy('service_id').orderBy('position').orderBy('id');
      if (serviceId !== undefined) q = q.where('service_id', '=', serviceId);
      return (await q.execute()).map(toRule);
    },
    add(rule, beforeId) {
      return changes.transaction(async (trx, changed) => {
        let position: number;
        if (beforeId === undefined) {
          const last = await trx
            .selectFrom('access_rules')
            .select((eb) => eb.fn.max('position').as('max'))
            .where('service_id', '=', rule.serviceId)
            .executeTakeFirst();
          position = last?.max === null || last?.max === undefined ? 1 : Number(last.max) + 1;
        } else {
          const before = await trx
            .selectFrom('access_rules')
            .select('position')
            .where('id', '=', beforeId)
            .where('service_id', '=', rule.serviceId)
            .executeTakeFirst();
          if (!before) return undefined;
          position = Number(before.position);
          // Make room: every rule from that one on moves one place down.
          await trx
            .updateTable('access_rules')
            .set((eb) => ({ position: eb('position', '+', 1) }))
            .where('service_id', '=', rule.serviceId)
            .where('position', '>=', position)
            .execute();
        }
        const id = await insertedId(
          dialect,
          trx.insertInto('access_rules').values({
            service_id: rule.serviceId,
            position,
            paths: fromList(rule.paths),
            methods: fromList(rule.methods),
            networks: fromList(rule.networks),
            subject_users: fromList(rule.users),
            subject_groups: fromList(rule.groups),
            policy: rule.policy,
            created_at: rule.createdAt,
          }),
        );
        changed({ kind: 'rules' });
        return { ...rule, id, position };
      });
    },
    delete(id) {
      return changes.transaction(async (trx, changed) => {
        const deleted = affected(await trx.deleteFrom('access_rules').where('id', '=', id).executeTakeFirst());
        if (deleted) changed({ kind: 'rules' });
        return deleted;
      });
    },
  };
}
