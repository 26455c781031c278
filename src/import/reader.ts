// Reads a running reference deployment's MySQL/MariaDB tables (`User`, `Device`, `Service`, `UserService`) for
// the importer. SELECTs only, all four in one read-only REPEATABLE READ transaction, so the snapshot is
// consistent even while the reference keeps serving.
import { Kysely, MysqlDialect } from 'kysely';
import { createPool } from 'mysql2';
import type { ReferenceSnapshot, ReferenceSource } from './reference.js';

/** The reference's tables as its SQL files create them (see REFERENCE.md); DATETIMEs arrive as text. */
interface ReferenceDatabase {
  User: {
    UserID: number;
    Username: string | null;
    Email: string | null;
    Role: string;
    TOTPSecretEncrypted: string | null;
    CreationTime: string | null;
  };
  Device: {
    DeviceID: string;
    UserID: number;
    DeviceHMACSignature: string;
    DeviceType: string | null;
    LastLogin: string | null;
  };
  Service: {
    ServiceID: number;
    ServiceName: string;
    ServiceTokenHash: string;
    HashSalt: string;
    CreationTime: string | null;
  };
  UserService: {
    UserID: number;
    ServiceID: number;
    Scope: string;
    UserServiceTokenEncrypted: string;
    LastLogin: string | null;
  };
}

const DATETIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * A DATETIME as epoch milliseconds, read as UTC: the reference stores naive times, and its container runs in
 * UTC. `null` for NULL and for MySQL's zero date.
 */
function referenceTime(value: string | null): number | null {
  const m = value === null ? null : DATETIME.exec(value);
  if (!m) return null;
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0] = m.slice(1, 7).map(Number);
  if (y === 0 || mo === 0 || d === 0) return null;
  return Date.UTC(y, mo - 1, d, h, mi, s, Number((m[7] ?? '').padEnd(3, '0').slice(0, 3)));
}

export interface ReferenceReader extends ReferenceSource {
  close(): Promise<void>;
}

/** Where the reference's database is: the parts of a `mysql://` URL. */
export interface ReferenceConnection {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export function openReferenceReader(target: ReferenceConnection): ReferenceReader {
  const pool = createPool({
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    // The reference's own collation; the importer compares nothing in SQL, so it only decides the text encoding.
    charset: 'utf8mb4_unicode_ci',
    dateStrings: true,
    connectionLimit: 1,
    connectTimeout: 10_000,
  });
  const db = new Kysely<ReferenceDatabase>({ dialect: new MysqlDialect({ pool }) });
  return {
    async snapshot(): Promise<ReferenceSnapshot> {
      return db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute(async (trx) => {
          const users = await trx
            .selectFrom('User')
            .select(['UserID', 'Username', 'Email', 'Role', 'TOTPSecretEncrypted', 'CreationTime'])
            .orderBy('UserID')
            .execute();
          const services = await trx
            .selectFrom('Service')
            .select(['ServiceID', 'ServiceName', 'ServiceTokenHash', 'HashSalt', 'CreationTime'])
            .orderBy('ServiceID')
            .execute();
          const devices = await trx
            .selectFrom('Device')
            .select(['DeviceID', 'UserID', 'DeviceHMACSignature', 'DeviceType', 'LastLogin'])
            .orderBy('DeviceID')
            .execute();
          const grants = await trx
            .selectFrom('UserService')
            .select(['UserID', 'ServiceID', 'Scope', 'UserServiceTokenEncrypted', 'LastLogin'])
            .orderBy('UserID')
            .orderBy('ServiceID')
            .execute();
          return {
            users: users.map((r) => ({
              id: Number(r.UserID),
              username: r.Username,
              email: r.Email,
              role: r.Role,
              totpSecretEncrypted: r.TOTPSecretEncrypted,
              createdAt: referenceTime(r.CreationTime),
            })),
            services: services.map((r) => ({
              id: Number(r.ServiceID),
              name: r.ServiceName,
              tokenHash: r.ServiceTokenHash,
              salt: r.HashSalt,
              createdAt: referenceTime(r.CreationTime),
            })),
            devices: devices.map((r) => ({
              id: r.DeviceID,
              userId: Number(r.UserID),
              signature: r.DeviceHMACSignature,
              deviceType: r.DeviceType,
              lastLoginAt: referenceTime(r.LastLogin),
            })),
            grants: grants.map((r) => ({
              userId: Number(r.UserID),
              serviceId: Number(r.ServiceID),
              scope: r.Scope,
              tokenEncrypted: r.UserServiceTokenEncrypted,
              lastLoginAt: referenceTime(r.LastLogin),
            })),
          };
        });
    },
    async close() {
      await db.destroy();
    },
  };
}
