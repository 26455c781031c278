// A reference deployment's database for the import tests: the reference's tables (reference-schema.sql) on the
// MySQL test server, filled the way the reference fills them. The formulas are written out here with node:crypto
// rather than taken from src/, so the import is checked against the reference's scheme and not against itself.
import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Connection, createConnection } from 'mysql2/promise';
import { generateSecret } from 'otplib';
import { inject } from 'vitest';
import { parseDatabaseUrl } from '../../src/config/database-url.js';
import { fernetEncrypt, newFernetKey } from './reference-fernet.js';

const SCHEMA = readFileSync(new URL('./reference-schema.sql', import.meta.url), 'utf8');

const hex16 = () => randomBytes(16).toString('hex');

export interface ReferenceDatabase {
  /** `mysql://…/<name>`, as an operator passes it to `--from`. */
  readonly url: string;
  readonly target: { host: string; port: number; user: string; password: string; database: string };
  /** The reference's TOTP_ENCRYPTION_KEY. */
  readonly fernetKey: string;
  readonly conn: Connection;
  /** A user as the admin tool adds one; the secret is what their authenticator app holds. */
  addUser(input: { email: string; username?: string | null; role?: string; createdAt?: string }): Promise<{ id: number; secret: string }>;
  /** A service as the admin tool adds one; the token is what the service sends as its Bearer token. */
  addService(name: string): Promise<{ id: number; token: string }>;
  /** A browser login: the cookies the reference set, as the browser sends them back. */
  addDevice(userId: number, deviceType: string | null, lastLogin?: string | null): Promise<{ deviceId: string; cookie: string }>;
  /** A UserService link; the token is what the service has seen as UserServiceToken. */
  addGrant(userId: number, serviceId: number, scope: string, lastLogin?: string | null): Promise<{ token: string }>;
  drop(): Promise<void>;
}

export async function createReferenceDatabase(): Promise<ReferenceDatabase> {
  const server = inject('mysqlUrl');
  const base = server ? parseDatabaseUrl(server) : undefined;
  if (base?.dialect !== 'mysql') throw new Error(`no MySQL server for the reference database (${server})`);
  const database = `pa_ref_${randomBytes(6).toString('hex')}`;
  const target = { host: base.host, port: base.port, user: base.user, password: base.password, database };
  const admin = await createConnection({ host: base.host, port: base.port, user: base.user, password: base.password });
  await admin.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  const conn = await createConnection({ ...target, charset: 'utf8mb4_unicode_ci', multipleStatements: true });
  await conn.query(SCHEMA);
  const fernetKey = newFernetKey();
  const insertId = (result: unknown) => (result as [{ insertId: number }])[0].insertId;

  return {
    url: (server as string).replace(/\/[^/?]*(\?.*)?$/, `/${database}`),
    target,
    fernetKey,
    conn,
    async addUser({ email, username = null, role = 'user', createdAt = '2024-03-01 09:00:00' }) {
      const secret = generateSecret();
      const r = await conn.execute('INSERT INTO `User` (Username, Email, Role, TOTPSecretEncrypted, CreationTime) VALUES (?, ?, ?, ?, ?)', [
        username,
        email,
        role,
        fernetEncrypt(fernetKey, secret),
        createdAt,
      ]);
      return { id: insertId(r), secret };
    },
    async addService(name) {
      const token = randomUUID();
      const salt = hex16();
      const hash = createHash('sha512')
        .update(token + salt, 'utf8')
        .digest('hex');
      const r = await conn.execute('INSERT INTO `Service` (ServiceName, ServiceTokenHash, HashSalt) VALUES (?, ?, ?)', [name, hash, salt]);
      return { id: insertId(r), token };
    },
    async addDevice(userId, deviceType, lastLogin = null) {
      const deviceId = hex16();
      const secret = hex16();
      const signature = createHmac('sha256', Buffer.from(secret, 'hex')).update(deviceId, 'ascii').digest('hex');
      await conn.execute('INSERT INTO `Device` (DeviceID, UserID, DeviceHMACSignature, DeviceType, LastLogin) VALUES (?, ?, ?, ?, ?)', [
        deviceId,
        userId,
        signature,
        deviceType,
        lastLogin,
      ]);
      return { deviceId, cookie: `device_id=${deviceId}; hmac_secret=${secret}` };
    },
    async addGrant(userId, serviceId, scope, lastLogin = null) {
      const token = randomUUID();
      await conn.execute(
        'INSERT INTO `UserService` (UserID, ServiceID, Scope, UserServiceTokenEncrypted, LastLogin) VALUES (?, ?, ?, ?, ?)',
        [userId, serviceId, scope, fernetEncrypt(fernetKey, token), lastLogin],
      );
      return { token };
    },
    async drop() {
      await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
      await conn.end();
    },
  };
}

/** A Fernet token with one character of its ciphertext changed, as a careless edit or an attacker would leave it. */
export function tamper(token: string): string {
  const i = 60;
  const c = token[i] === 'A' ? 'B' : 'A';
  return token.slice(0, i) + c + token.slice(i + 1);
}
