// Rule: two instances on one MySQL database act as one, each running two worker processes (WORKERS=2), so the
// rules hold across workers exactly as across instances. A device revoked through one (sign-out or the admin CLI)
// is refused by the other once the verify cache bound (VERIFY_CACHE_TTL_SECONDS) has passed; the guess budget
// counts failures made on either instance; and a code sent to both at once yields exactly one device.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, cookieHeader, jsonLogin, timedFetch, verify } from './support/client.js';
import { freshDatabase, preferredDialect } from './support/databases.js';
import { cliOk, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { SecretLedger } from './support/secrets.js';

const CACHE_TTL_MS = 1000;
/** Past the cache bound, with room for a loaded machine. */
const PAST_THE_BOUND_MS = CACHE_TTL_MS + 300;

const { dialect } = preferredDialect();
const skip = dialect !== 'mysql' ? 'needs MySQL (set TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test)' : undefined;
if (skip) console.warn(`[hardening] SKIPPING two instances: ${skip}`);

describe.skipIf(skip)('two instances share revocation, the guess budget and the replay rule', () => {
  let db: TestDatabase;
  let a: Server;
  let b: Server;
  let env: Record<string, string>;
  let token: string;
  const secrets = new Map<string, string>();
  const ledger = new SecretLedger();
  ledger.addEncryptionKeys(TEST_ENCRYPTION_KEYS);
  let xff = 0;
  /** A new client address behind the trusted local proxy for every request, so no address budget interferes. */
  const fromNewAddress = () => ({ 'X-Forwarded-For': `203.0.113.${++xff % 250}, 198.18.${xff >> 8}.${xff & 255}` });

  beforeAll(async () => {
    db = await freshDatabase('mysql');
    env = { DATABASE_URL: db.url };
    const shared = { ...env, VERIFY_CACHE_TTL_SECONDS: String(CACHE_TTL_MS / 1000), WORKERS: '2' };
    a = await startServer('instance-a', shared);
    b = await startServer('instance-b', shared);
    token = (await cliOk(env, 'service', 'add', 'app')).token;
    ledger.add('service-token', token);
    for (const email of ['logout@example.com', 'cli@example.com', 'budget@example.com', 'replay@example.com']) {
      const secret = (await cliOk(env, 'user', 'add', '--email', email)).totpSecret as string;
      secrets.set(email, secret);
      ledger.add('totp-secret', secret);
      await cliOk(env, 'grant', '--email', email, '--service', 'app');
    }
  }, 120_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await db?.drop();
  });

  const code = async (email: string) => {
    const c = await codeNow(secrets.get(email) as string);
    ledger.add('totp-code', c);
    return c;
  };
  const loginOn = async (server: Server, email: string) => {
    const r = await jsonLogin(server.base, email, await code(email), fromNewAddress());
    expect(r.res.status, r.body).toBe(200);
    const cookie = cookieHeader(r.res);
    ledger.addCookies(cookie);
    return cookie;
  };
  const statusOn = async (server: Server, cookie: string) => (await verify(server.base, 'app', token, cookie)).res.status;

  it('a device signed out on A is refused by B once the cache bound has passed', async () => {
    const cookie = await loginOn(a, 'logout@example.com');
    expect(await statusOn(a, cookie)).toBe(200);
    expect(await statusOn(b, cookie)).toBe(200); // B now holds it in its cache
    const out = await timedFetch(`${a.base}/logout`, { method: 'POST', headers: { Cookie: cookie, Accept: 'application/json' } });
    expect(out.res.status).toBe(200);
    expect(await statusOn(a, cookie)).toBe(404);
    await sleep(PAST_THE_BOUND_MS);
    expect(await statusOn(b, cookie)).toBe(404);
    expect(await cliOk(env, 'device', 'list', '--email', 'logout@example.com')).toEqual([]);
  });

  it('a device revoked with the admin CLI is refused by both once the cache bound has passed', async () => {
    const cookie = await loginOn(b, 'cli@example.com');
    expect(await statusOn(a, cookie)).toBe(200);
    expect(await statusOn(b, cookie)).toBe(200);
    const [device] = await cliOk(env, 'device', 'list', '--email', 'cli@example.com');
    await cliOk(env, 'device', 'revoke', device.id, '--yes');
    await sleep(PAST_THE_BOUND_MS);
    expect(await statusOn(a, cookie)).toBe(404);
    expect(await statusOn(b, cookie)).toBe(404);
  });

  it('the guess budget holds across both: 5 wrong codes split over A and B lock the account on either', async () => {
    const email = 'budget@example.com';
    for (const [i, server] of [a, b, a, b, a].entries()) {
      const wrong = await jsonLogin(server.base, email, String(100000 + i), fromNewAddress());
      expect(wrong.res.status).toBe(401);
    }
    const right = await code(email);
    for (const server of [a, b]) {
      const locked = await jsonLogin(server.base, email, right, fromNewAddress());
      expect(locked.res.status, `the right code on ${server.name}`).toBe(401);
      expect(locked.res.headers.getSetCookie()).toEqual([]);
    }
    // It was the lock that refused the right code: once an admin clears it, the same code works.
    await cliOk(env, 'user', 'unlock', '--email', email);
    const unlocked = await jsonLogin(b.base, email, await code(email), fromNewAddress());
    expect(unlocked.res.status).toBe(200);
    ledger.addCookies(cookieHeader(unlocked.res));
  });

  it('replay holds across both: one code sent to A and B in parallel, 10 each, yields exactly one device', async () => {
    const email = 'replay@example.com';
    const c = await code(email);
    const attempts = Array.from({ length: 20 }, (_, i) => jsonLogin((i % 2 === 0 ? a : b).base, email, c, fromNewAddress()));
    const results = await Promise.all(attempts);
    for (const r of results) if (r.res.status === 200) ledger.addCookies(cookieHeader(r.res));
    const statuses = results.map((r) => r.res.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 401)).toHaveLength(19);
    expect(await cliOk(env, 'device', 'list', '--email', email)).toHaveLength(1);
  });

  it('their logs hold no secret, code, cookie value, token or key', () => {
    expect(ledger.scan(a.output() + b.output())).toEqual([]);
  });
});
