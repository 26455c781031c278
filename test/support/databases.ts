// Fresh databases for tests, one per suite, on every dialect: SQLite in a temp dir, MySQL and PostgreSQL as a new
// database on the test server (created here and dropped afterwards, so parallel runs never collide).

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseTarget, parseDatabaseUrl } from '../../src/config/database-url.js';
import type { Store } from '../../src/core/ports.js';
import { type Dialect, type OpenDatabase, openDatabase } from '../../src/store/database.js';
import { migrate } from '../../src/store/migrate.js';
import { createSqlStore } from '../../src/store/sql-store.js';

export interface TestDatabase {
  readonly url: string;
  readonly target: DatabaseTarget;
  drop(): Promise<void>;
}

export const DIALECTS: readonly Dialect[] = ['sqlite', 'mysql', 'postgres'];

/** Why the suites on this dialect cannot run here, or `undefined` when they can. */
export function skipReason(dialect: Dialect): string | undefined {
  if (dialect === 'mysql') return inject('mysqlSkipReason');
  if (dialect === 'postgres') return inject('postgresSkipReason');
  return undefined;
}

export async function createTestDatabase(dialect: Dialect): Promise<TestDatabase> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'pa-test-'));
    const url = `sqlite:${join(dir, 'auth.db')}`;
    return { url, target: parseDatabaseUrl(url) as DatabaseTarget, drop: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  if (dialect === 'postgres') return createPostgresDatabase();
  const server = inject('mysqlUrl');
  if (!server) throw new Error('no MySQL server for tests');
  const base = parseDatabaseUrl(server);
  if (base?.dialect !== 'mysql') throw new Error(`not a MySQL URL: ${server}`);
  const name = `pa_test_${randomBytes(6).toString('hex')}`;
  const admin = await createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
  await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const url = server.replace(/\/[^/?]*(\?.*)?$/, `/${name}`);
  return {
    url,
    target: { ...base, database: name },
    drop: async () => {
      const conn = await createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
      await conn.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await conn.end();
    },
  };
}

async function createPostgresDatabase(): Promise<TestDatabase> {
  const server = inject('postgresUrl');
  if (!server) throw new Error('no PostgreSQL server for tests');
  const base = parseDatabaseUrl(server);
  if (base?.dialect !== 'postgres') throw new Error(`not a PostgreSQL URL: ${server}`);
  const name = `pa_test_${randomBytes(6).toString('hex')}`;
  const onServer = async (statement: string) => {
    // Connected to the server's own database (the one in the URL) to create or drop another one.
    const admin = new pg.Client({
      host: base.host,
      port: base.port,
      user: base.user,
      password: base.password || undefined,
      database: base.database,
    });
    await admin.connect();
    try {
      await admin.query(statement);
    } finally {
      await admin.end();
    }
  };
  await onServer(`CREATE DATABASE "${name}"`);
  const url = server.replace(/\/[^/?]*(\?.*)?$/, `/${name}`);
  return {
    url,
    target: { ...base, database: name },
    // FORCE: a suite that failed half-way may leave a pool open, which would otherwise block the drop.
    drop: () => onServer(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

export const TEST_KEYS = [{ id: 'test1', key: Buffer.from('Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg=', 'base64') }];

/** A fresh test database, migrated, with the SQL store over it (and the raw database); `close` drops it all. */
export async function openMigratedStore(dialect: Dialect): Promise<{ store: Store; database: OpenDatabase; close: () => Promise<void> }> {
  const tdb = await createTestDatabase(dialect);
  const database = openDatabase(tdb.target);
  await migrate(database);
  const store = createSqlStore(database);
  return {
    store,
    database,
    async close() {
      await store.close();
      await tdb.drop();
    },
  };
}
