// The change feed over Kysely: the one way a store mutation records a change that can alter a /verify answer
// (`ChangeLog.transaction`), and the reads every instance polls.
import { type Kysely, sql, type Transaction } from 'kysely';
import { type Change, encodeChange } from '../core/changes.js';
import type { ChangeStore } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import type { Database } from './schema.js';

/** The PostgreSQL NOTIFY channel a transaction that appended changes signals on. */
const CHANGES_CHANNEL = 'passwordless_auth_changes';

export interface ChangeLog {
  /**
   * Runs `work` in a transaction. Every change it reports through `changed` is appended to the change table in
   * that same transaction (and, on PostgreSQL, NOTIFY sent with it), so the change and its record commit or roll
   * back together; once committed, this process's listeners hear of it at once (other instances at their next
   * read). This is how every store mutation that can alter a /verify answer writes.
   */
  transaction<T>(work: (trx: Transaction<Database>, changed: (change: Change) => void) => Promise<T>): Promise<T>;
  readonly store: ChangeStore;
}

export function createChangeLog(database: OpenDatabase): ChangeLog {
  const { db, dialect } = database;
  const listeners: Array<(change: Change) => void | Promise<void>> = [];

  async function append(trx: Kysely<Database>, changes: readonly Change[]): Promise<void> {
    if (changes.length === 0) return;
    const now = Date.now();
    await trx
      .insertInto('changes')
      .values(changes.map((c) => ({ ...encodeChange(c), created_at: now })))
      .execute();
    if (dialect === 'postgres') await sql`SELECT pg_notify(${CHANGES_CHANNEL}, '')`.execute(trx);
  }

  const store: ChangeStore = {
    async latestId() {
      const row = await db
        .selectFrom('changes')
        .select((eb) => eb.fn.max('id').as('id'))
        .executeTakeFirst();
      return Number(row?.id ?? 0);
    },
    async since(afterId, limit) {
      // The limit is written into the text (MySQL's prepared statements refuse a LIMIT parameter sent as a number).
      const rows = await database.prepared(`SELECT id, kind, subject FROM changes WHERE id > ? ORDER BY id LIMIT ${Math.trunc(limit)}`, [
        afterId,
      ]);
      return rows.map((r) => ({ id: Number(r.id), row: { kind: String(r.kind), subject: String(r.subject) } }));
    },
    async prune(before) {
      const r = await db.deleteFrom('changes').where('created_at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    onCommitted(listener) {
      listeners.push(listener);
    },
    ...(database.listen
      ? {
          listen: (onNotify: () => void, onError: (err: Error) => void) =>
            (database.listen as NonNullable<typeof database.listen>)(CHANGES_CHANNEL, onNotify, onError),
        }
      : {}),
  };

  return {
    store,
    async transaction(work) {
      const changes: Change[] = [];
      const result = await db.transaction().execute(async (trx) => {
        const out = await work(trx, (c) => changes.push(c));
        await append(trx, changes);
        return out;
      });
      if (changes.length > 0) await Promise.all(changes.flatMap((c) => listeners.map((l) => l(c))));
      return result;
    },
  };
}
