// Rule: SIGTERM shuts down gracefully, with two worker processes (WORKERS=2) as with one. The server stops accepting connections at once, finishes the requests in
// flight (a login whose body is still arriving; on MySQL also a /verify waiting on a slow database), writes the
// pending "last seen" times, closes the pool and exits 0 — promptly, even while a proxy keeps a keep-alive
// connection busy.
import { Agent, request as httpRequest } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, cookieHeader, jsonLogin, timedFetch, verify } from './support/client.js';
import { freshDatabase, mysqlAddress, preferredDialect, viaPort } from './support/databases.js';
import { allServers, cliOk, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { SecretLedger } from './support/secrets.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/** How long shutdown may take once nothing is in flight (the SIGKILL an orchestrator sends comes at ~30 s). */
const EXIT_WITHIN_MS = 5000;

const { dialect, note } = preferredDialect();

/** Sends headers and part of a body now, the rest on `finish()`; resolves with the response. */
function slowPost(base: string, path: string, body: string) {
  const url = new URL(path, base);
  const half = Math.floor(body.length / 2);
  let finish: () => void = () => {};
  const response = new Promise<{ status: number; setCookie: string[]; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent: false,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, setCookie: ([] as string[]).concat(res.headers['set-cookie'] ?? []), body: text }),
        );
      },
    );
    req.on('error', reject);
    req.write(body.slice(0, half));
    finish = () => req.end(body.slice(half));
  });
  return { response, finish: () => finish() };
}

describe(`SIGTERM finishes in-flight requests and flushes last-seen times (${note})`, () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let token: string;
  const secrets = new Map<string, string>();
  const ledger = new SecretLedger();
  ledger.addEncryptionKeys(TEST_ENCRYPTION_KEYS);
  const servers: Server[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    db = await freshDatabase(dialect);
    env = { DATABASE_URL: db.url };
    // Migrate once, so the CLI has tables before any server has started.
    await cliOk(env, 'migrate');
    token = (await cliOk(env, 'service', 'add', 'app')).token;
    ledger.add('service-token', token);
    for (const email of ['seen@example.com', 'late@example.com', 'busy@example.com', 'slowdb@example.com']) {
      const secret = (await cliOk(env, 'user', 'add', '--email', email)).totpSecret as string;
      secrets.set(email, secret);
      ledger.add('totp-secret', secret);
      await cliOk(env, 'grant', '--email', email, '--service', 'app');
    }
  }, 120_000);
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop('SIGKILL');
    for (const p of proxies.splice(0)) await p.close();
  });
  afterAll(async () => {
    await db?.drop();
  });

  const code = async (email: string) => {
    const c = await codeNow(secrets.get(email) as string);
    ledger.add('totp-code', c);
    return c;
  };
  const start = async (name: string, extra: Record<string, string> = {}) => {
    const s = await startServer(name, { ...env, WORKERS: '2', ...extra });
    servers.push(s);
    return s;
  };

  it('stops accepting, finishes a login still uploading, flushes the last-seen write of a verify, exits 0', async () => {
    const server = await start('sigterm');
    const login = await jsonLogin(server.base, 'seen@example.com', await code('seen@example.com'));
    expect(login.res.status).toBe(200);
    const cookie = cookieHeader(login.res);
    ledger.addCookies(cookie);
    const [before] = await cliOk(env, 'device', 'list', '--email', 'seen@example.com');
    expect(before.lastSeenAt).toBe('-');

    // A login whose body is half sent is in flight when the signal arrives.
    const body = JSON.stringify({
      email: 'late@example.com',
      device_registration_code: await code('late@example.com'),
      device_type: 'Slow',
    });
    const slow = slowPost(server.base, '/device/add', body);
    await sleep(200);
    // The first verify of a device queues its last-seen write (LAST_SEEN_INTERVAL_SECONDS defaults to 300).
    expect((await verify(server.base, 'app', token, cookie)).res.status).toBe(200);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    await sleep(300);

    const refused = await timedFetch(`${server.base}/healthz`, {}, 2000);
    expect(refused.res.status, 'a new connection after SIGTERM').toBe(599);
    expect(refused.body).toMatch(/ECONNREFUSED/);

    slow.finish();
    const answer = await slow.response;
    expect(answer.status, answer.body).toBe(200);
    expect(answer.setCookie).toHaveLength(2);
    ledger.addCookies(answer.setCookie.map((c) => c.split(';')[0]).join('; '));

    const exit = await Promise.race([server.exited, sleep(EXIT_WITHIN_MS * 2).then(() => 'still running')]);
    expect(exit).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(EXIT_WITHIN_MS + 500);

    const [after] = await cliOk(env, 'device', 'list', '--email', 'seen@example.com');
    expect(after.lastSeenAt, 'last-seen written at shutdown').not.toBe('-');
    expect(await cliOk(env, 'device', 'list', '--email', 'late@example.com')).toHaveLength(1);
  }, 60_000);

  it('exits promptly even while a client keeps a keep-alive connection busy', async () => {
    const server = await start('sigterm-keepalive');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<number>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port: server.port, path: '/healthz', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', () => resolve(0));
        req.end();
      });
    expect(await get()).toBe(200);
    const signalledAt = Date.now();
    server.child.kill('SIGTERM');
    // A proxy's pooled connection: requests keep coming on the same socket, every 100 ms.
    let ended: number | string | undefined;
    void server.exited.then((e) => {
      ended = e;
    });
    for (let i = 0; i < (EXIT_WITHIN_MS * 2) / 100 && ended === undefined; i++) {
      await get();
      await sleep(100);
    }
    agent.destroy();
    const exit = await Promise.race([server.exited, sleep(1000).then(() => 'still running')]);
    expect(exit).toBe(0);
    expect(Date.now() - signalledAt, 'time from SIGTERM to exit').toBeLessThan(EXIT_WITHIN_MS);
  }, 60_000);

  describe.skipIf(dialect !== 'mysql')('with the database slow (MySQL through a TCP proxy)', () => {
    it('a /verify waiting on the database when SIGTERM arrives still gets its answer, then the process exits 0', async () => {
      const proxy = await startTcpProxy(mysqlAddress(db));
      proxies.push(proxy);
      // Positive caching off, so the verify below must wait for the database.
      const server = await start('sigterm-slow-db', {
        DATABASE_URL: viaPort(db, proxy.port),
        VERIFY_CACHE_TTL_SECONDS: '0',
        VERIFY_DEADLINE_MS: '3000',
      });
      const login = await jsonLogin(server.base, 'slowdb@example.com', await code('slowdb@example.com'));
      expect(login.res.status).toBe(200);
      const cookie = cookieHeader(login.res);
      ledger.addCookies(cookie);
      proxy.delay(400); // about 800 ms a round trip: slow, but within the verify deadline
      const inFlight = verify(server.base, 'app', token, cookie);
      await sleep(150);
      server.child.kill('SIGTERM');
      const r = await inFlight;
      expect(r.res.status, r.body).toBe(200);
      const exit = await Promise.race([server.exited, sleep(EXIT_WITHIN_MS * 2).then(() => 'still running')]);
      expect(exit).toBe(0);
      proxy.restore();
      const [device] = await cliOk(env, 'device', 'list', '--email', 'slowdb@example.com');
      expect(device.lastSeenAt).not.toBe('-');
    }, 60_000);
  });

  it('its logs hold no secret, code, cookie value, token or key', () => {
    expect(allServers.length).toBeGreaterThan(1);
    expect(ledger.scan(allServers.map((s) => s.output()).join('\n'))).toEqual([]);
  });
});
