// A fresh database per test file for the process tests: MySQL when the suite has one (TEST_MYSQL_URL), else
// SQLite; and MySQL URLs rewritten to go through a TCP proxy.
import { createTestDatabase, skipReason, type TestDatabase } from '../../support/databases.js';

export type ProcessDialect = 'sqlite' | 'mysql';

/** MySQL if this run has a server, otherwise SQLite (with the reason, for the test title). */
export function preferredDialect(): { dialect: ProcessDialect; note: string } {
  const reason = skipReason('mysql');
  return reason ? { dialect: 'sqlite', note: `on SQLite (no MySQL: ${reason})` } : { dialect: 'mysql', note: 'on MySQL' };
}

export async function freshDatabase(dialect: ProcessDialect): Promise<TestDatabase> {
  return createTestDatabase(dialect);
}

/** The same MySQL database, reached through 127.0.0.1:`port` instead of its server's address. */
export function viaPort(db: TestDatabase, port: number): string {
  const t = db.target;
  if (t.dialect !== 'mysql') throw new Error('only MySQL databases can be proxied');
  const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password)}` : ''}`;
  return `mysql://${auth}@127.0.0.1:${port}/${encodeURIComponent(t.database)}`;
}

export function mysqlAddress(db: TestDatabase): { host: string; port: number } {
  const t = db.target;
  if (t.dialect !== 'mysql') throw new Error('not a MySQL database');
  return { host: t.host, port: t.port };
}

/** Connection options for a mysql2 connection of our own to the test database (to lock tables, kill queries). */
export function mysqlConnection(db: TestDatabase): { host: string; port: number; user: string; password: string; database: string } {
  const t = db.target;
  if (t.dialect !== 'mysql') throw new Error('not a MySQL database');
  return { host: t.host, port: t.port, user: t.user, password: t.password, database: t.database };
}
