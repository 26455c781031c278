// What every entity store needs, written once where SQLite, MySQL and PostgreSQL differ: unique-key errors, new
// row ids (RETURNING), exact name matches (PAD SPACE) and changed-row counts.
import type { InsertQueryBuilder, InsertResult } from 'kysely';
import { ConflictError } from '../core/ports.js';
import type { Dialect } from './database.js';
import type { Database } from './schema.js';

export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062 ||
    e?.code === '23505' // PostgreSQL unique_violation
  );
}

/** Runs `op`, turning a unique-key violation into the core's `ConflictError` ("<what> already exists"). */
export async function uniquely<T>(what: string, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError(`${what} already exists`);
    throw err;
  }
}

/**
 * MySQL's binary collations still PAD SPACE: `'a '` equals `'a'` there. Lookups by a name re-check the
 * match exactly, so every dialect answers the same.
 */
export const exact = (stored: string, wanted: string) => stored === wanted;

/** The new row's id. MySQL has no RETURNING but reports the id; SQLite (3.35+) and PostgreSQL return it. */
export async function insertedId<T extends 'users' | 'services' | 'proxy_tokens' | 'passkeys' | 'invites' | 'user_groups' | 'access_rules'>(
  dialect: Dialect,
  insert: InsertQueryBuilder<Database, T, InsertResult>,
): Promise<number> {
  if (dialect === 'mysql') return Number((await insert.executeTakeFirstOrThrow()).insertId);
  return Number((await insert.returning('id').executeTakeFirstOrThrow()).id);
}

/** Whether an UPDATE or DELETE changed a row. */
export const affected = (r: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): boolean =>
  (r.numUpdatedRows ?? r.numDeletedRows ?? 0n) > 0n;
