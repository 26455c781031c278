// The core's SealedValueStore over Kysely: the stored sealed values grouped by the key id they name, for the key
// check at start-up and in `doctor`. The grouping runs in the database, so it reads a few rows whatever the size.
import { type RawBuilder, sql } from 'kysely';
import type { SealedKeyGroup, SealedValueStore } from '../core/ports.js';
import type { Dialect, OpenDatabase } from './database.js';

/**
 * The text between the first and the second `.` of a column: the key id of `v1.<key id>.<body>` (core/crypto.ts).
 * No parameters in it, so PostgreSQL sees the same expression in SELECT and GROUP BY.
 */
function keyIdOf(dialect: Dialect, column: string): RawBuilder<string> {
  const c = sql.ref(column);
  if (dialect === 'mysql') return sql<string>`substring_index(substring_index(${c}, '.', 2), '.', -1)`;
  if (dialect === 'postgres') return sql<string>`split_part(${c}, '.', 2)`;
  // SQLite: the rest after the first dot, up to its next dot (a dot is appended so instr always finds one).
  const rest = sql`substr(${c}, instr(${c}, '.') + 1)`;
  return sql<string>`substr(${rest}, 1, instr(${rest} || '.', '.') - 1)`;
}

export function createSealedValueStore({ db, dialect }: OpenDatabase): SealedValueStore {
  return {
    async groupByKeyId(samplesPerKey) {
      const groups = new Map<string, { count: number; samples: SealedKeyGroup['samples'][number][] }>();
      const group = (keyId: string) => {
        let g = groups.get(keyId);
        if (!g) {
          g = { count: 0, samples: [] };
          groups.set(keyId, g);
        }
        return g;
      };

      const userKey = keyIdOf(dialect, 'totp_secret_sealed');
      // An empty secret is an account enrolled with a passkey only: nothing sealed, nothing to open.
      const userCounts = await db
        .selectFrom('users')
        .select([userKey.as('key_id'), (eb) => eb.fn.countAll().as('n')])
        .where('totp_secret_sealed', '!=', '')
        .groupBy(userKey)
        .execute();
      for (const row of userCounts) {
        const g = group(row.key_id);
        g.count += Number(row.n);
        const rows = await db
          .selectFrom('users')
          .select(['id', 'totp_secret_sealed'])
          .where(userKey, '=', row.key_id)
          .where('totp_secret_sealed', '!=', '')
          .orderBy('id')
          .limit(samplesPerKey)
          .execute();
        g.samples.push(...rows.map((r) => ({ column: 'users.totp_secret' as const, userId: r.id, sealed: r.totp_secret_sealed })));
      }

      const grantKey = keyIdOf(dialect, 'token_sealed');
      const grantCounts = await db
        .selectFrom('grants')
        .select([grantKey.as('key_id'), (eb) => eb.fn.countAll().as('n')])
        .groupBy(grantKey)
        .execute();
      for (const row of grantCounts) {
        const g = group(row.key_id);
        g.count += Number(row.n);
        const rows = await db
          .selectFrom('grants')
          .select(['user_id', 'service_id', 'token_sealed'])
          .where(grantKey, '=', row.key_id)
          .orderBy('user_id')
          .orderBy('service_id')
          .limit(samplesPerKey)
          .execute();
        g.samples.push(
          ...rows.map((r) => ({ column: 'grants.token' as const, userId: r.user_id, serviceId: r.service_id, sealed: r.token_sealed })),
        );
      }
      return [...groups].map(([keyId, g]) => ({ keyId, count: g.count, samples: g.samples }));
    },
  };
}
