// What of an error may be shown: in log lines and in the command line's messages.
import { pino } from 'pino';

/**
 * Errors for the log. A database driver's error carries the SQL it ran with the values filled in (mysql2's `sql`),
 * or the offending value in its message (duplicate keys, pg's `detail`): device ids, signatures, emails. Those keep
 * only their codes.
 */
export function safeError(err: unknown) {
  const e = err as Record<string, unknown> | null;
  if (e && typeof e === 'object' && ('sql' in e || 'sqlState' in e || 'sqlMessage' in e || 'detail' in e)) {
    return { type: (e.constructor as { name?: string })?.name ?? 'Error', code: e.code, errno: e.errno, sqlState: e.sqlState };
  }
  return pino.stdSerializers.err(err as Error);
}

/** A one-line message for people: a driver error becomes its code, never its SQL or the values in it. */
export function safeMessage(err: unknown): string {
  const safe: unknown = safeError(err);
  if (safe === null || typeof safe !== 'object') return String(safe);
  if ('message' in safe && typeof safe.message === 'string') return safe.message;
  if (!('code' in safe)) return String(err);
  return `database error${safe.code ? ` ${String(safe.code)}` : ''}`;
}
