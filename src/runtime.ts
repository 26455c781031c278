// The wiring main.ts and cli.ts share: database → migrations → store → core.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Config, ConfigError } from './config/config.js';
import { Access } from './core/access.js';
import { createAdmin } from './core/admin.js';
import { AuthenticatorApp } from './core/authenticator-app.js';
import { ChangeFeed } from './core/change-feed.js';
import type { Change } from './core/changes.js';
import { type Clock, systemClock } from './core/clock.js';
import { KeyRing } from './core/crypto.js';
import { Devices } from './core/devices.js';
import { Invites } from './core/invites.js';
import { LastSeen } from './core/last-seen.js';
import { PasskeyAccount } from './core/passkey-account.js';
import { Passkeys } from './core/passkeys.js';
import type { Store } from './core/ports.js';
import { SignIn } from './core/sign-in.js';
import { type CacheStats, VerifyCache } from './core/verify-cache.js';
import { type OpenDatabase, openDatabase } from './store/database.js';
import { isMigrated, type MigrationReport, migrate } from './store/migrate.js';
import { createSqlStore } from './store/sql-store.js';

export interface Runtime {
  readonly config: Config;
  readonly database: OpenDatabase;
  readonly store: Store;
  readonly keys: KeyRing;
  readonly signIn: SignIn;
  readonly devices: Devices;
  readonly access: Access;
  readonly invites: Invites;
  /** `undefined` when passkeys are off (no relying party, see config). */
  readonly passkeys: Passkeys | undefined;
  readonly passkeyAccount: PasskeyAccount;
  readonly authenticatorApp: AuthenticatorApp;
  readonly cacheStats: () => CacheStats;
  /** Drops what a change names from this process's cache (a change another worker of this instance committed). */
  readonly forget: (change: Change) => void;
  readonly admin: ReturnType<typeof createAdmin>;
  readonly lastSeen: LastSeen;
  /** The change feed reader of this process's cache; the server starts it, the CLI does not need it. */
  readonly feed: ChangeFeed;
  readonly migrations: MigrationReport | undefined;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

export async function openRuntime(
  config: Config,
  options: {
    migrate?: boolean;
    clock?: Clock;
    onDatabaseError?: (err: Error) => void;
    warn?: (details: Record<string, unknown>, message: string) => void;
  } = {},
): Promise<Runtime> {
  if (config.encryptionKeys.length === 0) {
    const where = config.localKeyFile ? ` and ${config.localKeyFile} does not exist yet` : '';
    throw new ConfigError([`ENCRYPTION_KEYS: not configured${where}`]);
  }
  const database = openDatabase(config.database, {
    connectionLimit: config.databasePoolSize,
    ...(options.onDatabaseError ? { onIdleConnectionError: options.onDatabaseError } : {}),
  });
  try {
    const migrations = options.migrate === false ? undefined : await migrate(database);
    const store = createSqlStore(database);
    const keys = new KeyRing(config.encryptionKeys);
    const clock = options.clock ?? systemClock;
    const lastSeen = new LastSeen(store, clock, config.lastSeenIntervalInMs);
    const cache = new VerifyCache(config.cache, clock);
    // Changes this process commits are forgotten at once; the feed (ChangeFeed) brings everyone else's.
    store.changes.onCommitted((change) => cache.forget(change));
    const feed = new ChangeFeed({
      changes: store.changes,
      cache,
      clock,
      pollEveryInMs: config.changePollInMs,
      warn: options.warn ?? (() => {}),
    });
    const invites = new Invites({ store, keys, clock, lifetimeInMs: config.inviteLifetimeInHours * 3_600_000, issuer: config.totpIssuer });
    const passkeys = config.relyingParty ? new Passkeys({ store, clock, relyingParty: config.relyingParty }) : undefined;
    const devices = new Devices({ store, cache, clock, freshSignInInMs: config.freshSignInInMs });
    const admin = createAdmin({ store, keys, clock, issuer: config.totpIssuer, invites, devices });
    return {
      config,
      database,
      store,
      keys,
      signIn: new SignIn({ store, keys, clock }),
      devices,
      access: new Access({ store, keys, clock, cache, devices, lastSeen }),
      invites,
      passkeys,
      passkeyAccount: new PasskeyAccount({ store }),
      authenticatorApp: new AuthenticatorApp({ store, keys, clock, issuer: config.totpIssuer }),
      cacheStats: () => cache.stats,
      forget: (change) => cache.forget(change),
      admin,
      lastSeen,
      feed,
      migrations,
      ready: async () => {
        await store.ping();
        return isMigrated(database);
      },
      async close() {
        await feed.stop();
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
