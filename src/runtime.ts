// The wiring main.ts and cli.ts share: database → migrations → store → core.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Config } from './config.js';
import { createAdmin } from './core/admin.js';
import { Auth } from './core/auth.js';
import { type Clock, systemClock } from './core/clock.js';
import { KeyRing } from './core/crypto.js';
import { LastSeen } from './core/last-seen.js';
import type { Store } from './core/ports.js';
import { type OpenDatabase, openDatabase } from './store/database.js';
import { isMigrated, type MigrationReport, migrate } from './store/migrate.js';
import { createSqlStore } from './store/sql-store.js';

export interface Runtime {
  readonly database: OpenDatabase;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly auth: Auth;
  readonly admin: ReturnType<typeof createAdmin>;
  readonly lastSeen: LastSeen;
  readonly migrations: MigrationReport | undefined;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRuntime(
  config: Config,
  options: { migrate?: boolean; clock?: Clock; onDatabaseError?: (err: Error) => void } = {},
): Promise<Runtime> {
  const database = openDatabase(config.database, {
    connectionLimit: config.mysqlPoolSize,
    ...(options.onDatabaseError ? { onIdleConnectionError: options.onDatabaseError } : {}),
  });
  try {
    const migrations = options.migrate === false ? undefined : await migrate(database);
    const store = createSqlStore(database);
    const keys = new KeyRing(config.encryptionKeys);
    const clock = options.clock ?? systemClock;
    const lastSeen = new LastSeen(store, clock, config.lastSeenIntervalInMs);
    const auth = new Auth({ store, keys, clock, cache: config.cache, lastSeen });
    const admin = createAdmin({ store, keys, clock, auth, issuer: config.totpIssuer });
    return {
      database,
      store,
      keys,
      auth,
      admin,
      lastSeen,
      migrations,
      ready: async () => {
        await store.ping();
        return isMigrated(database);
      },
      async close() {
        await lastSeen.flush().catch(() => {});
        await store.close();
      },
    };
  } catch (err) {
    await database.db.destroy().catch(() => {});
    throw err;
  }
}

/** Whether the module at `moduleUrl` is the script node was started with (also through an npm bin link). */
export function isEntryPoint(moduleUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === moduleUrl;
  } catch {
    return false;
  }
}
