// The core's ServiceStore and ProxyTokenStore over Kysely. Both are a unique name with a hashed token, so
// creating one and deleting one by name is written once for the two tables.
import type { ProxyTokenStore, ServiceStore, StoredTokenHash } from '../core/ports.js';
import type { OpenDatabase } from './database.js';
import { toProxyToken, toService } from './rows.js';
import { affected, exact, insertedId, uniquely } from './sql-helpers.js';

type NamedTokenTable = 'services' | 'proxy_tokens';

function namedTokens({ db, dialect }: OpenDatabase, table: NamedTokenTable, what: string) {
  return {
    create<T extends { name: string; token: StoredTokenHash; createdAt: number }>(input: T): Promise<T & { id: number }> {
      return uniquely(what, async () => {
        const id = await insertedId(
          dialect,
          db.insertInto(table).values({
            name: input.name,
            token_hash: input.token.hash,
            token_salt: input.token.salt,
            token_alg: input.token.alg,
            created_at: input.createdAt,
          }),
        );
        return { id, ...input };
      });
    },
    async deleteByName(name: string): Promise<boolean> {
      return affected(await db.deleteFrom(table).where('name', '=', name).executeTakeFirst());
    },
  };
}

export function createServiceStore(database: OpenDatabase): ServiceStore {
  const { db } = database;
  const { create, deleteByName } = namedTokens(database, 'services', 'service');
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
    async setToken(name, token) {
      const r = await db
        .updateTable('services')
        .set({ token_hash: token.hash, token_salt: token.salt, token_alg: token.alg })
        .where('name', '=', name)
        .executeTakeFirst();
      return affected(r);
    },
  };
}

export function createProxyTokenStore(database: OpenDatabase): ProxyTokenStore {
  const { create, deleteByName } = namedTokens(database, 'proxy_tokens', 'proxy token');
  return {
    create,
    deleteByName,
    async list() {
      return (await database.db.selectFrom('proxy_tokens').selectAll().orderBy('name').execute()).map(toProxyToken);
    },
  };
}
