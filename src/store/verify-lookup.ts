// The /verify cold path's read: device, owner, service and grant in one round trip, run as a cached prepared
// statement straight on the driver (`OpenDatabase.prepared`). On MySQL and PostgreSQL the look-ups that arrive
// together share one query per service; SQLite runs in-process, where that gains nothing. The device-with-owner
// read here is also `devices.findWithUser`.
import type { Selectable } from 'kysely';
import type { Device, User } from '../core/model.js';
import type { Store, VerifyLookup } from '../core/ports.js';
import type { Dialect, OpenDatabase } from './database.js';
import { DEVICE_WITH_USER_COLUMNS, type DeviceWithUserRow, type Prefixed, toDeviceWithUser, toGrant, toService } from './rows.js';
import type { GrantsTable, ServicesTable } from './schema.js';
import { exact } from './sql-helpers.js';

type ServiceColumns = Prefixed<'s_', Selectable<ServicesTable>>;
type GrantColumns = Prefixed<'g_', Pick<Selectable<GrantsTable>, 'scope' | 'token_sealed' | 'created_at' | 'via_group'>>;
type OrNull<Row> = { [K in keyof Row]: Row[K] | null };
/**
 * What access rules need, from scalar subqueries: the owner's group names (comma-separated), the scopes of their
 * groups' grants of the service (comma-joined; null when no group grants it), and how many rules the service has
 * (a service without rules needs no second query for them).
 */
interface AccessColumns {
  u_groups: string | null;
  g_group_scopes: string | null;
  s_rule_count: number | string | bigint;
}

/** A row of `verifyLookupSql`: the service, and through outer joins a device, its owner and their grant. */
export type VerifyRow = OrNull<DeviceWithUserRow & ServiceColumns & GrantColumns & AccessColumns>;

/** Each size's text is built once: the drivers' statement caches key on it, and every cold look-up asks for it. */
const sqlByIdCount = new Map<string, string>();

/** A comma-joined aggregate of a text column, as each dialect spells it. */
const joined = (dialect: Dialect, column: string): string =>
  dialect === 'mysql'
    ? `GROUP_CONCAT(${column} SEPARATOR ',')`
    : dialect === 'postgres'
      ? `string_agg(${column}, ',')`
      : `group_concat(${column}, ',')`;

/**
 * The /verify look-up for `idCount` device ids at once; its parameters are the ids, then the service name. It
 * starts from the service (a unique-key look-up) and joins each given device, its owner and their grant: one row
 * per device found, or one row without a device, or none when the service does not exist (`DEVICE_LOOKUP` then
 * answers, so a second round trip happens only for unknown names). Starting from a one-row derived table instead
 * would cover both cases at once, but costs MySQL more per query. A one-id IN list is planned as `=` by all three.
 */
export function verifyLookupSql(idCount: number, dialect: Dialect = 'sqlite'): string {
  if (!Number.isSafeInteger(idCount) || idCount < 1) throw new RangeError(`verifyLookupSql: idCount must be 1 or more, not ${idCount}`);
  let text = sqlByIdCount.get(`${dialect}:${idCount}`);
  if (text === undefined) {
    text = `
  SELECT ${DEVICE_WITH_USER_COLUMNS},
         s.id AS s_id, s.name AS s_name, s.token_hash AS s_token_hash, s.token_salt AS s_token_salt,
         s.token_alg AS s_token_alg, s.created_at AS s_created_at,
         g.scope AS g_scope, g.token_sealed AS g_token_sealed, g.created_at AS g_created_at,
         g.via_group AS g_via_group,
         (SELECT ${joined(dialect, 'ug.name')} FROM group_members gm JOIN user_groups ug ON ug.id = gm.group_id
           WHERE gm.user_id = u.id) AS u_groups,
         (SELECT ${joined(dialect, 'gg.scope')} FROM group_members gm2 JOIN group_grants gg ON gg.group_id = gm2.group_id
           WHERE gm2.user_id = u.id AND gg.service_id = s.id) AS g_group_scopes,
         (SELECT COUNT(*) FROM access_rules ar WHERE ar.service_id = s.id) AS s_rule_count
  FROM services s
  LEFT JOIN devices d ON d.id IN (${Array.from({ length: idCount }, () => '?').join(', ')})
  LEFT JOIN users u ON u.id = d.user_id
  LEFT JOIN grants g ON g.user_id = u.id AND g.service_id = s.id
  WHERE s.name = ?`;
    sqlByIdCount.set(`${dialect}:${idCount}`, text);
  }
  return text;
}

const DEVICE_LOOKUP = `
  SELECT ${DEVICE_WITH_USER_COLUMNS}
  FROM devices d
  JOIN users u ON u.id = d.user_id
  WHERE d.id = ?`;

/** The device and its owner, by exact id. */
export async function findDeviceWithUser(database: OpenDatabase, deviceId: string): Promise<{ device: Device; user: User } | undefined> {
  // The driver's rows are untyped; DEVICE_LOOKUP selects exactly a DeviceWithUserRow.
  const [row] = (await database.prepared(DEVICE_LOOKUP, [deviceId])) as DeviceWithUserRow[];
  return row && exact(row.d_id, deviceId) ? toDeviceWithUser(row) : undefined;
}

// An outer join found a row when its key column is not null; that row's other columns are then as the table holds them.
const hasDevice = (r: VerifyRow): r is VerifyRow & DeviceWithUserRow => r.d_id !== null && r.u_id !== null;
const hasService = (r: VerifyRow): r is VerifyRow & ServiceColumns => r.s_id !== null;
const hasGrant = (r: VerifyRow): r is VerifyRow & GrantColumns => r.g_token_sealed !== null;

function toVerifyLookup(r: VerifyRow & ServiceColumns, deviceId: string | undefined): VerifyLookup {
  const service = toService({
    id: r.s_id,
    name: r.s_name,
    token_hash: r.s_token_hash,
    token_salt: r.s_token_salt,
    token_alg: r.s_token_alg,
    created_at: r.s_created_at,
  });
  const ruleCount = Number(r.s_rule_count ?? 0);
  if (!hasDevice(r) || !exact(r.d_id, deviceId ?? '')) return { service, ruleCount };
  const found = toDeviceWithUser(r);
  const groups = r.u_groups === null || r.u_groups === '' ? [] : r.u_groups.split(',');
  const groupScopes = r.g_group_scopes === null ? [] : [r.g_group_scopes];
  const access = { service, ruleCount, groups, groupScopes };
  if (!hasGrant(r)) return { found, ...access };
  const grant = toGrant({
    user_id: found.user.id,
    service_id: service.id,
    scope: r.g_scope,
    token_sealed: r.g_token_sealed,
    created_at: r.g_created_at,
    last_seen_at: null,
    via_group: r.g_via_group,
  });
  return { found, ...access, grant };
}

export function createVerifyLookup(database: OpenDatabase): Store['lookupForVerify'] {
  // The driver's rows are untyped; verifyLookupSql selects exactly a VerifyRow.
  const run = (sql: string, params: readonly unknown[]) => database.prepared(sql, params) as Promise<VerifyRow[]>;
  const batcher = database.dialect === 'sqlite' ? undefined : createVerifyBatcher(run, 64, database.dialect);
  return async (deviceId, serviceName) => {
    if (serviceName !== undefined) {
      const row =
        batcher && deviceId !== undefined
          ? await batcher.load(deviceId, serviceName)
          : (await run(verifyLookupSql(1, database.dialect), [deviceId ?? '', serviceName]))[0];
      // PAD SPACE collations can match a name with trailing spaces: only an exact name counts as found.
      if (row && hasService(row) && exact(row.s_name, serviceName)) return toVerifyLookup(row, deviceId);
    }
    const found = deviceId === undefined ? undefined : await findDeviceWithUser(database, deviceId);
    return found ? { found } : {};
  };
}

interface Waiter {
  resolve(row: VerifyRow | undefined): void;
  reject(err: unknown): void;
}

/** The device-side columns: nulled to turn another device's row into "the service, no such device". */
const DEVICE_SIDE = /^(d_|u_|g_)/;

/**
 * Coalesces the cold-path look-ups that arrive together: with a networked database the round trip, not the query,
 * is the cost, and under load many requests wait for one at once. `load(deviceId, serviceName)` answers with the
 * verify row for that pair, or `undefined` when the service does not exist. Calls made before the event loop next
 * checks for I/O are sent together, as one query per service with the device ids in an IN list, padded to a
 * power of two so that only a few prepared statements exist.
 */
export function createVerifyBatcher(
  run: (sql: string, params: readonly unknown[]) => Promise<VerifyRow[]>,
  maxBatch = 64,
  dialect: Dialect = 'sqlite',
) {
  let pending = new Map<string, Map<string, Waiter[]>>();
  let scheduled = false;

  async function send(serviceName: string, ids: string[], byDevice: Map<string, Waiter[]>) {
    let size = 1;
    while (size < ids.length) size *= 2;
    const padded = [...ids, ...Array<string>(size - ids.length).fill('')]; // '' never matches a 32-hex id
    try {
      const rows = await run(verifyLookupSql(size, dialect), [...padded, serviceName]);
      for (const id of ids) {
        const own = rows.find((r) => r.d_id === id);
        let answer = own;
        if (!answer && rows[0]) {
          answer = Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, DEVICE_SIDE.test(k) ? null : v])) as VerifyRow;
        }
        for (const w of byDevice.get(id) ?? []) w.resolve(answer);
      }
    } catch (err) {
      for (const id of ids) for (const w of byDevice.get(id) ?? []) w.reject(err);
    }
  }

  function flush() {
    const batches = pending;
    pending = new Map();
    scheduled = false;
    for (const [serviceName, byDevice] of batches) {
      const ids = [...byDevice.keys()];
      for (let i = 0; i < ids.length; i += maxBatch) void send(serviceName, ids.slice(i, i + maxBatch), byDevice);
    }
  }

  return {
    load(deviceId: string, serviceName: string): Promise<VerifyRow | undefined> {
      return new Promise((resolve, reject) => {
        let byDevice = pending.get(serviceName);
        if (!byDevice) {
          byDevice = new Map();
          pending.set(serviceName, byDevice);
        }
        const waiters = byDevice.get(deviceId);
        if (waiters) waiters.push({ resolve, reject });
        else byDevice.set(deviceId, [{ resolve, reject }]);
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
  };
}
