// Applies the plain SQL files under sql/<dialect>/ in order. SQLite and PostgreSQL: each file in one transaction
// (both roll DDL back), so a failure leaves nothing of that file behind; on PostgreSQL every such transaction
// first takes an advisory lock, so two instances never migrate at once. MySQL: DDL cannot be rolled back there,
// so the files are written idempotently and progress is recorded per statement, under a named lock; an
// interrupted run is completed by the next one.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { Dialect, OpenDatabase } from './database.js';
import type { Database } from './schema.js';

const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

export interface Migration {
  readonly version: string;
  readonly statements: readonly string[];
}

export function loadMigrations(dialect: Dialect, dir = join(SQL_DIR, dialect)): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{3,}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: f.replace(/\.sql$/, ''), statements: splitStatements(readFileSync(join(dir, f), 'utf8')) }));
}

/** Statements end with `;` at the end of a line; `--` comment lines are dropped. */
export function splitStatements(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => !/^\s*--/.test(line))
    .join('\n')
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export interface MigrationReport {
  readonly applied: string[];
  readonly alreadyApplied: string[];
}

const LOCK_NAME = 'passwordless_auth_migrate';
/**
 * PostgreSQL advisory locks take a number, not a name: any constant every instance agrees on will do. They are
 * scoped to the current database, so other databases on the same server never wait for this one.
 */
const PG_LOCK_KEY = 0x70615f6d;
/** How long an instance waits for another one's migration before giving up (MySQL and PostgreSQL). */
const LOCK_WAIT_IN_SECONDS = 60;

export async function migrate(
  { db, dialect }: OpenDatabase,
  migrations: readonly Migration[] = loadMigrations(dialect),
  now: () => number = Date.now,
): Promise<MigrationReport> {
  if (dialect === 'postgres') {
    // Even the bookkeeping table is created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can
    // both pass the check on PostgreSQL and one then fails on a catalog unique index.
    const locked = lockedPostgresTransaction(db);
    await locked(createMigrationsTable);
    return migrateInTransactions(locked, migrations, now);
  }
  await createMigrationsTable(db);
  if (dialect === 'sqlite') return migrateInTransactions((work) => db.transaction().execute(work), migrations, now);
  return migrateMysql(db, migrations, now);
}

async function createMigrationsTable(db: Kysely<Database>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(190) NOT NULL PRIMARY KEY,
    statements_done INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    applied_at BIGINT NOT NULL
  )`.execute(db);
}

type InTransaction = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

/** Runs `work` in a transaction that holds the migration lock until it commits or rolls back. */
function lockedPostgresTransaction(db: Kysely<Database>): InTransaction {
  return (work) =>
    db.transaction().execute(async (trx) => {
      // Bound only the wait for the lock; the migration's own statements keep the server's lock_timeout.
      await sql.raw(`SET LOCAL lock_timeout = '${LOCK_WAIT_IN_SECONDS}s'`).execute(trx);
      try {
        await sql`SELECT pg_advisory_xact_lock(${sql.lit(PG_LOCK_KEY)})`.execute(trx);
      } catch (err) {
        if ((err as { code?: unknown }).code === '55P03')
          throw new Error(`another instance is migrating this database; gave up after ${LOCK_WAIT_IN_SECONDS} s`, { cause: err });
        throw err;
      }
      await sql`SET LOCAL lock_timeout TO DEFAULT`.execute(trx);
      return work(trx);
    });
}

/** One transaction per file: it is applied and recorded together, or not at all. */
async function migrateInTransactions(
  inTransaction: InTransaction,
  migrations: readonly Migration[],
  now: () => number,
): Promise<MigrationReport> {
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    const done = await inTransaction(async (trx) => {
      const row = await trx.selectFrom('schema_migrations').select('complete').where('version', '=', m.version).executeTakeFirst();
      if (row?.complete) return true;
      for (const [i, statement] of m.statements.entries()) {
        try {
          await sql.raw(statement).execute(trx);
        } catch (err) {
          throw new Error(
            `migration ${m.version}, statement ${i + 1} of ${m.statements.length} failed; none of this migration was applied, fix the cause and run again`,
            { cause: err },
          );
        }
      }
      await trx
        .insertInto('schema_migrations')
        .values({ version: m.version, statements_done: m.statements.length, complete: 1, applied_at: now() })
        .execute();
      return false;
    });
    (done ? report.alreadyApplied : report.applied).push(m.version);
  }
  return report;
}

async function migrateMysql(db: Kysely<Database>, migrations: readonly Migration[], now: () => number): Promise<MigrationReport> {
  return db.connection().execute(async (conn) => {
    const lock = await sql<{ got: number | null }>`SELECT GET_LOCK(${LOCK_NAME}, ${LOCK_WAIT_IN_SECONDS}) AS got`.execute(conn);
    if (lock.rows[0]?.got !== 1) throw new Error(`another instance is migrating this database; gave up after ${LOCK_WAIT_IN_SECONDS} s`);
    try {
      const report: MigrationReport = { applied: [], alreadyApplied: [] };
      for (const m of migrations) {
        const row = await conn
          .selectFrom('schema_migrations')
          .select(['statements_done', 'complete'])
          .where('version', '=', m.version)
          .executeTakeFirst();
        if (row?.complete) {
          report.alreadyApplied.push(m.version);
          continue;
        }
        if (!row) {
          await conn
            .insertInto('schema_migrations')
            .values({ version: m.version, statements_done: 0, complete: 0, applied_at: now() })
            .execute();
        }
        for (let i = row?.statements_done ?? 0; i < m.statements.length; i++) {
          const statement = m.statements[i] as string;
          try {
            await sql.raw(statement).execute(conn);
          } catch (err) {
            if (!isAlreadyAddedColumn(statement, err)) {
              throw new Error(
                `migration ${m.version}, statement ${i + 1} of ${m.statements.length} failed; the statements before it are recorded, fix the cause and run again`,
                { cause: err },
              );
            }
          }
          await conn
            .updateTable('schema_migrations')
            .set({ statements_done: i + 1, complete: i + 1 === m.statements.length ? 1 : 0, applied_at: now() })
            .where('version', '=', m.version)
            .execute();
        }
        if (m.statements.length === 0) {
          await conn.updateTable('schema_migrations').set({ complete: 1 }).where('version', '=', m.version).execute();
        }
        report.applied.push(m.version);
      }
      return report;
    } finally {
      await sql`SELECT RELEASE_LOCK(${LOCK_NAME})`.execute(conn);
    }
  });
}

/**
 * MySQL 8 has no `ADD COLUMN IF NOT EXISTS`: when a run stopped after such an ALTER but before recording it, the
 * next run meets "duplicate column" (1060), which means the statement was applied.
 */
function isAlreadyAddedColumn(statement: string, err: unknown): boolean {
  return /^ALTER\s+TABLE\s+\S+\s+ADD\s+COLUMN\b/i.test(statement) && (err as { errno?: unknown })?.errno === 1060;
}

/** Whether every known migration has been applied (for readiness). */
export async function isMigrated({ db, dialect }: OpenDatabase): Promise<boolean> {
  const known = loadMigrations(dialect).map((m) => m.version);
  const rows = await db.selectFrom('schema_migrations').select('version').where('complete', '=', 1).execute();
  const applied = new Set(rows.map((r) => r.version));
  return known.every((v) => applied.has(v));
}
