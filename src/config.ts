// The only file that reads the environment. Every variable is validated with valibot at start-up, defaults are
// filled in, every problem is reported together, and the result is frozen.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import * as v from 'valibot';
import { type AllowedOrigin, parseAllowedOrigin } from './core/allowed-origins.js';
import type { EncryptionKey } from './core/crypto.js';
import { type RelyingParty, relyingParty } from './core/relying-party.js';
import type { CacheOptions } from './core/verify-cache.js';
import { type DatabaseTarget, parseDatabaseUrl } from './store/database.js';

type SameSite = 'Lax' | 'Strict' | 'None';

export interface Config {
  readonly production: boolean;
  readonly port: number;
  /** Listen address; `undefined` means all interfaces (IPv6 and IPv4). */
  readonly host: string | undefined;
  readonly database: DatabaseTarget;
  /** The database URL with any password masked, for messages. */
  readonly databaseLabel: string;
  readonly mysqlPoolSize: number;
  readonly encryptionKeys: readonly EncryptionKey[];
  /** Absolute external URL of this service, as browsers reach it (the login page is `${publicUrl}/login`). */
  readonly publicUrl: string;
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
  /** Origins a return URL may point to and whose pages may post the forms (REDIRECT_ALLOWED_HOSTS). */
  readonly allowedOrigins: readonly AllowedOrigin[];
  readonly totpIssuer: string;
  /** How long an invite link works. */
  readonly inviteLifetimeInHours: number;
  /** Who passkeys belong to; `undefined` when PUBLIC_URL names an IP address (passkeys are off then). */
  readonly relyingParty: RelyingParty | undefined;
  /** When set, /metrics needs this bearer token. */
  readonly metricsToken: string | undefined;
  readonly cache: CacheOptions;
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

/**
 * Keys published in `.env.testing`. They protect nothing, so production refuses them. Listed by value on
 * purpose: the check must work where `.env.testing` is not shipped (the Docker image).
 */
const PUBLIC_TEST_KEYS = ['Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg='];

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

const EnvSchema = v.looseObject({
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
  MYSQL_POOL_SIZE: v.optional(intIn(1, 500), '10'),
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
  VERIFY_CACHE_TTL_SECONDS: v.optional(intIn(0, 3600), '5'),
  VERIFY_CACHE_MAX_ENTRIES: v.optional(intIn(0, 10_000_000), '10000'),
  NEGATIVE_CACHE_TTL_SECONDS: v.optional(intIn(0, 86_400), '60'),
  NEGATIVE_CACHE_MAX_ENTRIES: v.optional(intIn(0, 10_000_000), '100000'),
  LAST_SEEN_INTERVAL_SECONDS: v.optional(intIn(0, 86_400), '300'),
  VERIFY_DEADLINE_MS: v.optional(intIn(50, 60_000), '2000'),
  LOG_LEVEL: v.optional(
    v.picklist(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      'must be one of fatal, error, warn, info, debug, trace, silent',
    ),
    'info',
  ),
});

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export interface LoadOptions {
  /** The environment; `process.env` merged over `.env` in `cwd` by default. */
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
  /** Create a local key file when none is configured outside production (the `npm start` experience). */
  readonly createKeyFile?: boolean;
}

export interface Loaded {
  readonly config: Config;
  /** Things worth telling the operator at start-up (never secrets). */
  readonly notices: readonly string[];
}

export function readEnvironment(cwd = process.cwd()): Record<string, string | undefined> {
  const file = resolve(cwd, '.env');
  const fromFile = existsSync(file) ? parseEnv(readFileSync(file, 'utf8')) : {};
  return { ...fromFile, ...process.env };
}

export function loadConfig(options: LoadOptions = {}): Loaded {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? readEnvironment(cwd);
  const parsed = v.safeParse(EnvSchema, env);
  const problems: string[] = [];
  const notices: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.issues) problems.push(`${v.getDotPath(issue) ?? '(environment)'}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.output;
  const production = e.NODE_ENV === 'production';

  // Database: DATABASE_URL, else the reference's DB_* names, else embedded SQLite.
  let databaseUrl = e.DATABASE_URL;
  if (!databaseUrl && e.DB_HOST) {
    if (!e.MYSQL_DATABASE) problems.push('MYSQL_DATABASE: required with DB_HOST');
    const auth = `${encodeURIComponent(e.DB_USER ?? 'root')}${e.DB_PASSWORD ? `:${encodeURIComponent(e.DB_PASSWORD)}` : ''}`;
    databaseUrl = `mysql://${auth}@${e.DB_HOST}:${e.DB_PORT ?? 3306}/${encodeURIComponent(e.MYSQL_DATABASE ?? '')}`;
  }
  databaseUrl ??= 'sqlite:./data/auth.db';
  let database = parseDatabaseUrl(databaseUrl);
  if (!database) problems.push('DB_HOST/DB_PORT/DB_USER/MYSQL_DATABASE: do not form a valid MySQL address');
  if (database?.dialect === 'sqlite' && database.path !== ':memory:') database = { ...database, path: resolve(cwd, database.path) };

  // Encryption keys.
  const keys: EncryptionKey[] = [];
  const keyProblems = (source: string, text: string) => {
    for (const [i, entry] of text
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean)
      .entries()) {
      const m = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/_-]{43}=?)$/.exec(entry);
      const key = m ? Buffer.from((m[2] as string).replace(/-/g, '+').replace(/_/g, '/'), 'base64') : undefined;
      if (!m || key?.length !== 32) {
        problems.push(
          `${source}: entry ${i + 1} must be <id>:<32 bytes in base64> (make one with: node -e "console.log('k1:'+require('crypto').randomBytes(32).toString('base64'))")`,
        );
        continue;
      }
      if (production && PUBLIC_TEST_KEYS.includes(m[2] as string))
        problems.push(`${source}: key ${m[1]} is a public test key from .env.testing; it protects nothing in production`);
      if (keys.some((k) => k.id === m[1])) problems.push(`${source}: key id ${m[1]} appears twice`);
      keys.push({ id: m[1] as string, key: key as Buffer });
    }
  };
  if (e.ENCRYPTION_KEYS) keyProblems('ENCRYPTION_KEYS', e.ENCRYPTION_KEYS);
  if (e.ENCRYPTION_KEY_FILE) {
    const file = resolve(cwd, e.ENCRYPTION_KEY_FILE);
    if (existsSync(file)) keyProblems('ENCRYPTION_KEY_FILE', readFileSync(file, 'utf8'));
    else problems.push(`ENCRYPTION_KEY_FILE: ${file} does not exist`);
  }
  if (keys.length === 0 && !problems.some((p) => p.startsWith('ENCRYPTION'))) {
    if (production) {
      problems.push('ENCRYPTION_KEYS: required in production (NODE_ENV=production); the service will not invent keys there');
    } else {
      const file = resolve(cwd, 'data/encryption.key');
      if (!existsSync(file) && options.createKeyFile !== false) {
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, `local:${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
        chmodSync(file, 0o600);
        notices.push(
          `no ENCRYPTION_KEYS configured: created a local key file ${file} (mode 0600). Keep it with the database; set ENCRYPTION_KEYS for production.`,
        );
      }
      if (existsSync(file)) keyProblems(file, readFileSync(file, 'utf8'));
      else problems.push('ENCRYPTION_KEYS: not configured');
    }
  }

  // URLs and cookies.
  const port = e.PORT;
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, '');
  const landingUrl = e.LANDING_URL ?? e.login_redirect ?? `${publicUrl}/`;
  const insecureHttp = e.INSECURE_HTTP;
  if (production && insecureHttp) problems.push('INSECURE_HTTP: not allowed in production');
  const rawDomain = (e.COOKIE_DOMAIN ?? e.cookie_domain ?? '').trim().toLowerCase().replace(/^\./, '');
  if (rawDomain && !DOMAIN.test(rawDomain)) problems.push('COOKIE_DOMAIN: must be a domain name such as example.com');
  const sameSite = e.COOKIE_SAMESITE as SameSite;
  if (sameSite === 'None' && insecureHttp) problems.push('COOKIE_SAMESITE: None needs Secure cookies, so it cannot go with INSECURE_HTTP');
  for (const [name, url] of [
    ['PUBLIC_URL', publicUrl],
    ['LANDING_URL', landingUrl],
  ] as const) {
    if (!insecureHttp && new URL(url).protocol !== 'https:' && production) problems.push(`${name}: must be https in production`);
  }

  const trustedProxies = e.TRUSTED_PROXIES;
  for (const p of trustedProxies) {
    const [addr, bits, extra] = p.split('/');
    const family = isIP(addr ?? '');
    const maxBits = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      problems.push(`TRUSTED_PROXIES: ${p} is not an IP address or CIDR range`);
    }
  }

  // Origins, not hosts: PUBLIC_URL's and LANDING_URL's (their scheme and port), and the cookie domain's subdomains
  // on the default port, unless REDIRECT_ALLOWED_HOSTS names the list.
  const defaultOrigins = [new URL(publicUrl).origin, new URL(landingUrl).origin, ...(rawDomain ? [`.${rawDomain}`] : [])];
  const allowedOrigins: AllowedOrigin[] = [];
  for (const entry of new Set(e.REDIRECT_ALLOWED_HOSTS ?? defaultOrigins)) {
    const origin = parseAllowedOrigin(entry);
    if (!origin) {
      problems.push(
        `REDIRECT_ALLOWED_HOSTS: ${entry} is not a host (example.com, .example.com for subdomains, either with :port) or an origin (https://example.com:8443)`,
      );
    } else if (production && origin.scheme === 'http:') {
      problems.push(`REDIRECT_ALLOWED_HOSTS: ${entry} is plain http; not allowed in production`);
    } else allowedOrigins.push(origin);
  }

  const rp = relyingParty({ publicUrl, cookieDomain: rawDomain || undefined, insecureHttp, name: e.TOTP_ISSUER });
  // A PUBLIC_URL left to its default (the reference's .env has none) turns passkeys off instead of failing.
  if ('problem' in rp && e.PUBLIC_URL !== undefined) problems.push(rp.problem);
  else if ('problem' in rp) notices.push(`${rp.problem}; passkeys are off until PUBLIC_URL is set`);
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
    mysqlPoolSize: e.MYSQL_POOL_SIZE,
    encryptionKeys: keys,
    publicUrl,
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
    relyingParty: 'relyingParty' in rp ? rp.relyingParty : undefined,
    metricsToken: e.METRICS_TOKEN || undefined,
    cache: {
      positiveTtlInMs: e.VERIFY_CACHE_TTL_SECONDS * 1000,
      positiveMaxEntries: e.VERIFY_CACHE_MAX_ENTRIES,
      negativeTtlInMs: e.NEGATIVE_CACHE_TTL_SECONDS * 1000,
      negativeMaxEntries: e.NEGATIVE_CACHE_MAX_ENTRIES,
    },
    lastSeenIntervalInMs: e.LAST_SEEN_INTERVAL_SECONDS * 1000,
    verifyDeadlineInMs: e.VERIFY_DEADLINE_MS,
    logLevel: e.LOG_LEVEL,
  };
  return { config: deepFreeze(config), notices };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Buffer.isBuffer(o)) {
    for (const value of Object.values(o)) deepFreeze(value);
    Object.freeze(o);
  }
  return o;
}
