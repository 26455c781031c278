// Rule: under a sustained mix of valid, invalid and junk traffic the service stays healthy. During a bounded
// load run against a real instance — valid verifies, wrong credentials, junk and forged cookies, unknown services,
// failed logins in every shape, and a steady stream of successful logins — there is no 5xx and no socket error or
// timeout; memory after warm-up stays within a bound; and no write is lost: every device a login handed out is in
// the database afterwards and verifies.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon, { type Request as LoadRequest } from 'autocannon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { openRuntime } from '../../src/runtime.js';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, cookieHeader, jsonLogin, verify } from './support/client.js';
import { freshDatabase, preferredDialect } from './support/databases.js';
import { cliOk, rssInBytes, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { SecretLedger } from './support/secrets.js';

const LOAD_SECONDS = 50;
const WARM_UP_SECONDS = 20;
/** Requests per second from the load generator: steady pressure that leaves room for the rest of the suite. */
const RATE = 800;
const CONNECTIONS = 8;
/** One successful login every this many ms, each by a user who has not logged in yet (one TOTP step each). */
const LOGIN_EVERY_MS = 400;
const LOGIN_USERS = Math.ceil((LOAD_SECONDS * 1000) / LOGIN_EVERY_MS) + 10;
const VERIFY_USERS = 8;
const MIB = 1024 * 1024;

const { dialect, note } = preferredDialect();

describe(`soak: no 5xx, no memory growth, no lost writes (${note})`, () => {
  let db: TestDatabase;
  let server: Server;
  let env: Record<string, string>;
  let token: string;
  const secrets: string[] = [];
  const validCookies: string[] = [];
  const ledger = new SecretLedger();
  ledger.addEncryptionKeys(TEST_ENCRYPTION_KEYS);

  beforeAll(async () => {
    db = await freshDatabase(dialect);
    env = { DATABASE_URL: db.url };
    // Many users, made in-process: a CLI run per user would take longer than the soak itself.
    const { config } = loadConfig({
      env: { DATABASE_URL: db.url, ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS, LOG_LEVEL: 'silent' },
    });
    const runtime = await openRuntime(config);
    try {
      token = (await runtime.admin.addService('app')).token;
      ledger.add('service-token', token);
      ledger.add('proxy-token', (await runtime.admin.addProxyToken('edge')).token);
      for (let i = 0; i < VERIFY_USERS + LOGIN_USERS; i++) {
        const email = `u${i}@example.com`;
        const { totpSecret } = await runtime.admin.addUser({ email });
        secrets.push(totpSecret);
        ledger.add('totp-secret', totpSecret);
        await runtime.admin.grant({ email, service: 'app', scope: 'read:email' });
      }
      await runtime.admin.addUser({ email: 'victim@example.com' });
    } finally {
      await runtime.close();
    }
    server = await startServer('soak', env);
    for (let i = 0; i < VERIFY_USERS; i++) {
      const code = await codeNow(secrets[i] as string);
      ledger.add('totp-code', code);
      const r = await jsonLogin(server.base, `u${i}@example.com`, code, { 'X-Forwarded-For': `198.51.100.${i}` });
      expect(r.res.status, r.body).toBe(200);
      const cookie = cookieHeader(r.res);
      ledger.addCookies(cookie);
      validCookies.push(cookie);
    }
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it(
    `runs ${LOAD_SECONDS} s of mixed traffic with no 5xx, bounded memory and every login's device stored`,
    async () => {
      const hex = () => randomBytes(16).toString('hex');
      const addr = () => `${10 + ((randomBytes(1)[0] as number) % 200)}.${randomBytes(3).join('.')}`;
      let v = 0;
      const json = { 'Content-Type': 'application/json' };
      const requests: LoadRequest[] = [
        // Valid verifies, round-robin over the signed-in devices (most traffic in real life).
        ...Array.from({ length: 4 }, () => ({
          method: 'GET',
          path: '/verify/app',
          setupRequest: (req: LoadRequest) => ({
            ...req,
            headers: { authorization: `Bearer ${token}`, cookie: validCookies[v++ % validCookies.length] as string },
          }),
        })),
        {
          method: 'GET',
          path: '/verify/app?proxy=nginx',
          setupRequest: (req) => ({
            ...req,
            headers: { authorization: `Bearer ${token}`, cookie: `device_id=${hex()}; hmac_secret=${hex()}` },
          }),
        },
        {
          method: 'GET',
          path: '/verify/app',
          setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${hex()}${hex()}`, cookie: validCookies[0] as string } }),
        },
        {
          method: 'GET',
          path: '/verify/app?proxy=traefik',
          headers: { 'x-service-token': token, cookie: `device_id=${'z'.repeat(32)}; device_id=1; ${'x=y; '.repeat(200)}` },
        },
        {
          method: 'GET',
          path: '/verify/nope',
          setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${token}`, cookie: validCookies[1] as string } }),
        },
        {
          method: 'POST',
          path: '/device/add',
          setupRequest: (req) => ({
            ...req,
            headers: { ...json, 'x-forwarded-for': addr() },
            body: JSON.stringify({ email: `nobody-${hex()}@example.com`, device_registration_code: '123456', device_type: 'x' }),
          }),
        },
        {
          method: 'POST',
          path: '/device/add',
          setupRequest: (req) => ({
            ...req,
            headers: { ...json, 'x-forwarded-for': addr() },
            body: JSON.stringify({ email: 'victim@example.com', device_registration_code: '000000' }),
          }),
        },
        {
          method: 'POST',
          path: '/login',
          setupRequest: (req) => ({
            ...req,
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': addr() },
            body: `email=u1%40example.com&code=12345x&rd=https%3A%2F%2Fevil.net%2F`,
          }),
        },
        { method: 'POST', path: '/device/add', headers: json, body: '{"email": ["a"], "device_registration_code": {"$gt": ""}' },
        { method: 'POST', path: '/login', headers: { 'content-type': 'multipart/form-data; boundary=' }, body: '--\r\n\r\n' },
        { method: 'POST', path: '/device/add', headers: json, body: 'x'.repeat(20_000) },
        {
          method: 'GET',
          path: '/login?rd=https%3A%2F%2Fapp.example.com%2F',
          headers: { cookie: `device_id=${hex()}; hmac_secret=${hex()}` },
        },
      ];

      const statuses = new Map<number, number>();
      const instance = autocannon({
        url: server.base,
        connections: CONNECTIONS,
        overallRate: RATE,
        duration: LOAD_SECONDS,
        reconnectRate: 200,
        timeout: 10,
        requests,
      });
      instance.on('response', (_c, status) => statuses.set(status, (statuses.get(status) ?? 0) + 1));

      // Successful logins alongside, each by a fresh user, each device checked at once.
      const issued: { id: string; cookie: string }[] = [];
      const loginStatuses = new Map<number, number>();
      let stop = false;
      const logins = (async () => {
        for (let i = VERIFY_USERS; i < VERIFY_USERS + LOGIN_USERS && !stop; i++) {
          const code = await codeNow(secrets[i] as string);
          ledger.add('totp-code', code);
          const r = await jsonLogin(server.base, `u${i}@example.com`, code, { 'X-Forwarded-For': addr() }, 15_000);
          loginStatuses.set(r.res.status, (loginStatuses.get(r.res.status) ?? 0) + 1);
          if (r.res.status === 200) {
            const cookie = cookieHeader(r.res);
            ledger.addCookies(cookie);
            issued.push({ id: /device_id=([0-9a-f]{32})/.exec(cookie)?.[1] as string, cookie });
            const check = await verify(server.base, 'app', token, cookie, 15_000);
            loginStatuses.set(check.res.status, (loginStatuses.get(check.res.status) ?? 0) + 1);
          }
          await sleep(LOGIN_EVERY_MS);
        }
      })();

      // Memory, once a second. The baseline is the highest RSS of the warm-up: the heap grows in a sawtooth until
      // the garbage collector runs, so one sample could sit in a trough and make a normal peak look like growth.
      const rss: number[] = [];
      const sampler = setInterval(() => rss.push(rssInBytes(server.pid)), 1000);

      const result = await instance;
      stop = true;
      await logins;
      clearInterval(sampler);

      const fiveHundreds = [...statuses, ...loginStatuses].filter(([s]) => s >= 500);
      expect(
        fiveHundreds,
        `statuses: ${JSON.stringify(Object.fromEntries(statuses))}, logins: ${JSON.stringify(Object.fromEntries(loginStatuses))}`,
      ).toEqual([]);
      expect(result.errors, 'socket errors').toBe(0);
      expect(result.timeouts, 'timeouts').toBe(0);
      // Floors that prove the load ran at all, not a speed: a busy machine may serve far fewer than RATE.
      expect(result.requests.total).toBeGreaterThan(1_000);
      expect([...loginStatuses.keys()].sort(), 'successful logins and their verifies').toEqual([200]);
      expect(issued.length).toBeGreaterThanOrEqual(10);

      const baseline = Math.max(...rss.slice(0, WARM_UP_SECONDS));
      const afterWarmUp = rss.slice(WARM_UP_SECONDS);
      expect(afterWarmUp.length).toBeGreaterThan(10);
      const peak = Math.max(...afterWarmUp);
      const bound = Math.max(baseline * 1.5, baseline + 64 * MIB);
      expect(baseline).toBeGreaterThan(0);
      expect(peak, `RSS ${Math.round(baseline / MIB)} MiB after warm-up, peak ${Math.round(peak / MIB)} MiB after it`).toBeLessThan(bound);

      // No lost writes: every device handed out is stored, and verifies.
      const stored = new Set<string>((await cliOk(env, 'device', 'list')).map((d: { id: string }) => d.id));
      const missing = issued.filter((d) => !stored.has(d.id));
      expect(missing).toEqual([]);
      for (const d of issued) expect((await verify(server.base, 'app', token, d.cookie)).res.status).toBe(200);
      expect(server.output()).not.toMatch(/"level":(50|60)/);
    },
    (LOAD_SECONDS + 60) * 1000,
  );

  it('its logs hold no secret, code, cookie value, token or key', () => {
    expect(ledger.scan(server.output())).toEqual([]);
  });
});
