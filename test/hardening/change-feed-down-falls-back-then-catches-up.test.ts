// Rule: when the change feed cannot be read, every worker falls back to the short cache bound, so nothing revoked
// more than that bound ago is allowed; when the database is back, every worker catches up and the long bound
// returns. Two workers on MySQL through a TCP proxy that cuts the database; the revocation is made meanwhile by
// another process with its own connection, as another instance or the CLI would.
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { newDevice } from '../../src/core/devices.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { TestDatabase } from '../support/databases.js';
import { freshDatabase, mysqlAddress, preferredDialect, viaPort } from './support/databases.js';
import { eventually, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.js';

/** The short bound for this test (VERIFY_CACHE_FALLBACK_TTL_SECONDS), shorter than the default 5 s to keep it quick. */
const FALLBACK_MS = 2000;
/** Room for a loaded machine on top of the bound: a poll interval, the health threshold's timer, a slow answer. */
const MARGIN_MS = 600;

const { dialect } = preferredDialect();
const skip = dialect !== 'mysql' ? 'needs MySQL (set TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/test)' : undefined;

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.setTimeout(10_000, () => req.destroy());
    req.end();
  });
}

describe.skipIf(skip)('the change feed down: every worker falls back to the short bound, then catches up', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let server: Server;
  let runtime: Runtime;
  let token: string;

  beforeAll(async () => {
    db = await freshDatabase('mysql');
    const { config } = loadConfig({
      env: { DATABASE_URL: db.url, ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS },
      cwd: mkdtempSync(join(tmpdir(), 'pa-feed-down-')),
    });
    runtime = await openRuntime(config);
    token = (await runtime.admin.addService('app')).token;
    proxy = await startTcpProxy(mysqlAddress(db));
    server = await startServer('feed-down', {
      DATABASE_URL: viaPort(db, proxy.port),
      WORKERS: '2',
      VERIFY_CACHE_FALLBACK_TTL_SECONDS: String(FALLBACK_MS / 1000),
    });
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await runtime?.close();
    await db?.drop();
  });

  /** The sum over workers of the feed-health gauge (1 per healthy worker). */
  const healthyWorkers = async () => {
    const m = await get(server.port, '/metrics');
    const line = /^passwordless_auth_change_feed_healthy (\d+)/m.exec(m.body);
    return line ? Number(line[1]) : -1;
  };

  async function device(email: string) {
    const { user } = await runtime.admin.addUser({ email });
    await runtime.admin.grant({ email, service: 'app' });
    const d = newDevice(user.id, 'watched', Date.now());
    await runtime.store.devices.create(d.row);
    return { id: d.credential.deviceId, cookie: `device_id=${d.credential.deviceId}; hmac_secret=${d.credential.secret}` };
  }

  it('falls back while cut (nothing revoked is allowed past the short bound), and catches up when restored', async () => {
    expect(await eventually(async () => (await healthyWorkers()) === 2, 15_000)).toBe(true);
    const revoked = await device('revoked@example.com');
    const kept = await device('kept@example.com');
    const answers: { cookie: string; startedAt: number; status: number }[] = [];
    let running = true;
    const loops = [revoked, kept, revoked, kept].map(async ({ cookie }) => {
      while (running) {
        const startedAt = Date.now();
        const { status } = await get(server.port, '/verify/app', { Authorization: `Bearer ${token}`, Cookie: cookie });
        answers.push({ cookie, startedAt, status });
        await sleep(10);
      }
    });
    // Both workers answer (and cache) both devices: waited for by count, not by time (a busy machine is slower).
    for (const until = Date.now() + 30_000; answers.length <= 8 && Date.now() < until; ) await sleep(50);
    expect(answers.length).toBeGreaterThan(8);
    expect(answers.every((a) => a.status === 200)).toBe(true);

    proxy.cut();
    const cutAt = Date.now();
    await runtime.devices.revoke(revoked.id);
    // Every worker notices its feed is behind, and says so.
    expect(await eventually(async () => (await healthyWorkers()) === 0, 10_000)).toBe(true);
    const ready = await get(server.port, '/readyz');
    expect(JSON.parse(ready.body)).toMatchObject({ changeFeed: { healthy: false } });
    while (Date.now() < cutAt + FALLBACK_MS + MARGIN_MS + 1000) await sleep(50);

    proxy.restore();
    const restoredAt = Date.now();
    expect(await eventually(async () => (await healthyWorkers()) === 2, 20_000)).toBe(true);
    const caughtUpAt = Date.now();
    await sleep(800);
    running = false;
    await Promise.all(loops);

    // Past the short bound after the cut, the revoked device was never allowed again (the database was
    // unreachable: it was refused, 503), and once the feed caught up it is refused for good.
    const late = answers.filter((a) => a.cookie === revoked.cookie && a.startedAt > cutAt + FALLBACK_MS + MARGIN_MS);
    expect(late.length).toBeGreaterThan(0);
    expect(late.filter((a) => a.status === 200)).toEqual([]);
    const after = answers.filter((a) => a.startedAt > caughtUpAt);
    expect(after.filter((a) => a.cookie === revoked.cookie).map((a) => a.status)).not.toContain(200);
    expect(after.filter((a) => a.cookie === kept.cookie).length).toBeGreaterThan(0);
    expect(after.filter((a) => a.cookie === kept.cookie).every((a) => a.status === 200)).toBe(true);
    expect(restoredAt).toBeGreaterThan(cutAt);
    expect(JSON.parse((await get(server.port, '/readyz')).body)).toMatchObject({ status: 'ready', changeFeed: { healthy: true } });
  }, 90_000);
});
