// Rule: a worker that dies is replaced, and the others keep answering: under load, killing one worker fails no
// request other than those in flight on it, and those fail closed (the connection ends without an answer, which
// every proxy treats as a denial); no request gets an error status, and none is allowed that should not be.
import { execFileSync } from 'node:child_process';
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
import { freshDatabase, preferredDialect } from './support/databases.js';
import { eventually, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';

/** Clients sending requests back to back, each on a new connection (so both workers get them). */
const CLIENTS = 8;
const { dialect, note } = preferredDialect();

function get(port: number, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/verify/app', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('error', () => resolve(0));
    req.setTimeout(10_000, () => req.destroy());
    req.end();
  });
}

const workerPids = (primary: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(primary)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
};

describe(`a crashed worker is replaced, and only its in-flight requests fail (${note})`, () => {
  let db: TestDatabase;
  let server: Server;
  let runtime: Runtime;
  let headers: Record<string, string>;
  let wrong: Record<string, string>;

  beforeAll(async () => {
    db = await freshDatabase(dialect);
    const { config } = loadConfig({
      env: { DATABASE_URL: db.url, ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS },
      cwd: mkdtempSync(join(tmpdir(), 'pa-crash-')),
    });
    runtime = await openRuntime(config);
    const token = (await runtime.admin.addService('app')).token;
    const { user } = await runtime.admin.addUser({ email: 'load@example.com' });
    await runtime.admin.grant({ email: 'load@example.com', service: 'app' });
    const d = newDevice(user.id, 'load', Date.now());
    await runtime.store.devices.create(d.row);
    headers = { Authorization: `Bearer ${token}`, Cookie: `device_id=${d.credential.deviceId}; hmac_secret=${d.credential.secret}` };
    wrong = { ...headers, Cookie: `device_id=${d.credential.deviceId}; hmac_secret=${'0'.repeat(32)}` };
    server = await startServer('crash', { DATABASE_URL: db.url, WORKERS: '2' });
    expect(await eventually(() => workerPids(server.pid).length === 2, 30_000)).toBe(true);
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
    await runtime?.close();
    await db?.drop();
  });

  it('kills one worker mid-load: the rest answer, a new worker takes its place', async () => {
    const results: { good: boolean; status: number }[] = [];
    let running = true;
    const clients = Array.from({ length: CLIENTS }, async (_, i) => {
      const good = i % 2 === 0; // half ask with the genuine pair, half with a wrong secret
      while (running) results.push({ good, status: await get(server.port, good ? headers : wrong) });
    });
    await sleep(1000);
    const [victim] = workerPids(server.pid);
    expect(victim).toBeDefined();
    process.kill(victim as number, 'SIGKILL');
    const killedAt = results.length;
    // A replacement starts (its pid is new), and the load goes on meanwhile.
    expect(await eventually(() => workerPids(server.pid).filter((p) => p !== victim).length === 2, 30_000)).toBe(true);
    await sleep(1000);
    running = false;
    await Promise.all(clients);

    const failed = results.filter((r) => r.status === 0);
    // At most the requests in flight on the dead worker: one per client at the moment it died.
    expect(failed.length).toBeLessThanOrEqual(CLIENTS);
    // Every other request got its right answer: the genuine pair allowed, the wrong secret refused (never a 5xx).
    const answered = results.filter((r) => r.status !== 0);
    expect(answered.filter((r) => r.good && r.status !== 200)).toEqual([]);
    expect(answered.filter((r) => !r.good && r.status === 200)).toEqual([]);
    expect(answered.filter((r) => r.status >= 500)).toEqual([]);
    expect(results.length - killedAt).toBeGreaterThan(CLIENTS * 2);
    expect(server.logLines().some((l) => l.worker === 'primary' && /^worker \d+ died/.test(String(l.msg)))).toBe(true);
  }, 90_000);
});
