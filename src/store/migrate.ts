// Applies the plain SQL files under sql/<dialect>/ in order. SQLite: each file in one transaction. MySQL: DDL
// cannot be rolled back there, so the files are written idempotently and progress is recorded per statement,
// under a named lock so two instances never migrate at once; an interrupted run is completed by the next one.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Kysely, sql } from 'kysely';
import type { Dialect, OpenDatabase } from './database.js';
import type { Database } from './schema.js';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

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

export async function migrate(
  { db, dialect }: OpenDatabase,
  migrations: readonly Migration[] = loadMigrations(dialect),
  now: () => number = Date.now,
): Promise<MigrationReport> {
  await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(190) NOT NULL PRIMARY KEY,
    statements_done INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    applied_at BIGINT NOT NULL
  )`.execute(db);
  return dialect === 'sqlite' ? migrateSqlite(db, migrations, now) : migrateMysql(db, migrations, now);
}

async function migrateSqlite(db: Kysely<Database>, migrations: readonly Migration[], now: () => number): Promise<MigrationReport> {
  const report: MigrationReport = { applied: [], alreadyApplied: [] };
  for (const m of migrations) {
    const done = await db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('schema_migrations').select('complete').where('version', '=', m.version).executeTakeFirst();
      if (row?.complete) return true;
      for (const statement of m.statements) await sql.raw(statement).execute(trx);
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
    const lock = await sql<{ got: number | null }>`SELECT GET_LOCK(${LOCK_NAME}, 60) AS got`.execute(conn);
    if (lock.rows[0]?.got !== 1) throw new Error('another instance is migrating this database; gave up after 60 s');
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
          try {
            await sql.raw(m.statements[i] as string).execute(conn);
          } catch (err) {
            throw new Error(
              `migration ${m.version}, statement ${i + 1} of ${m.statements.length} failed; the statements before it are recorded, fix the cause and run again`,
              { cause: err },
            );
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

/** Whether every known migration has been applied (for readiness). */
export async function isMigrated({ db, dialect }: OpenDatabase): Promise<boolean> {
  const known = loadMigrations(dialect).map((m) => m.version);
  const rows = await db.selectFrom('schema_migrations').select('version').where('complete', '=', 1).execute();
  const applied = new Set(rows.map((r) => r.version));
  return known.every((v) => applied.has(v));
}
