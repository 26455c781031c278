import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, readEnvironment } from '../../src/config/config.js';
import { DEFAULT_CACHE_OPTIONS } from '../../src/core/cache-options.js';
import { loadConfigWithLocalKey } from '../../src/local-key.js';

const KEY = 'k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
const TEST_KEY = 'test1:Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg=';
const tmp = () => mkdtempSync(join(tmpdir(), 'pa-config-'));

function problems(env: Record<string, string>, cwd = tmp()): string[] {
  try {
    loadConfig({ env, cwd });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('starts with no configuration at all outside production: SQLite under ./data and a local key file it only names', () => {
    const cwd = tmp();
    const { config, notices } = loadConfig({ env: {}, cwd });
    expect(config.port).toBe(8080);
    expect(config.database).toEqual({ dialect: 'sqlite', path: join(cwd, 'data/auth.db') });
    expect(config.publicUrl).toBe('http://localhost:8080');
    expect(config.databasePoolSize).toBe(10);
    expect(config.cache).toEqual(DEFAULT_CACHE_OPTIONS);
    // Reading the configuration creates nothing: the key file is the wiring's to make.
    const keyFile = join(cwd, 'data/encryption.key');
    expect(config.localKeyFile).toBe(keyFile);
    expect(config.encryptionKeys).toEqual([]);
    expect(existsSync(keyFile)).toBe(false);
    expect(notices).toEqual([]);
  });

  it('has the server and the CLI create the local key file once (0600), say so, and read it afterwards', () => {
    const cwd = tmp();
    const keyFile = join(cwd, 'data/encryption.key');
    const first = loadConfigWithLocalKey({ env: {}, cwd });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(first.notices.join('\n')).toContain(`created a local key file ${keyFile}`);
    expect(first.config.encryptionKeys).toHaveLength(1);
    // Made once: the second start reuses it and says nothing; the configuration alone now reads the same key.
    const before = readFileSync(keyFile, 'utf8');
    const again = loadConfigWithLocalKey({ env: {}, cwd });
    expect(readFileSync(keyFile, 'utf8')).toBe(before);
    expect(again.notices).toEqual([]);
    expect(again.config.encryptionKeys[0]?.key).toEqual(first.config.encryptionKeys[0]?.key);
    expect(loadConfig({ env: {}, cwd }).config.encryptionKeys[0]?.key).toEqual(first.config.encryptionKeys[0]?.key);
    // Configured keys win: no file is made.
    const other = tmp();
    expect(loadConfigWithLocalKey({ env: { ENCRYPTION_KEYS: KEY }, cwd: other }).config.localKeyFile).toBeUndefined();
    expect(existsSync(join(other, 'data'))).toBe(false);
  });

  it('reports every problem at once', () => {
    const found = problems({ PORT: 'eighty', COOKIE_SAMESITE: 'sideways', LOG_LEVEL: 'loud', PUBLIC_URL: 'ftp://x', ENCRYPTION_KEYS: KEY });
    expect(found).toHaveLength(4);
    expect(found.join('\n')).toMatch(/PORT/);
    expect(found.join('\n')).toMatch(/COOKIE_SAMESITE/);
    expect(found.join('\n')).toMatch(/LOG_LEVEL/);
    expect(found.join('\n')).toMatch(/PUBLIC_URL/);
  });

  it('reports bad values together with the problems found across variables, each variable once', () => {
    const found = problems({
      PORT: 'eighty',
      ENCRYPTION_KEYS: 'k1:short',
      DATABASE_URL: 'oracle://db/x',
      VERIFY_CACHE_TTL_SECONDS: '-1',
      TRUSTED_PROXIES: 'not-an-ip',
      DATABASE_POOL_SIZE: '20',
      MYSQL_POOL_SIZE: '30',
    });
    expect(found).toEqual([
      expect.stringMatching(/^PORT: must be a whole number/),
      expect.stringMatching(/^DATABASE_URL: must look like/),
      expect.stringMatching(/^VERIFY_CACHE_TTL_SECONDS: must be a whole number/),
      expect.stringMatching(/^DATABASE_POOL_SIZE\/MYSQL_POOL_SIZE: both are set and differ/),
      expect.stringMatching(/^ENCRYPTION_KEYS: entry 1 must be/),
      expect.stringMatching(/^TRUSTED_PROXIES: not-an-ip is not an IP address/),
    ]);
    // A value bad on its own is not reported again by the checks across variables (PUBLIC_URL must be https there).
    expect(problems({ NODE_ENV: 'production', PUBLIC_URL: 'ftp://x', ENCRYPTION_KEYS: KEY })).toEqual([
      expect.stringMatching(/^PUBLIC_URL: must be an absolute http\(s\) URL/),
    ]);
  });

  it('takes WORKERS as auto (the cores this process may use) or 1-1023, and names any other value', async () => {
    const { availableParallelism } = await import('node:os');
    const workers = (env: Record<string, string>) => loadConfig({ env: { ENCRYPTION_KEYS: KEY, ...env }, cwd: tmp() }).config.workers;
    expect(workers({})).toBe(availableParallelism());
    expect(workers({ WORKERS: 'AUTO' })).toBe(availableParallelism());
    expect(workers({ WORKERS: '1' })).toBe(1);
    expect(workers({ WORKERS: '1023' })).toBe(1023);
    for (const bad of ['0', '1024', '-1', '2.5', 'two', 'auto,1', ''])
      expect(problems({ WORKERS: bad }), bad).toEqual([expect.stringMatching(/^WORKERS: must be auto or a whole number from 1 to 1023/)]);
  });

  it('keeps the fallback bound no longer than the TTL, and CHANGE_POLL_MS within 10-1000', () => {
    const cache = (env: Record<string, string>) => loadConfig({ env: { ENCRYPTION_KEYS: KEY, ...env }, cwd: tmp() }).config.cache;
    expect(cache({})).toMatchObject({ positiveTtlInMs: 300_000, fallbackTtlInMs: 5_000 });
    expect(cache({ VERIFY_CACHE_TTL_SECONDS: '2' })).toMatchObject({ positiveTtlInMs: 2_000, fallbackTtlInMs: 2_000 });
    expect(problems({ CHANGE_POLL_MS: '5000' })).toEqual([expect.stringMatching(/^CHANGE_POLL_MS: must be at most 1000/)]);
  });

  it('takes the pool size from DATABASE_POOL_SIZE, or from its old name MYSQL_POOL_SIZE', () => {
    const pool = (env: Record<string, string>) => loadConfig({ env: { ENCRYPTION_KEYS: KEY, ...env }, cwd: tmp() }).config.databasePoolSize;
    expect(pool({ DATABASE_POOL_SIZE: '25' })).toBe(25);
    expect(pool({ MYSQL_POOL_SIZE: '7' })).toBe(7);
    expect(pool({ DATABASE_POOL_SIZE: '7', MYSQL_POOL_SIZE: '7' })).toBe(7);
    expect(problems({ DATABASE_POOL_SIZE: '0', ENCRYPTION_KEYS: KEY })).toEqual([
      expect.stringMatching(/^DATABASE_POOL_SIZE: must be at least 1/),
    ]);
  });

  it('refuses to start in production without keys, with the public test keys, or in plain-http mode', () => {
    const cwd = tmp();
    expect(problems({ NODE_ENV: 'production', PUBLIC_URL: 'https://auth.example.com' }, cwd).join('\n')).toMatch(
      /ENCRYPTION_KEYS: required in production/,
    );
    expect(existsSync(join(cwd, 'data/encryption.key'))).toBe(false);
    expect(problems({ NODE_ENV: 'production', PUBLIC_URL: 'https://auth.example.com', ENCRYPTION_KEYS: TEST_KEY }).join('\n')).toMatch(
      /public test key/,
    );
    expect(
      problems({ NODE_ENV: 'production', PUBLIC_URL: 'https://auth.example.com', ENCRYPTION_KEYS: KEY, INSECURE_HTTP: 'true' }).join('\n'),
    ).toMatch(/INSECURE_HTTP/);
    expect(problems({ NODE_ENV: 'production', PUBLIC_URL: 'https://auth.example.com', ENCRYPTION_KEYS: KEY })).toEqual([]);
  });

  it("accepts the reference's variable names so its .env keeps working", () => {
    const { config } = loadConfig({
      env: {
        DB_HOST: 'db',
        DB_PORT: '3307',
        DB_USER: 'FlaskAuth',
        DB_PASSWORD: 'p@ss',
        MYSQL_DATABASE: 'Auth_service',
        cookie_domain: 'example.com',
        cookie_lifetime_days: '30',
        login_redirect: 'https://home.example.com/',
        ENCRYPTION_KEYS: KEY,
      },
      cwd: tmp(),
    });
    expect(config.database).toEqual({
      dialect: 'mysql',
      host: 'db',
      port: 3307,
      user: 'FlaskAuth',
      password: 'p@ss',
      database: 'Auth_service',
    });
    expect(config.databaseLabel).not.toContain('p@ss');
    expect(config.cookie).toMatchObject({ domain: 'example.com', lifetimeInDays: 30, sameSite: 'Lax', secure: true });
    expect(config.landingUrl).toBe('https://home.example.com/');
    expect(config.allowedOrigins).toContainEqual({ scheme: undefined, host: 'example.com', subdomains: true, port: undefined });
  });

  it('reads .env under the environment, and rotates keys from a comma-separated list', () => {
    const cwd = tmp();
    writeFileSync(join(cwd, '.env'), `PORT=9000\nENCRYPTION_KEYS=${KEY},old:${Buffer.alloc(32, 7).toString('base64')}\n`);
    const { config } = loadConfig({ cwd, env: { ...readEnvironment(cwd), PORT: '9001' } });
    expect(config.port).toBe(9001);
    expect(config.encryptionKeys.map((k) => k.id)).toEqual(['k1', 'old']);
  });

  it('rejects malformed keys, cookie domains and proxy addresses', () => {
    const found = problems({ ENCRYPTION_KEYS: 'k1:short', COOKIE_DOMAIN: 'exa mple.com', TRUSTED_PROXIES: '10.0.0.0/33,not-an-ip' }).join(
      '\n',
    );
    expect(found).toMatch(/ENCRYPTION_KEYS: entry 1/);
    expect(found).toMatch(/COOKIE_DOMAIN/);
    expect(found).toMatch(/10\.0\.0\.0\/33/);
    expect(found).toMatch(/not-an-ip/);
  });

  it('allows return URLs to origins: PUBLIC_URL and LANDING_URL with their ports, and the entries named', () => {
    const origins = (env: Record<string, string>) =>
      loadConfig({ env: { ENCRYPTION_KEYS: KEY, ...env }, cwd: tmp() }).config.allowedOrigins;
    expect(origins({ PUBLIC_URL: 'https://auth.example.test:8443', LANDING_URL: 'http://localhost:8080/home' })).toEqual([
      { scheme: 'https:', host: 'auth.example.test', subdomains: false, port: '8443' },
      { scheme: 'http:', host: 'localhost', subdomains: false, port: '8080' },
    ]);
    expect(origins({ REDIRECT_ALLOWED_HOSTS: 'app.example.test:8443, .example.org,https://x.example.net:9443' })).toEqual([
      { scheme: undefined, host: 'app.example.test', subdomains: false, port: '8443' },
      { scheme: undefined, host: 'example.org', subdomains: true, port: undefined },
      { scheme: 'https:', host: 'x.example.net', subdomains: false, port: '9443' },
    ]);
    const found = problems({
      REDIRECT_ALLOWED_HOSTS: 'example.com:99999,https://example.com/path,ok.example.com',
      ENCRYPTION_KEYS: KEY,
    }).join('\n');
    expect(found).toMatch(/REDIRECT_ALLOWED_HOSTS: example\.com:99999/);
    expect(found).toMatch(/REDIRECT_ALLOWED_HOSTS: https:\/\/example\.com\/path/);
    expect(found).not.toMatch(/ok\.example\.com/);
    expect(
      problems({
        NODE_ENV: 'production',
        PUBLIC_URL: 'https://auth.example.com',
        ENCRYPTION_KEYS: KEY,
        REDIRECT_ALLOWED_HOSTS: 'http://app.example.com',
      }).join('\n'),
    ).toMatch(/REDIRECT_ALLOWED_HOSTS: http:\/\/app\.example\.com is plain http/);
  });

  it('freezes the result', () => {
    const { config } = loadConfig({ env: { ENCRYPTION_KEYS: KEY }, cwd: tmp() });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.cookie)).toBe(true);
  });
});
