// Opening a Kysely database from a DATABASE_URL: embedded SQLite or a MySQL/MariaDB pool.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import type { Database } from './schema.js';

export type Dialect = 'sqlite' | 'mysql';

export interface OpenDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Connections in the pool and how many are idle, for metrics (pooled dialects only). */
  readonly poolStats?: () => { total: number; idle: number };
}

export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | {
      readonly dialect: 'mysql';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
    };

/** `sqlite:./data/auth.db`, `sqlite::memory:` or `mysql://user:pass@host:3306/db`; `undefined` if neither. */
export function parseDatabaseUrl(url: string): DatabaseTarget | undefined {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return path === '' ? undefined : { dialect: 'sqlite', path };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'mysql:' && parsed.protocol !== 'mariadb:') return undefined;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !database || database.includes('/')) return undefined;
  return {
    dialect: 'mysql',
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
  };
}

export interface PoolOptions {
  /** MySQL connections at most; SQLite always uses one. */
  readonly connectionLimit?: number;
  /** How long to wait for a MySQL connection before failing. */
  readonly connectTimeoutInMs?: number;
}

export function openDatabase(target: DatabaseTarget, options: PoolOptions = {}): OpenDatabase {
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    const sqlite = new SQLite(target.path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    return { db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }), dialect: 'sqlite' };
  }
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    charset: 'utf8mb4_bin',
    connectionLimit: options.connectionLimit ?? 10,
    connectTimeout: options.connectTimeoutInMs ?? 5000,
    enableKeepAlive: true,
    timezone: 'Z',
  });
  // mysql2 keeps its counts in fields it does not document; read them defensively.
  const counts = pool as unknown as { _allConnections?: { length: number }; _freeConnections?: { length: number } };
  return {
    db: new Kysely<Database>({ dialect: new MysqlDialect({ pool }) }),
    dialect: 'mysql',
    poolStats: () => ({ total: counts._allConnections?.length ?? 0, idle: counts._freeConnections?.length ?? 0 }),
  };
}
