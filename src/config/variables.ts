// Every environment variable the service reads, each with its own valibot schema and default. Each is checked on
// its own, so one bad value never hides another: config.ts gets every value that is good and a problem line for
// every one that is not, then checks how they go together.
import { isIP } from 'node:net';
import * as v from 'valibot';
import { DEFAULT_CACHE_OPTIONS } from '../core/cache-options.js';
import { FRESH_SIGN_IN_IN_MS } from '../core/devices.js';
import { parseDatabaseUrl } from './database-url.js';

const boolish = v.pipe(
  v.string(),
  v.trim(),
  v.toLowerCase(),
  v.picklist(['true', 'false', '1', '0', 'yes', 'no', ''], 'must be true or false'),
  v.transform((s) => s === 'true' || s === '1' || s === 'yes'),
);
const intIn = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.trim(),
    v.regex(/^\d+$/, 'must be a whole number'),
    v.toNumber(),
    v.minValue(min, `must be at least ${min}`),
    v.maxValue(max, `must be at most ${max}`),
  );
const absoluteHttpUrl = v.pipe(
  v.string(),
  v.trim(),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an absolute http(s) URL'),
);
const list = v.pipe(
  v.string(),
  v.transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
  ),
);
/** A default in seconds, as the variable's text, from a value in milliseconds. */
const seconds = (ms: number) => String(ms / 1000);

export const DEFAULT_POOL_SIZE = 10;

const VARIABLES = {
  NODE_ENV: v.optional(v.string(), 'development'),
  PORT: v.optional(intIn(1, 65535), '8080'),
  HOST: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => s === '' || isIP(s) !== 0 || s === 'localhost', 'must be an IP address'),
    ),
  ),
  DATABASE_URL: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check(
        (s) => parseDatabaseUrl(s) !== undefined,
        'must look like sqlite:./data/auth.db, mysql://user:pass@host:3306/db or postgres://user:pass@host:5432/db',
      ),
    ),
  ),
  DB_HOST: v.optional(v.string()),
  DB_PORT: v.optional(intIn(1, 65535)),
  DB_USER: v.optional(v.string()),
  DB_PASSWORD: v.optional(v.string()),
  MYSQL_DATABASE: v.optional(v.string()),
  DATABASE_POOL_SIZE: v.optional(intIn(1, 500)),
  /** The old name of DATABASE_POOL_SIZE, from when MySQL was the only server database. */
  MYSQL_POOL_SIZE: v.optional(intIn(1, 500)),
  ENCRYPTION_KEYS: v.optional(v.string()),
  ENCRYPTION_KEY_FILE: v.optional(v.string()),
  PUBLIC_URL: v.optional(absoluteHttpUrl),
  LANDING_URL: v.optional(absoluteHttpUrl),
  login_redirect: v.optional(absoluteHttpUrl),
  COOKIE_DOMAIN: v.optional(v.string()),
  cookie_domain: v.optional(v.string()),
  COOKIE_LIFETIME_DAYS: v.optional(intIn(1, 400)),
  cookie_lifetime_days: v.optional(intIn(1, 400)),
  COOKIE_SAMESITE: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.transform((s) => s.charAt(0).toUpperCase() + s.slice(1).toLowerCase()),
      v.picklist(['Lax', 'Strict', 'None'], 'must be Lax, Strict or None'),
    ),
    'Lax',
  ),
  INSECURE_HTTP: v.optional(boolish, 'false'),
  TRUSTED_PROXIES: v.optional(list, '127.0.0.1,::1'),
  REDIRECT_ALLOWED_HOSTS: v.optional(list),
  METRICS_TOKEN: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.check((s) => s === '' || s.length >= 16, 'must be at least 16 characters (or empty for no token)'),
    ),
  ),
  TOTP_ISSUER: v.optional(v.pipe(v.string(), v.trim(), v.minLength(1), v.maxLength(64)), 'passwordless-auth'),
  INVITE_LIFETIME_HOURS: v.optional(intIn(1, 720), '72'),
  FRESH_SIGN_IN_MINUTES: v.optional(intIn(1, 1440), String(FRESH_SIGN_IN_IN_MS / 60_000)),
  VERIFY_CACHE_TTL_SECONDS: v.optional(intIn(0, 3600), seconds(DEFAULT_CACHE_OPTIONS.positiveTtlInMs)),
  VERIFY_CACHE_FALLBACK_TTL_SECONDS: v.optional(intIn(0, 3600), seconds(DEFAULT_CACHE_OPTIONS.fallbackTtlInMs)),
  CHANGE_POLL_MS: v.optional(intIn(10, 1000), '250'),
  VERIFY_CACHE_MAX_ENTRIES: v.optional(intIn(0, 10_000_000), String(DEFAULT_CACHE_OPTIONS.positiveMaxEntries)),
  NEGATIVE_CACHE_TTL_SECONDS: v.optional(intIn(0, 86_400), seconds(DEFAULT_CACHE_OPTIONS.negativeTtlInMs)),
  NEGATIVE_CACHE_MAX_ENTRIES: v.optional(intIn(0, 10_000_000), String(DEFAULT_CACHE_OPTIONS.negativeMaxEntries)),
  LAST_SEEN_INTERVAL_SECONDS: v.optional(intIn(0, 86_400), '300'),
  VERIFY_DEADLINE_MS: v.optional(intIn(50, 60_000), '2000'),
  WORKERS: v.optional(
    v.pipe(
      v.string(),
      v.trim(),
      v.toLowerCase(),
      v.check(
        (s) => s === 'auto' || (/^\d+$/.test(s) && Number(s) >= 1 && Number(s) <= 1023),
        'must be auto or a whole number from 1 to 1023',
      ),
    ),
    'auto',
  ),
  LOG_LEVEL: v.optional(
    v.picklist(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'must be one of fatal, error, warn, info, debug, trace, silent',
    ),
    'info',
  ),
} as const;

export type Variables = { readonly [K in keyof typeof VARIABLES]: v.InferOutput<(typeof VARIABLES)[K]> };

/**
 * Every variable, each checked on its own. A bad one gets a problem line and its default (or nothing), and is
 * listed in `bad`, so later checks can leave it alone instead of reporting it twice.
 */
export function parseVariables(env: Readonly<Record<string, string | undefined>>): {
  values: Variables;
  problems: string[];
  bad: ReadonlySet<string>;
} {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  const bad = new Set<string>();
  for (const [name, schema] of Object.entries(VARIABLES) as [string, v.GenericSchema<string | undefined, unknown>][]) {
    const parsed = v.safeParse(schema, env[name]);
    if (parsed.success) {
      values[name] = parsed.output;
    } else {
      for (const issue of parsed.issues) problems.push(`${name}: ${issue.message}`);
      bad.add(name);
      values[name] = v.parse(schema, undefined);
    }
  }
  return { values: values as Variables, problems, bad };
}
