// What went wrong at start-up, for the person who started it: the cause and the fix in one or two lines instead of
// a driver's message or a stack trace (the server and the CLI both say it; the stack only at LOG_LEVEL=debug).
import type { Config } from './config/config.js';
import { safeMessage } from './logging.js';

interface SystemError {
  readonly code?: unknown;
  readonly syscall?: unknown;
  readonly address?: unknown;
  readonly port?: unknown;
  readonly path?: unknown;
  readonly message?: unknown;
}

const where = (config: Config | undefined) => {
  if (!config) return 'the database';
  if (config.database.dialect === 'sqlite') return `the SQLite database ${config.database.path}`;
  return `the database at ${config.databaseLabel}`;
};

/**
 * The cause and what to do about it, or `undefined` for an error this does not recognise (the caller then shows
 * its message). `config` is the configuration in use, when it was read.
 */
export function explainStartUpError(err: unknown, config?: Config): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as SystemError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const path = typeof e.path === 'string' ? e.path : undefined;

  // A cluster worker's listen fails in the primary's bind, and is reported to the worker with that syscall.
  if (e.syscall === 'listen' || e.syscall === 'bind') {
    const address =
      typeof e.address === 'string' && e.address !== '::' && e.address !== '0.0.0.0'
        ? `${e.address.includes(':') ? `[${e.address}]` : e.address}:${String(e.port)}`
        : `port ${String(e.port ?? config?.port)} (on every address)`;
    if (code === 'EADDRINUSE')
      return `${address} is already in use (another passwordless-auth still running, or another server).\n  Stop that one, or set PORT (and HOST) to listen elsewhere.`;
    if (code === 'EACCES')
      return `not allowed to listen on ${address} (ports below 1024 need privileges).\n  Set PORT to 1024 or above, and let the proxy in front listen on 80/443.`;
    if (code === 'EADDRNOTAVAIL')
      return `${address}: HOST is not an address of this machine.\n  Set HOST to one of its addresses, or leave it empty for all of them.`;
  }

  // SQLite (better-sqlite3) and the file system around it: the data directory and the database file.
  if (code === 'SQLITE_CANTOPEN')
    return `${where(config)} cannot be opened: its directory or file is not readable and writable for this user.\n  Fix the permissions, or point DATABASE_URL elsewhere.`;
  if (code?.startsWith('SQLITE_READONLY'))
    return `${where(config)} is read-only for this user (the file, its directory, or the file system).\n  Make the file and its directory writable (SQLite writes journal files next to it), or point DATABASE_URL elsewhere.`;
  if ((code === 'EACCES' || code === 'EPERM' || code === 'EROFS') && path)
    return `cannot write ${path} (${code === 'EROFS' ? 'read-only file system' : 'permission denied'}).\n  Make it writable for this user, or set DATABASE_URL (and ENCRYPTION_KEYS) so that nothing needs writing there.`;
  if ((code === 'EEXIST' || code === 'ENOTDIR') && path)
    return `${path} is in the way: a file where a directory should be.\n  Move it, or point DATABASE_URL elsewhere.`;

  // MySQL (mysql2) and PostgreSQL (pg).
  if (code === 'ECONNREFUSED')
    return `${where(config)} refused the connection: nothing listens there.\n  Start the database, or check the host and port in DATABASE_URL.`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN')
    return `${where(config)}: its host name does not resolve.\n  Check the host in DATABASE_URL.`;
  if (code === 'ETIMEDOUT' || code === 'ECONNRESET' || (typeof e.message === 'string' && /timeout/i.test(e.message) && !code))
    return `${where(config)} did not answer in time.\n  Check that it runs and that a firewall lets this host reach it, then the address in DATABASE_URL.`;
  if (code?.startsWith('ER_ACCESS_DENIED') || code === '28P01' || code === '28000')
    return `${where(config)} refused the user name or password.\n  Check them in DATABASE_URL (sql/mysql/setup-user.sql and sql/postgres/README.md create the account).`;
  if (code === 'ER_BAD_DB_ERROR' || code === '3D000')
    return `${where(config)}: that database does not exist on the server.\n  Create it (see sql/mysql/setup-user.sql or sql/postgres/README.md), or fix its name in DATABASE_URL.`;
  if (code === 'ER_DBACCESS_DENIED_ERROR' || code === 'ER_TABLEACCESS_DENIED_ERROR' || code === '42501')
    return `${where(config)}: the user may not create or change the tables.\n  Grant what sql/mysql/setup-user.sql or sql/postgres/README.md grants, then start again.`;
  return undefined;
}

/** The line(s) the server prints when it cannot start: the cause and the fix, or the error's own safe message. */
export function startUpFailure(err: unknown, config?: Config): string {
  return explainStartUpError(err, config) ?? safeMessage(err);
}

/** The server could not start; the message says why and what to do, `cause` is the original error. */
export class StartUpError extends Error {
  override readonly name = 'StartUpError';
}
