// The core's LoginFailureStore over Kysely: the rows the login throttle counts.
import type { LoginFailureStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';

export function createLoginFailureStore({ db }: OpenDatabase): LoginFailureStore {
  return {
    async record(attemptId, subjects, at) {
      await db
        .insertInto('login_failures')
        .values(subjects.map((subject) => ({ subject, attempt_id: attemptId, at })))
        .execute();
    },
    async counts(attemptId, subjects, since) {
      const oldest = Math.min(...since);
      const rows = await db
        .selectFrom('login_failures as f')
        .innerJoin('login_failures as mine', (join) => join.on('mine.attempt_id', '=', attemptId).onRef('mine.subject', '=', 'f.subject'))
        .select((eb) => [
          'f.subject',
          // Literal 1 and 0: as parameters PostgreSQL would type the CASE as text, and there is no SUM(text).
          ...since.map((t, i) => eb.fn.sum<number>(eb.case().when('f.at', '>', t).then(eb.lit(1)).else(eb.lit(0)).end()).as(`c${i}`)),
        ])
        .where('f.subject', 'in', subjects)
        .where('f.at', '>', oldest)
        .whereRef('f.id', '<=', 'mine.id')
        .groupBy('f.subject')
        .execute();
      const out = new Map<string, number[]>(subjects.map((s) => [s, since.map(() => 0)]));
      for (const row of rows) {
        const r = row as Record<string, unknown>;
        if (out.has(row.subject))
          out.set(
            row.subject,
            since.map((_, i) => Number(r[`c${i}`] ?? 0)),
          );
      }
      return out;
    },
    async forget(attemptId) {
      await db.deleteFrom('login_failures').where('attempt_id', '=', attemptId).execute();
    },
    async clear(subject) {
      const r = await db.deleteFrom('login_failures').where('subject', '=', subject).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async prune(before) {
      const r = await db.deleteFrom('login_failures').where('at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
