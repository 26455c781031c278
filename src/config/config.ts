// The only reader of the environment. Every variable is validated at start-up (variables.ts), defaults are filled
// in, every problem is reported together, and the result is frozen. Reading only: it creates no file and loads no
// database driver (the wiring in runtime.ts and local-key.ts does what needs doing).
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { type AllowedOrigin, parseAllowedOrigin } from '../core/allowed-origins.js';
import type { CacheOptions } from '../core/cache-options.js';
import type { EncryptionKey } from '../core/crypto.js';
import { type RelyingParty, relyingParty } from '../core/relying-party.js';
import { type DatabaseTarget, parseDatabaseUrl } from './database-url.js';
import { readKeys } from './keys.js';
import { DEFAULT_POOL_SIZE, parseVariables } from './variables.js';

type SameSite = 'Lax' | 'Strict' | 'None';

export interface Config {
  readonly production: boolean;
  readonly port: number;
  /** Listen address; `undefined` means all interfaces (IPv6 and IPv4). */
  readonly host: string | undefined;
  readonly database: DatabaseTarget;
  /** The database URL with any password masked, for messages. */
  readonly databaseLabel: string;
  /** Connections per instance to MySQL or PostgreSQL (DATABASE_POOL_SIZE, formerly MYSQL_POOL_SIZE). */
  readonly databasePoolSize: number;
  /** The first seals, all open. Empty only while `localKeyFile` is the key source and does not exist yet. */
  readonly encryptionKeys: readonly EncryptionKey[];
  /**
   * Outside production with no ENCRYPTION_KEYS or ENCRYPTION_KEY_FILE: the local key file the keys come from,
   * `encryption.key` next to the SQLite database file (`./data/encryption.key` by default; for MySQL, PostgreSQL
   * and an in-memory database `./data/encryption.key` in the working directory). The server and the CLI create it
   * when it is missing (local-key.ts); this only reads it.
   */
  readonly localKeyFile: string | undefined;
  /** Where the keys were read from, for messages: `ENCRYPTION_KEYS`, `ENCRYPTION_KEY_FILE (/path)`, the local key file. */
  readonly keySource: string;
  /** Absolute external URL of this service, as browsers reach it (the login page is `${publicUrl}/login`). */
  readonly publicUrl: string;
  /** PUBLIC_URL was not set: `publicUrl` is the default built from PORT, which only a browser on this machine reaches. */
  readonly publicUrlIsDefault: boolean;
  /** Where a browser goes after login (or when already logged in) without a valid return URL. */
  readonly landingUrl: string;
  readonly cookie: {
    readonly domain: string | undefined;
    readonly lifetimeInDays: number;
    readonly sameSite: SameSite;
    readonly secure: boolean;
  };
  /** Plain-http development mode: no `Secure` on cookies, http return URLs allowed. Never in production. */
  readonly insecureHttp: boolean;
  /** Peers (IPs or CIDRs) whose X-Forwarded-* headers are believed. */
  readonly trustedProxies: readonly string[];
  /** Hosts a return URL may point to; a leading dot means the domain and its subdomains. */
  readonly allowedOrigins: readonly AllowedOrigin[];
  readonly totpIssuer: string;
  /** How long an invite link works. */
  readonly inviteLifetimeInHours: number;
  /** How recent a device's sign-in must be to change how its account signs in (see `Devices.signedInRecently`). */
  readonly freshSignInInMs: number;
  /** Who passkeys belong to; `undefined` when passkeys are off (PUBLIC_URL names an IP address, see relying-party.ts). */
  readonly relyingParty: RelyingParty | undefined;
  /** When set, /metrics needs this bearer token. */
  readonly metricsToken: string | undefined;
  readonly cache: CacheOptions;
  /** Server processes sharing the port (node:cluster); 1 = one process, no primary. `auto` is resolved here. */
  readonly workers: number;
  /** How often the change feed is read (on PostgreSQL, NOTIFY brings changes sooner). */
  readonly changePollInMs: number;
  /** "Last seen" times are written at most once per device and grant per this interval; 0 = never. */
  readonly lastSeenIntervalInMs: number;
  /** /verify fails closed (503) when the database has not answered within this time. */
  readonly verifyDeadlineInMs: number;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The local key file's name, next to the SQLite database file; in `./data/` of the working directory otherwise. */
const LOCAL_KEY_FILE = 'encryption.key';

export interface LoadOptions {
  /** The environment; `process.env` merged over `.env` in `cwd` by default. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
}

export interface Loaded {
  readonly config: Config;
  /** Things worth telling the operator at start-up (never secrets). */
  readonly notices: readonly string[];
}

/** `.env` in `cwd` with `env` (the process environment) over it: what the server and the CLI both read. */
export function readEnvironment(
  cwd = process.cwd(),
  env: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string | undefined> {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...env };
}

export function loadConfig(options: LoadOptions = {}): Loaded {
  const cwd = options.cwd ?? process.cwd();
  const { values: e, problems, bad } = parseVariables(options.env ?? readEnvironment(cwd));
  /**
   * A problem found by a check across variables; none when a variable it names or derives from (`from`) had its
   * own value reported already.
   */
  const problem = (name: string, message: string, from: readonly string[] = []) => {
    if (![...name.split('/'), ...from].some((n) => bad.has(n))) problems.push(`${name}: ${message}`);
  };
  const notices: string[] = [];
  const production = e.NODE_ENV === 'production';

  // Database: DATABASE_URL, else the reference's DB_* names, else embedded SQLite.
  let databaseUrl = bad.has('DATABASE_URL') ? undefined : e.DATABASE_URL;
  if (!databaseUrl && e.DB_HOST && !bad.has('DATABASE_URL')) {
    if (!e.MYSQL_DATABASE) problem('MYSQL_DATABASE', 'required with DB_HOST');
    const auth = `${encodeURIComponent(e.DB_USER ?? 'root')}${e.DB_PASSWORD ? `:${encodeURIComponent(e.DB_PASSWORD)}` : ''}`;
    databaseUrl = `mysql://${auth}@${e.DB_HOST}:${e.DB_PORT ?? 3306}/${encodeURIComponent(e.MYSQL_DATABASE ?? '')}`;
  }
  databaseUrl ??= 'sqlite:./data/auth.db';
  let database = parseDatabaseUrl(databaseUrl);
  if (!database) problem('DB_HOST/DB_PORT/DB_USER/MYSQL_DATABASE', 'do not form a valid MySQL address');
  if (database?.dialect === 'sqlite' && database.path !== ':memory:') database = { ...database, path: resolve(cwd, database.path) };
  if (e.DATABASE_POOL_SIZE !== undefined && e.MYSQL_POOL_SIZE !== undefined && e.DATABASE_POOL_SIZE !== e.MYSQL_POOL_SIZE)
    problem('DATABASE_POOL_SIZE/MYSQL_POOL_SIZE', 'both are set and differ; MYSQL_POOL_SIZE is the old name, keep DATABASE_POOL_SIZE');

  // Encryption keys: ENCRYPTION_KEYS and/or ENCRYPTION_KEY_FILE; outside production, else the local key file.
  const keys: EncryptionKey[] = [];
  const keyProblems: string[] = [];
  if (e.ENCRYPTION_KEYS) readKeys('ENCRYPTION_KEYS', e.ENCRYPTION_KEYS, production, keys, keyProblems);
  if (e.ENCRYPTION_KEY_FILE) {
    const file = resolve(cwd, e.ENCRYPTION_KEY_FILE);
    const text = readKeyFile(file, 'ENCRYPTION_KEY_FILE', keyProblems);
    if (text !== undefined) readKeys('ENCRYPTION_KEY_FILE', text, production, keys, keyProblems);
  }
  let localKeyFile: string | undefined;
  if (keys.length === 0 && keyProblems.length === 0) {
    if (production) {
      keyProblems.push('ENCRYPTION_KEYS: required in production (NODE_ENV=production); the service will not invent keys there');
    } else {
      // Next to the database it opens, so that running from another directory finds the same key.
      localKeyFile =
        database?.dialect === 'sqlite' && database.path !== ':memory:'
          ? resolve(dirname(database.path), LOCAL_KEY_FILE)
          : resolve(cwd, 'data', LOCAL_KEY_FILE);
      if (existsSync(localKeyFile)) {
        const text = readKeyFile(localKeyFile, `the local key file ${localKeyFile}`, keyProblems);
        if (text !== undefined) readKeys(localKeyFile, text, production, keys, keyProblems);
      }
    }
  }
  problems.push(...keyProblems);

  // URLs and cookies.
  const port = e.PORT;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const landingUrl = e.LANDING_URL ?? e.login_redirect ?? `${publicUrl}/`;
  const insecureHttp = e.INSECURE_HTTP;
  if (production && insecureHttp) problem('INSECURE_HTTP', 'not allowed in production');
  const rawDomain = (e.COOKIE_DOMAIN ?? e.cookie_domain ?? '').trim().toLowerCase().replace(/^\./, '');
  if (rawDomain && !DOMAIN.test(rawDomain)) problem('COOKIE_DOMAIN', 'must be a domain name such as example.com');
  const sameSite = e.COOKIE_SAMESITE as SameSite;
  if (sameSite === 'None' && insecureHttp) problem('COOKIE_SAMESITE', 'None needs Secure cookies, so it cannot go with INSECURE_HTTP');
  // LANDING_URL defaults to PUBLIC_URL/, and PUBLIC_URL to one built from PORT.
  const derivedFrom = e.LANDING_URL || e.login_redirect ? [] : ['PUBLIC_URL', 'PORT'];
  for (const [name, url, from] of [
    ['PUBLIC_URL', publicUrl, e.PUBLIC_URL ? [] : ['PORT']],
    ['LANDING_URL', landingUrl, derivedFrom],
  ] as const) {
    if (!insecureHttp && new URL(url).protocol !== 'https:' && production) problem(name, 'must be https in production', from);
  }

  const trustedProxies = e.TRUSTED_PROXIES;
  for (const p of trustedProxies) {
    const [addr, bits, extra] = p.split('/');
    const family = isIP(addr ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      problem('TRUSTED_PROXIES', `${p} is not an IP address or CIDR range`);
    }
  }

  // Origins, not hosts: PUBLIC_URL's and LANDING_URL's (their scheme and port), and the cookie domain's subdomains
  // on the default port, unless REDIRECT_ALLOWED_HOSTS names the list.
  const defaultOrigins = [new URL(publicUrl).origin, new URL(landingUrl).origin, ...(rawDomain ? [`.${rawDomain}`] : [])];
  const allowedOrigins: AllowedOrigin[] = [];
  for (const entry of new Set(e.REDIRECT_ALLOWED_HOSTS ?? defaultOrigins)) {
    const origin = parseAllowedOrigin(entry);
    if (!origin) {
      problem(
        'REDIRECT_ALLOWED_HOSTS',
        `${entry} is not a host (example.com, .example.com for subdomains, either with :port) or an origin (https://example.com:8443)`,
      );
    } else if (production && origin.scheme === 'http:' && e.REDIRECT_ALLOWED_HOSTS) {
      // (The defaults come from PUBLIC_URL and LANDING_URL, which are checked above.)
      problem('REDIRECT_ALLOWED_HOSTS', `${entry} is plain http; not allowed in production`);
    } else allowedOrigins.push(origin);
  }

  // Passkeys: the relying party from PUBLIC_URL and COOKIE_DOMAIN. A PUBLIC_URL left to its default (the reference's
  // .env has none) turns passkeys off instead of failing.
  const rp = relyingParty({ publicUrl, cookieDomain: rawDomain || undefined, insecureHttp, name: e.TOTP_ISSUER });
  if ('problem' in rp && e.PUBLIC_URL !== undefined) problem('COOKIE_DOMAIN', rp.problem, ['PUBLIC_URL']);
  else if ('problem' in rp) notices.push(`COOKIE_DOMAIN: ${rp.problem}; passkeys are off until PUBLIC_URL is set`);
  if ('unavailable' in rp) notices.push(rp.unavailable);

  if (problems.length > 0 || !database) throw new ConfigError(problems);
  if (insecureHttp) {
    notices.push(
      'INSECURE_HTTP=true: cookies are sent WITHOUT the Secure flag and http return URLs are accepted. For local development only.',
    );
  }

  const config: Config = {
    production,
    port,
    host: e.HOST || undefined,
    database,
    databaseLabel: databaseUrl.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@'),
    databasePoolSize: e.DATABASE_POOL_SIZE ?? e.MYSQL_POOL_SIZE ?? DEFAULT_POOL_SIZE,
    encryptionKeys: keys,
    localKeyFile,
    keySource: [
      ...(e.ENCRYPTION_KEYS ? ['ENCRYPTION_KEYS'] : []),
      ...(e.ENCRYPTION_KEY_FILE ? [`ENCRYPTION_KEY_FILE (${resolve(cwd, e.ENCRYPTION_KEY_FILE)})`] : []),
      ...(localKeyFile ? [`the local key file ${localKeyFile}`] : []),
    ].join(' and '),
    publicUrl,
    publicUrlIsDefault: e.PUBLIC_URL === undefined,
    landingUrl,
    cookie: {
      domain: rawDomain || undefined,
      lifetimeInDays: e.COOKIE_LIFETIME_DAYS ?? e.cookie_lifetime_days ?? 90,
      sameSite,
      secure: !insecureHttp,
    },
    insecureHttp,
    trustedProxies,
    allowedOrigins,
    totpIssuer: e.TOTP_ISSUER,
    inviteLifetimeInHours: e.INVITE_LIFETIME_HOURS,
    freshSignInInMs: e.FRESH_SIGN_IN_MINUTES * 60_000,
    relyingParty: 'relyingParty' in rp ? rp.relyingParty : undefined,
    metricsToken: e.METRICS_TOKEN || undefined,
    cache: {
      positiveTtlInMs: e.VERIFY_CACHE_TTL_SECONDS * 1000,
      // Never longer than the TTL itself.
      fallbackTtlInMs: Math.min(e.VERIFY_CACHE_FALLBACK_TTL_SECONDS, e.VERIFY_CACHE_TTL_SECONDS) * 1000,
      positiveMaxEntries: e.VERIFY_CACHE_MAX_ENTRIES,
      negativeTtlInMs: e.NEGATIVE_CACHE_TTL_SECONDS * 1000,
      negativeMaxEntries: e.NEGATIVE_CACHE_MAX_ENTRIES,
    },
    changePollInMs: e.CHANGE_POLL_MS,
    // `auto`: the cores this process may use (its CPU affinity), as the Go gates do.
    workers: e.WORKERS === 'auto' ? availableParallelism() : Number(e.WORKERS),
    lastSeenIntervalInMs: e.LAST_SEEN_INTERVAL_SECONDS * 1000,
    verifyDeadlineInMs: e.VERIFY_DEADLINE_MS,
    logLevel: e.LOG_LEVEL,
  };
  return { config: deepFreeze(config), notices };
}

/** A key file's text, or `undefined` with a problem saying what is wrong with it and what to do. */
function readKeyFile(file: string, name: string, problems: string[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push(
      code === 'ENOENT'
        ? `${name}: ${file} does not exist`
        : code === 'EISDIR'
          ? `${name}: ${file} is a directory; name the key file itself`
          : `${name}: ${file} cannot be read (${code ?? 'error'}): make it readable for the user the service runs as`,
    );
    return undefined;
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}
