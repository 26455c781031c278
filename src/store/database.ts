// Opening a Kysely database from a parsed DATABASE_URL (config/database-url.ts): embedded SQLite, a MySQL/MariaDB pool or a PostgreSQL pool.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, MysqlDialect, PostgresDialect, SqliteDialect } from 'kysely';
import { createPool } from 'mysql2';
import pg from 'pg';
import type { DatabaseTarget } from '../config/database-url.js';
import type { Database } from './schema.js';

export type Dialect = DatabaseTarget['dialect'];

export interface OpenDatabase {
  readonly db: Kysely<Database>;
  readonly dialect: Dialect;
  /** Connections in the pool and how many are idle, for metrics (pooled dialects only). */
  readonly poolStats?: () => { total: number; idle: number };
  /**
   * Runs one statement (`?` placeholders) as a cached prepared statement, straight on the driver. Kysely prepares
   * every query anew (better-sqlite3) or sends it as text (mysql2); for the one query on the /verify cold path that
   * costs more than the query itself.
   */
  readonly prepared: (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;
  /**
   * PostgreSQL only: LISTEN on `channel` on a connection of its own (LISTEN belongs to a session, so not one
   * from the pool); resolves to a function that ends it.
   */
  readonly listen?: (channel: string, onNotify: () => void, onError: (err: Error) => void) => Promise<() => Promise<void>>;
}

/** PostgreSQL numbers its placeholders: `?` → `$1`, `$2`, … (the statements given here hold no literal `?`). */
const numbered = (sql: string) => {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
};

export interface PoolOptions {
  /** MySQL/PostgreSQL connections at most; SQLite always uses one. */
  readonly connectionLimit?: number;
  /** How long to wait for a MySQL/PostgreSQL connection before failing. */
  readonly connectTimeoutInMs?: number;
  /**
   * PostgreSQL: an idle pooled connection failed (server restart, failover, an administrator ending it). The
   * pool has already discarded it and opens a new one when needed; this is only for logging.
   */
  readonly onIdleConnectionError?: (err: Error) => void;
}

/**
 * pg hands BIGINT (and so SUM/COUNT) back as strings, since they may exceed 2^53. Ours are epoch milliseconds,
 * ids and counts, far below that, so they come back as numbers as on SQLite and MySQL. Set per pool, not through
 * pg's global `types`, so no other pg user in the process is affected.
 */
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: (oid, format) =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format),
};

export function openDatabase(target: DatabaseTarget, options: PoolOptions = {}): OpenDatabase {
  if (target.dialect === 'sqlite') {
    if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
    const sqlite = new SQLite(target.path);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    sqlite.pragma('synchronous = NORMAL');
    const statements = new Map<string, SQLite.Statement>();
    return {
      db: new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) }),
      dialect: 'sqlite',
      prepared: async (sql, params) => {
        let stmt = statements.get(sql);
        if (!stmt) {
          stmt = sqlite.prepare(sql);
          statements.set(sql, stmt);
        }
        return stmt.all(...params) as Record<string, unknown>[];
      },
    };
  }
  if (target.dialect === 'postgres') {
    const connection = {
      host: target.host,
      port: target.port,
      user: target.user,
      // Empty means none given: pg then falls back to PGPASSWORD and ~/.pgpass, as psql does.
      password: target.password || undefined,
      database: target.database,
      connectionTimeoutMillis: options.connectTimeoutInMs ?? 5000,
      keepAlive: true,
      types: pgTypes,
      application_name: 'passwordless-auth',
    };
    const pool = new pg.Pool({ ...connection, max: options.connectionLimit ?? 10 });
    // Without a listener, pg rethrows an idle connection's error as an uncaught exception and ends the process.
    pool.on('error', (err) => options.onIdleConnectionError?.(err));
    const names = new Map<string, { name: string; text: string }>();
    return {
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      dialect: 'postgres',
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount }),
      prepared: async (sql, params) => {
        let named = names.get(sql);
        if (!named) {
          named = { name: `pa_${names.size}`, text: numbered(sql) };
          names.set(sql, named);
        }
        return (await pool.query({ ...named, values: [...params] })).rows;
      },
      listen: async (channel, onNotify, onError) => {
        const client = new pg.Client(connection);
        let ended = false;
        const end = async () => {
          if (ended) return;
          ended = true;
          await client.end().catch(() => {});
        };
        client.on('notification', () => onNotify());
        client.on('error', (err) => {
          void end();
          onError(err);
        });
        client.on('end', () => {
          if (!ended) onError(new Error('the LISTEN connection closed'));
          ended = true;
        });
        try {
          await client.connect();
          await client.query(`LISTEN ${channel}`);
        } catch (err) {
          await end();
          throw err;
        }
        return end;
      },
    };
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
    // mysql2 keeps prepared statements per connection and reuses them. The callback API, not mysql2's promise
    // wrapper, which captures a stack trace on every call.
    prepared: (sql, params) =>
      new Promise((resolve, reject) => {
        pool.execute({ sql }, [...params] as never, (err, rows) => (err ? reject(err) : resolve(rows as Record<string, unknown>[])));
      }),
  };
}
