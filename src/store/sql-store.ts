// The core's Store over Kysely, for SQLite, MySQL and PostgreSQL alike. Row ↔ domain mapping lives here, one function each.
import { type InsertQueryBuilder, type InsertResult, type Selectable, sql } from 'kysely';
import type { TokenAlg } from '../core/crypto.js';
import { ConflictError, type Device, type Grant, type ProxyToken, type Role, type Service, type Store, type User } from '../core/ports.js';
import type { Dialect, OpenDatabase } from './database.js';
import type { Database, DevicesTable, GrantsTable, ProxyTokensTable, ServicesTable, UsersTable } from './schema.js';
import { createVerifyBatcher } from './verify-batcher.js';

const toUser = (r: Selectable<UsersTable>): User => ({
  id: Number(r.id),
  email: r.email,
  username: r.username,
  role: r.role === 'admin' ? 'admin' : 'user',
  totpSecretSealed: r.totp_secret_sealed,
  lastTotpStep: r.last_totp_step === null ? null : Number(r.last_totp_step),
  createdAt: Number(r.created_at),
});

const toDevice = (r: Selectable<DevicesTable>): Device => ({
  id: r.id,
  userId: Number(r.user_id),
  signature: r.signature,
  deviceType: r.device_type,
  createdAt: Number(r.created_at),
  lastSeenAt: r.last_seen_at === null ? null : Number(r.last_seen_at),
});

const toTokenAlg = (alg: string): TokenAlg => (alg === 'sha512-ref' ? 'sha512-ref' : 'sha256');

const toService = (r: Selectable<ServicesTable>): Service => ({
  id: Number(r.id),
  name: r.name,
  token: { hash: r.token_hash, salt: r.token_salt, alg: toTokenAlg(r.token_alg) },
  createdAt: Number(r.created_at),
});

const toGrant = (r: Selectable<GrantsTable>): Grant => ({
  userId: Number(r.user_id),
  serviceId: Number(r.service_id),
  scope: r.scope,
  tokenSealed: r.token_sealed,
  createdAt: Number(r.created_at),
});

const toProxyToken = (r: Selectable<ProxyTokensTable>): ProxyToken => ({
  id: Number(r.id),
  name: r.name,
  token: { hash: r.token_hash, salt: r.token_salt, alg: toTokenAlg(r.token_alg) },
  createdAt: Number(r.created_at),
});

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown };
  return (
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    e?.code === 'ER_DUP_ENTRY' ||
    e?.errno === 1062 ||
    e?.code === '23505' // PostgreSQL unique_violation
  );
}

async function uniquely<T>(what: string, op: () => Promise<T>): Promise<T> {
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
const exact = (stored: string, wanted: string) => stored === wanted;

/** The new row's id. MySQL has no RETURNING but reports the id; SQLite (3.35+) and PostgreSQL return it. */
async function insertedId<T extends 'users' | 'services' | 'proxy_tokens'>(
  dialect: Dialect,
  insert: InsertQueryBuilder<Database, T, InsertResult>,
): Promise<number> {
  if (dialect === 'mysql') return Number((await insert.executeTakeFirstOrThrow()).insertId);
  return Number((await insert.returning('id').executeTakeFirstOrThrow()).id);
}

/** Thrown inside a transaction to roll it back when its caller stopped waiting. */
const ABANDONED = new Error('abandoned by the caller');

const affected = (r: { numUpdatedRows?: bigint; numDeletedRows?: bigint }): boolean => (r.numUpdatedRows ?? r.numDeletedRows ?? 0n) > 0n;

export function createSqlStore(database: OpenDatabase): Store {
  const { db, dialect } = database;
  // Over a network, concurrent cold look-ups share round trips; SQLite runs in-process, where that gains nothing.
  const batcher =
    dialect === 'sqlite'
      ? undefined
      : createVerifyBatcher(database.prepared, (ids) => VERIFY_LOOKUP.replace('d.id = ?', `d.id IN (${ids})`));
  const users: Store['users'] = {
    async create(input, sealSecret) {
      return uniquely('user', () =>
        db.transaction().execute(async (trx) => {
          const id = await insertedId(
            dialect,
            trx.insertInto('users').values({
              email: input.email,
              username: input.username,
              role: input.role satisfies Role,
              totp_secret_sealed: '',
              created_at: input.createdAt,
            }),
          );
          const sealed = sealSecret(id);
          await trx.updateTable('users').set({ totp_secret_sealed: sealed }).where('id', '=', id).execute();
          return { id, ...input, totpSecretSealed: sealed, lastTotpStep: null };
        }),
      );
    },
    async findByEmail(email) {
      const row = await db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
      return row && exact(row.email, email) ? toUser(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('users').selectAll().orderBy('id').execute()).map(toUser);
    },
    async deleteByEmail(email) {
      return affected(await db.deleteFrom('users').where('email', '=', email).executeTakeFirst());
    },
    async advanceTotpStep(userId, step) {
      const r = await db
        .updateTable('users')
        .set({ last_totp_step: step })
        .where('id', '=', userId)
        .where((eb) => eb.or([eb('last_totp_step', 'is', null), eb('last_totp_step', '<', step)]))
        .executeTakeFirst();
      return affected(r);
    },
  };

  const devices: Store['devices'] = {
    async create(d) {
      await db
        .insertInto('devices')
        .values({
          id: d.id,
          user_id: d.userId,
          signature: d.signature,
          device_type: d.deviceType,
          created_at: d.createdAt,
          last_seen_at: null,
        })
        .execute();
    },
    async addWithCodeStep(d, step, stillWanted) {
      try {
        return await db.transaction().execute(async (trx) => {
          const advanced = await trx
            .updateTable('users')
            .set({ last_totp_step: step })
            .where('id', '=', d.userId)
            .where((eb) => eb.or([eb('last_totp_step', 'is', null), eb('last_totp_step', '<', step)]))
            .executeTakeFirst();
          if (!affected(advanced)) return 'replayed' as const;
          await trx
            .insertInto('devices')
            .values({
              id: d.id,
              user_id: d.userId,
              signature: d.signature,
              device_type: d.deviceType,
              created_at: d.createdAt,
              last_seen_at: null,
            })
            .execute();
          if (!stillWanted()) throw ABANDONED;
          return 'created' as const;
        });
      } catch (err) {
        if (err === ABANDONED) return 'abandoned';
        throw err;
      }
    },
    async findWithUser(deviceId) {
      const row = await db
        .selectFrom('devices as d')
        .innerJoin('users as u', 'u.id', 'd.user_id')
        .select([
          'd.id as d_id',
          'd.user_id as d_user_id',
          'd.signature as d_signature',
          'd.device_type as d_device_type',
          'd.created_at as d_created_at',
          'd.last_seen_at as d_last_seen_at',
          'u.id',
          'u.email',
          'u.username',
          'u.role',
          'u.totp_secret_sealed',
          'u.last_totp_step',
          'u.created_at',
        ])
        .where('d.id', '=', deviceId)
        .executeTakeFirst();
      if (!row || !exact(row.d_id, deviceId)) return undefined;
      return {
        device: toDevice({
          id: row.d_id,
          user_id: row.d_user_id,
          signature: row.d_signature,
          device_type: row.d_device_type,
          created_at: row.d_created_at,
          last_seen_at: row.d_last_seen_at,
        }),
        user: toUser(row),
      };
    },
    async list(userId) {
      let q = db.selectFrom('devices').selectAll().orderBy('created_at').orderBy('id');
      if (userId !== undefined) q = q.where('user_id', '=', userId);
      return (await q.execute()).map(toDevice);
    },
    async delete(deviceId) {
      return affected(await db.deleteFrom('devices').where('id', '=', deviceId).executeTakeFirst());
    },
    async touch(ids, at) {
      if (ids.length === 0) return;
      await db.updateTable('devices').set({ last_seen_at: at }).where('id', 'in', ids).execute();
    },
  };

  const services: Store['services'] = {
    async create(input) {
      return uniquely('service', async () => {
        const id = await insertedId(
          dialect,
          db.insertInto('services').values({
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
    async findByName(name) {
      const row = await db.selectFrom('services').selectAll().where('name', '=', name).executeTakeFirst();
      return row && exact(row.name, name) ? toService(row) : undefined;
    },
    async list() {
      return (await db.selectFrom('services').selectAll().orderBy('name').execute()).map(toService);
    },
    async deleteByName(name) {
      return affected(await db.deleteFrom('services').where('name', '=', name).executeTakeFirst());
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

  const grants: Store['grants'] = {
    async find(userId, serviceId) {
      const row = await db
        .selectFrom('grants')
        .selectAll()
        .where('user_id', '=', userId)
        .where('service_id', '=', serviceId)
        .executeTakeFirst();
      return row && toGrant(row);
    },
    async insertIfAbsent(g) {
      try {
        await db
          .insertInto('grants')
          .values({
            user_id: g.userId,
            service_id: g.serviceId,
            scope: g.scope,
            token_sealed: g.tokenSealed,
            created_at: g.createdAt,
            last_seen_at: null,
          })
          .execute();
        return true;
      } catch (err) {
        if (isUniqueViolation(err)) return false;
        throw err;
      }
    },
    async setScope(userId, serviceId, scope) {
      // Compare-free update: MySQL reports 0 changed rows when the value is already equal, so existence is
      // checked by a read instead of by the row count.
      await db.updateTable('grants').set({ scope }).where('user_id', '=', userId).where('service_id', '=', serviceId).execute();
      return (await grants.find(userId, serviceId)) !== undefined;
    },
    async delete(userId, serviceId) {
      return affected(await db.deleteFrom('grants').where('user_id', '=', userId).where('service_id', '=', serviceId).executeTakeFirst());
    },
    async list() {
      return (await db.selectFrom('grants').selectAll().orderBy('user_id').orderBy('service_id').execute()).map(toGrant);
    },
    async touch(keys, at) {
      for (const k of keys) {
        await db
          .updateTable('grants')
          .set({ last_seen_at: at })
          .where('user_id', '=', k.userId)
          .where('service_id', '=', k.serviceId)
          .execute();
      }
    },
  };

  const proxyTokens: Store['proxyTokens'] = {
    async create(input) {
      return uniquely('proxy token', async () => {
        const id = await insertedId(
          dialect,
          db.insertInto('proxy_tokens').values({
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
    async list() {
      return (await db.selectFrom('proxy_tokens').selectAll().orderBy('name').execute()).map(toProxyToken);
    },
    async deleteByName(name) {
      return affected(await db.deleteFrom('proxy_tokens').where('name', '=', name).executeTakeFirst());
    },
  };

  const loginFailures: Store['loginFailures'] = {
    async record(attemptId, subjects, at) {
      await db
        .insertInto('login_failures')
        .values(subjects.map((subject) => ({ subject, attempt_id: attemptId, at })))
        .execute();
    },
    async counts(attemptId, subjects, since) {
      const oldest = Math.min(...since);
      const rows = await db
        .selectFrom('login_failures as f')
        .innerJoin('login_failures as mine', (join) => join.on('mine.attempt_id', '=', attemptId).onRef('mine.subject', '=', 'f.subject'))
        .select((eb) => [
          'f.subject',
          // Literal 1 and 0: as parameters PostgreSQL would type the CASE as text, and there is no SUM(text).
          ...since.map((t, i) => eb.fn.sum<number>(eb.case().when('f.at', '>', t).then(eb.lit(1)).else(eb.lit(0)).end()).as(`c${i}`)),
        ])
        .where('f.subject', 'in', subjects)
        .where('f.at', '>', oldest)
        .whereRef('f.id', '<=', 'mine.id')
        .groupBy('f.subject')
        .execute();
      const out = new Map<string, number[]>(subjects.map((s) => [s, since.map(() => 0)]));
      for (const row of rows) {
        const r = row as Record<string, unknown>;
        if (out.has(row.subject))
          out.set(
            row.subject,
            since.map((_, i) => Number(r[`c${i}`] ?? 0)),
          );
      }
      return out;
    },
    async forget(attemptId) {
      await db.deleteFrom('login_failures').where('attempt_id', '=', attemptId).execute();
    },
    async clear(subject) {
      const r = await db.deleteFrom('login_failures').where('subject', '=', subject).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
    async prune(before) {
      const r = await db.deleteFrom('login_failures').where('at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };

  return {
    users,
    devices,
    services,
    grants,
    proxyTokens,
    loginFailures,
    async lookupForVerify(deviceId, serviceName) {
      let rows: VerifyRow[];
      if (batcher && deviceId !== undefined && serviceName !== undefined) {
        const row = (await batcher.load(deviceId, serviceName)) as VerifyRow | undefined;
        rows = row ? [row] : [];
      } else {
        rows = serviceName === undefined ? [] : ((await database.prepared(VERIFY_LOOKUP, [deviceId ?? '', serviceName])) as VerifyRow[]);
      }
      // PAD SPACE collations can match a name with trailing spaces: only an exact name counts as found.
      if (rows[0] && !exact(rows[0].s_name ?? '', serviceName ?? '')) rows = [];
      if (rows.length === 0 && deviceId !== undefined) rows = (await database.prepared(DEVICE_LOOKUP, [deviceId])) as VerifyRow[];
      const r = rows[0];
      if (!r) return {};
      const found =
        r.d_id !== null && r.u_id !== null && exact(r.d_id, deviceId ?? '')
          ? {
              device: toDevice({
                id: r.d_id,
                user_id: r.d_user_id,
                signature: r.d_signature,
                device_type: r.d_device_type,
                created_at: r.d_created_at,
                last_seen_at: r.d_last_seen_at,
              } as Selectable<DevicesTable>),
              user: toUser({
                id: r.u_id,
                email: r.u_email,
                username: r.u_username,
                role: r.u_role,
                totp_secret_sealed: r.u_totp_secret_sealed,
                last_totp_step: r.u_last_totp_step,
                created_at: r.u_created_at,
              } as Selectable<UsersTable>),
            }
          : undefined;
      const service =
        r.s_id !== null && exact(r.s_name ?? '', serviceName ?? '')
          ? toService({
              id: r.s_id,
              name: r.s_name,
              token_hash: r.s_token_hash,
              token_salt: r.s_token_salt,
              token_alg: r.s_token_alg,
              created_at: r.s_created_at,
            } as Selectable<ServicesTable>)
          : undefined;
      const grant =
        found && service && r.g_token_sealed !== null
          ? toGrant({
              user_id: found.user.id,
              service_id: service.id,
              scope: r.g_scope ?? '',
              token_sealed: r.g_token_sealed,
              created_at: r.g_created_at ?? 0,
              last_seen_at: null,
            })
          : undefined;
      return { ...(found ? { found } : {}), ...(service ? { service } : {}), ...(grant ? { grant } : {}) };
    },
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async close() {
      await db.destroy();
    },
  };
}

/**
 * The /verify cold path's one query, run as a cached prepared statement (see `OpenDatabase.prepared`). It starts
 * from the service (a unique-key look-up) and joins the device, its user and their grant; when the service does
 * not exist it returns nothing and DEVICE_LOOKUP answers instead (a second round trip only for unknown names).
 * Starting from a one-row derived table instead would cover both cases at once, but costs MySQL more per query.
 */
const VERIFY_LOOKUP = `
  SELECT d.id AS d_id, d.user_id AS d_user_id, d.signature AS d_signature, d.device_type AS d_device_type,
         d.created_at AS d_created_at, d.last_seen_at AS d_last_seen_at,
         u.id AS u_id, u.email AS u_email, u.username AS u_username, u.role AS u_role,
         u.totp_secret_sealed AS u_totp_secret_sealed, u.last_totp_step AS u_last_totp_step, u.created_at AS u_created_at,
         s.id AS s_id, s.name AS s_name, s.token_hash AS s_token_hash, s.token_salt AS s_token_salt,
         s.token_alg AS s_token_alg, s.created_at AS s_created_at,
         g.scope AS g_scope, g.token_sealed AS g_token_sealed, g.created_at AS g_created_at
  FROM services s
  LEFT JOIN devices d ON d.id = ?
  LEFT JOIN users u ON u.id = d.user_id
  LEFT JOIN grants g ON g.user_id = u.id AND g.service_id = s.id
  WHERE s.name = ?`;

const DEVICE_LOOKUP = `
  SELECT d.id AS d_id, d.user_id AS d_user_id, d.signature AS d_signature, d.device_type AS d_device_type,
         d.created_at AS d_created_at, d.last_seen_at AS d_last_seen_at,
         u.id AS u_id, u.email AS u_email, u.username AS u_username, u.role AS u_role,
         u.totp_secret_sealed AS u_totp_secret_sealed, u.last_totp_step AS u_last_totp_step, u.created_at AS u_created_at,
         NULL AS s_id, NULL AS s_name, NULL AS s_token_hash, NULL AS s_token_salt, NULL AS s_token_alg, NULL AS s_created_at,
         NULL AS g_scope, NULL AS g_token_sealed, NULL AS g_created_at
  FROM devices d
  JOIN users u ON u.id = d.user_id
  WHERE d.id = ?`;

/** The columns of the one-round-trip verify query; every column may be null through the outer joins. */
type VerifyRow = { [K in keyof VerifyColumns]: VerifyColumns[K] | null };
interface VerifyColumns {
  d_id: string;
  d_user_id: number;
  d_signature: string;
  d_device_type: string;
  d_created_at: number;
  d_last_seen_at: number | null;
  u_id: number;
  u_email: string;
  u_username: string | null;
  u_role: string;
  u_totp_secret_sealed: string;
  u_last_totp_step: number | null;
  u_created_at: number;
  s_id: number;
  s_name: string;
  s_token_hash: string;
  s_token_salt: string;
  s_token_alg: string;
  s_created_at: number;
  g_scope: string;
  g_token_sealed: string;
  g_created_at: number;
}
