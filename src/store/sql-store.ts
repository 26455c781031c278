// The core's Store over Kysely, for SQLite, MySQL and PostgreSQL alike: one file per entity, composed here.
// Row → domain mapping is in rows.ts, one function per entity; dialect differences are in sql-helpers.ts.
import { sql } from 'kysely';
import type { Store } from '../core/ports.js';
import { createChallengeStore } from './challenges.js';
import { createChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { createDeviceStore } from './devices.js';
import { createGrantStore } from './grants.js';
import { createGroupStore } from './groups.js';
import { createInviteStore } from './invites.js';
import { createLoginFailureStore } from './login-failures.js';
import { createPasskeyStore } from './passkeys.js';
import { createPolicyStore } from './policy.js';
import { createRuleStore } from './rules.js';
import { createSealedValueStore } from './sealed-values.js';
import { createProxyTokenStore, createServiceStore } from './services.js';
import { createUserStore } from './users.js';
import { createVerifyLookup } from './verify-lookup.js';

export function createSqlStore(database: OpenDatabase): Store {
  const { db } = database;
  const changes = createChangeLog(database);
  return {
    users: createUserStore(database, changes),
    devices: createDeviceStore(database, changes),
    services: createServiceStore(database, changes),
    grants: createGrantStore(database, changes),
    proxyTokens: createProxyTokenStore(database, changes),
    loginFailures: createLoginFailureStore(database),
    passkeys: createPasskeyStore(database, changes),
    invites: createInviteStore(database, changes),
    challenges: createChallengeStore(database),
    sealedValues: createSealedValueStore(database),
    changes: changes.store,
    groups: createGroupStore(database, changes),
    rules: createRuleStore(database, changes),
    policy: createPolicyStore(changes),
    lookupForVerify: createVerifyLookup(database),
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}
