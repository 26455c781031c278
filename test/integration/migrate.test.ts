// Rule: a migration that fails never leaves a half-applied schema behind. SQLite and PostgreSQL roll the whole
// file back; MySQL (whose DDL commits by itself) records progress per statement and the next run completes it.
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { type OpenDatabase, openDatabase } from '../../src/store/database.js';
import { isMigrated, loadMigrations, migrate, splitStatements } from '../../src/store/migrate.js';
import { createTestDatabase, DIALECTS, skipReason, type TestDatabase } from '../support/databases.js';

async function tableExists(database: OpenDatabase, table: string): Promise<boolean> {
  try {
    await sql`SELECT 1 FROM ${sql.table(table)} LIMIT 1`.execute(database.db);
    return true;
  } catch {
    return false;
  }
}

describe('splitStatements', () => {
  it('splits on semicolons at line ends and drops comment lines', () => {
    expect(splitStatements('-- c\nCREATE TABLE a (x INT);\n\n-- d\nCREATE TABLE b (\n y INT\n);\n')).toEqual([
      'CREATE TABLE a (x INT)',
      'CREATE TABLE b (\n y INT\n)',
    ]);
  });
  it('finds the shipped migrations for every dialect, with the same versions', () => {
    const s = loadMigrations('sqlite').map((m) => m.version);
    expect(s).toContain('001_init');
    expect(loadMigrations('mysql').map((m) => m.version)).toEqual(s);
    expect(loadMigrations('postgres').map((m) => m.version)).toEqual(s);
  });
});

for (const dialect of DIALECTS) {
  describe.skipIf(skipReason(dialect))(`migrations on ${dialect}`, () => {
    let tdb: TestDatabase;
    let database: OpenDatabase;
    afterEach(async () => {
      await database?.db.destroy();
      await tdb?.drop();
    });

    it('applies every migration once, then reports them as already applied', async () => {
      tdb = await createTestDatabase(dialect);
      database = openDatabase(tdb.target);
      expect((await migrate(database)).applied).toEqual([
        '001_init',
        '002_login_failures',
        '003_passkeys_invites',
        '004_access_rules',
        '005_change_feed',
      ]);
      expect(await isMigrated(database)).toBe(true);
      const again = await migrate(database);
      expect(again.applied).toEqual([]);
      expect(again.alreadyApplied).toEqual([
        '001_init',
        '002_login_failures',
        '003_passkeys_invites',
        '004_access_rules',
        '005_change_feed',
      ]);
      for (const t of [
        'users',
        'devices',
        'services',
        'grants',
        'proxy_tokens',
        'login_failures',
        'passkeys',
        'invites',
        'webauthn_challenges',
      ])
        expect(await tableExists(database, t)).toBe(true);
    });

    it('never leaves a failed migration half-applied', async () => {
      tdb = await createTestDatabase(dialect);
      database = openDatabase(tdb.target);
      const good = 'CREATE TABLE IF NOT EXISTS mig_a (x INT)';
      const broken = {
        version: '900_test',
        statements: [good, 'CREATE TABLE mig_b (x NOSUCHTYPE(', 'CREATE TABLE IF NOT EXISTS mig_c (x INT)'],
      };
      await expect(migrate(database, [broken])).rejects.toThrow();
      expect(await tableExists(database, 'mig_c')).toBe(false);
      const rows = await database.db.selectFrom('schema_migrations').selectAll().where('version', '=', '900_test').execute();
      if (dialect === 'sqlite' || dialect === 'postgres') {
        // One transaction: nothing of it happened.
        expect(await tableExists(database, 'mig_a')).toBe(false);
        expect(rows).toEqual([]);
      } else {
        // Recorded as incomplete, with how far it got.
        expect(rows.map((r) => [Number(r.statements_done), Number(r.complete)])).toEqual([[1, 0]]);
      }
      // Fixed, the next run completes it and it counts as applied.
      const fixed = {
        version: '900_test',
        statements: [good, 'CREATE TABLE IF NOT EXISTS mig_b (x INT)', 'CREATE TABLE IF NOT EXISTS mig_c (x INT)'],
      };
      expect((await migrate(database, [fixed])).applied).toEqual(['900_test']);
      for (const t of ['mig_a', 'mig_b', 'mig_c']) expect(await tableExists(database, t)).toBe(true);
    });

    if (dialect === 'mysql')
      it('finishes a run that added a column but stopped before recording it (MySQL 8 has no ADD COLUMN IF NOT EXISTS)', async () => {
        tdb = await createTestDatabase(dialect);
        database = openDatabase(tdb.target);
        const add = 'ALTER TABLE mig_d ADD COLUMN y INT NOT NULL DEFAULT 0';
        await migrate(database, [{ version: '901_test', statements: ['CREATE TABLE IF NOT EXISTS mig_d (x INT)'] }]);
        await sql.raw(add).execute(database.db); // applied, as by a run that died before recording it
        const report = await migrate(database, [{ version: '902_test', statements: [add, 'CREATE TABLE IF NOT EXISTS mig_e (x INT)'] }]);
        expect(report.applied).toEqual(['902_test']);
        expect(await tableExists(database, 'mig_e')).toBe(true);
        // Any other failure of such a statement still stops the run.
        await expect(migrate(database, [{ version: '903_test', statements: ['ALTER TABLE nosuch ADD COLUMN y INT'] }])).rejects.toThrow(
          /903_test/,
        );
      });

    if (dialect === 'mysql' || dialect === 'postgres')
      it('lets only one instance migrate at a time', async () => {
        tdb = await createTestDatabase(dialect);
        database = openDatabase(tdb.target);
        const other = openDatabase(tdb.target);
        try {
          const [a, b] = await Promise.all([migrate(database), migrate(other)]);
          expect([...a.applied, ...b.applied].sort()).toEqual([
            '001_init',
            '002_login_failures',
            '003_passkeys_invites',
            '004_access_rules',
            '005_change_feed',
          ]);
        } finally {
          await other.db.destroy();
        }
      });
  });
}
