// What may be shown in log lines and in the command line's messages: errors without their SQL or values, and paths
// without an invite link's token. Every logger is made here, so every line passes the same masks.
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

const ENROLL = /enroll/i;
const PERCENT_BYTE = /%([0-9a-f]{2})/gi;

/**
 * A path (or URL) as log lines show it: an invite link's token is a credential, so whatever follows an `enroll`
 * segment is `<token>`, however the path is spelled (`//login//enroll/…`, `/LOGIN/enroll/…`, percent-encoded once or
 * more). Only the passkey ceremony's own suffixes stay. Anything else is returned as it is.
 */
function loggedPath(path: string): string {
  let decoded = path;
  // Byte by byte, never failing on a malformed sequence: only ASCII `enroll` has to be recognised.
  for (let i = 0; i < 4 && decoded.includes('%'); i++)
    decoded = decoded.replace(PERCENT_BYTE, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  const at = decoded.search(ENROLL);
  if (at < 0) return path;
  const suffix = /\/passkey\/(options|verify)\/?$/i.exec(decoded)?.[0] ?? '';
  return `${decoded.slice(0, at + 'enroll'.length)}/<token>${suffix}`;
}

/** Every string field that reads as a path or URL goes through `loggedPath`. */
function maskPaths(object: Record<string, unknown>): Record<string, unknown> {
  let masked: Record<string, unknown> | undefined;
  for (const key in object) {
    const value = object[key];
    if (typeof value !== 'string' || !(value.startsWith('/') || value.includes('://'))) continue;
    const shown = loggedPath(value);
    if (shown !== value) {
      masked ??= { ...object };
      masked[key] = shown;
    }
  }
  return masked ?? object;
}

/**
 * The one way a logger is made (the server's, the command line's audit lines, tests'): errors through `safeError`,
 * and every line's paths through `loggedPath`, whatever the field is called.
 */
export function createLogger(options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const withMasks: LoggerOptions = {
    ...options,
    serializers: { err: safeError, ...options.serializers },
    formatters: { ...options.formatters, log: (object) => maskPaths(options.formatters?.log ? options.formatters.log(object) : object) },
  };
  return destination ? pino(withMasks, destination) : pino(withMasks);
}

/**
 * Errors for the log. A database driver's error carries the SQL it ran with the values filled in (mysql2's `sql`),
 * or the offending value in its message (duplicate keys, pg's `detail`): device ids, signatures, emails. Those keep
 * only their codes.
 */
function safeError(err: unknown) {
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
