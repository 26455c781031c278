// The core's PolicyStore over Kysely: a whole access policy written in one transaction.
import type { PolicyStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import { fromList } from './rows.js';

export function createPolicyStore(changes: ChangeLog): PolicyStore {
  return {
    async apply(policy) {
      await changes.transaction(async (trx, changed) => {
        // Groups, members, user grants and rules may all change: every decision, group and matcher is forgotten.
        changed({ kind: 'groups' });
        changed({ kind: 'decisions' });
        changed({ kind: 'rules' });
        // Groups: those not named go (with their members and grants); the named ones are made and filled anew.
        const wanted = new Set(policy.groups.map((g) => g.name));
        const existing = await trx.selectFrom('user_groups').select(['id', 'name']).execute();
        const ids = new Map(existing.map((g) => [g.name, Number(g.id)]));
        const gone = existing.filter((g) => !wanted.has(g.name)).map((g) => Number(g.id));
        if (gone.length > 0) {
          await trx.deleteFrom('group_members').where('group_id', 'in', gone).execute();
          await trx.deleteFrom('group_grants').where('group_id', 'in', gone).execute();
          await trx.deleteFrom('user_groups').where('id', 'in', gone).execute();
        }
        for (const g of policy.groups) {
          let id = ids.get(g.name);
          if (id === undefined) {
            await trx.insertInto('user_groups').values({ name: g.name, created_at: policy.now }).execute();
            const made = await trx.selectFrom('user_groups').select('id').where('name', '=', g.name).executeTakeFirstOrThrow();
            id = Number(made.id);
          }
          await trx.deleteFrom('group_members').where('group_id', '=', id).execute();
          for (const userId of g.memberIds) {
            await trx.insertInto('group_members').values({ group_id: id, user_id: userId, created_at: policy.now }).execute();
          }
          await trx.deleteFrom('group_grants').where('group_id', '=', id).execute();
          for (const grant of g.grants) {
            await trx
              .insertInto('group_grants')
              .values({ group_id: id, service_id: grant.serviceId, scope: grant.scope, created_at: policy.now })
              .execute();
          }
        }
        for (const s of policy.services) {
          // User grants: exactly those listed (a group member's token row is no grant and stays).
          const current = await trx.selectFrom('grants').select(['user_id', 'via_group']).where('service_id', '=', s.serviceId).execute();
          const listed = new Set(s.grants.map((g) => g.userId));
          for (const row of current) {
            if (Number(row.via_group) !== 1 && !listed.has(Number(row.user_id))) {
              await trx.deleteFrom('grants').where('service_id', '=', s.serviceId).where('user_id', '=', row.user_id).execute();
            }
          }
          const present = new Set(current.map((r) => Number(r.user_id)));
          for (const g of s.grants) {
            if (present.has(g.userId)) {
              await trx
                .updateTable('grants')
                .set({ scope: g.scope, via_group: 0 })
                .where('service_id', '=', s.serviceId)
                .where('user_id', '=', g.userId)
                .execute();
            } else {
              await trx
                .insertInto('grants')
                .values({
                  user_id: g.userId,
                  service_id: s.serviceId,
                  scope: g.scope,
                  token_sealed: g.tokenSealed,
                  created_at: g.createdAt,
                  last_seen_at: null,
                  via_group: 0,
                })
                .execute();
            }
          }
          // Rules: replaced, in the file's order.
          await trx.deleteFrom('access_rules').where('service_id', '=', s.serviceId).execute();
          let position = 0;
          for (const r of s.rules) {
            position++;
            await trx
              .insertInto('access_rules')
              .values({
                service_id: s.serviceId,
                position,
                paths: fromList(r.paths),
                methods: fromList(r.methods),
                networks: fromList(r.networks),
                subject_users: fromList(r.users),
                subject_groups: fromList(r.groups),
                policy: r.policy,
                created_at: r.createdAt,
              })
              .execute();
          }
        }
      });
    },
  };
}
