// The core's ServiceStore and ProxyTokenStore over Kysely. Both are a unique name with a hashed token, so
// creating one and deleting one by name is written once for the two tables.

import type { Change } from '../core/changes.js';
import type { StoredTokenHash } from '../core/model.js';
import type { ProxyTokenStore, ServiceStore } from '../core/ports.js';
import type { ChangeLog } from './changes.js';
import type { OpenDatabase } from './database.js';
import { toProxyToken, toService } from './rows.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

type NamedTokenTable = 'services' | 'proxy_tokens';

/** What adding or removing a row of `table` changes for /verify. */
const CHANGE_OF: Record<NamedTokenTable, Change> = { services: { kind: 'services' }, proxy_tokens: { kind: 'proxy-tokens' } };

function namedTokens({ dialect }: OpenDatabase, changes: ChangeLog, table: NamedTokenTable, what: string) {
  return {
    create<T extends { name: string; token: StoredTokenHash; createdAt: number }>(input: T): Promise<T & { id: number }> {
      return uniquely(what, () =>
        changes.transaction(async (trx, changed) => {
          const id = await insertedId(
            dialect,
            trx.insertInto(table).values({
              name: input.name,
              token_hash: input.token.hash,
              token_salt: input.token.salt,
              token_alg: input.token.alg,
              created_at: input.createdAt,
            }),
          );
          // A new service answers for a name that was unknown a moment ago (a proxy token's caller may hold that).
          if (table === 'services') changed(CHANGE_OF[table]);
          return { id, ...input };
        }),
      );
    },
    deleteByName: (name: string): Promise<boolean> =>
      changes.transaction(async (trx, changed) => {
        const deleted = affected(await trx.deleteFrom(table).where('name', '=', name).executeTakeFirst());
        if (deleted) changed(CHANGE_OF[table]);
        return deleted;
      }),
  };
}

export function createServiceStore(database: OpenDatabase, changes: ChangeLog): ServiceStore {
  const { db } = database;
  const { create, deleteByName } = namedTokens(database, changes, 'services', 'service');
  return {
    create,
    deleteByName,
    async findByName(name) {
      const row = await db.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
      return row && exact(row.name, name) ? toService(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('services').selectAll().orderBy('name').execute()).map(toService);
    },
    setToken: (name, token) =>
      changes.transaction(async (trx, changed) => {
        const r = await trx
          .updateTable('services')
          .set({ token_hash: token.hash, token_salt: token.salt, token_alg: token.alg })
          .where('name', '=', name)
          .executeTakeFirst();
        if (affected(r)) changed({ kind: 'services' });
        return affected(r);
      }),
  };
}

export function createProxyTokenStore(database: OpenDatabase, changes: ChangeLog): ProxyTokenStore {
  const { create, deleteByName } = namedTokens(database, changes, 'proxy_tokens', 'proxy token');
  return {
    create,
    deleteByName,
    async list() {
      return (await database.db.selectFrom('proxy_tokens').selectAll().orderBy('name').execute()).map(toProxyToken);
    },
  };
}
