// What DATABASE_URL may say: embedded SQLite, MySQL/MariaDB or PostgreSQL. Only parsing: opening the database
// (and loading its driver) is store/database.ts's business, so reading the configuration loads no driver.

export type DatabaseTarget =
  | { readonly dialect: 'sqlite'; readonly path: string }
  | {
      readonly dialect: 'mysql' | 'postgres';
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password: string;
      readonly database: string;
    };

const SERVERS: Readonly<Record<string, { dialect: 'mysql' | 'postgres'; port: number; user: string }>> = {
  'mysql:': { dialect: 'mysql', port: 3306, user: 'root' },
  'mariadb:': { dialect: 'mysql', port: 3306, user: 'root' },
  'postgres:': { dialect: 'postgres', port: 5432, user: 'postgres' },
  'postgresql:': { dialect: 'postgres', port: 5432, user: 'postgres' },
};

/**
 * `sqlite:./data/auth.db`, `sqlite::memory:`, `mysql://user:pass@host:3306/db` or
 * `postgres://user:pass@host:5432/db` (also `mariadb://`, `postgresql://`); `undefined` if none of them.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget | undefined {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return path === '' ? undefined : { dialect: 'sqlite', path };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  const server = SERVERS[parsed.protocol];
  if (!server) return undefined;
  // No PostgreSQL connection options are supported yet; refusing them beats silently ignoring `?sslmode=require`.
  if (server.dialect === 'postgres' && parsed.search !== '') return undefined;
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!parsed.hostname || !database || database.includes('/')) return undefined;
  return {
    dialect: server.dialect,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : server.port,
    user: decodeURIComponent(parsed.username) || server.user,
    password: decodeURIComponent(parsed.password),
    database,
  };
}
