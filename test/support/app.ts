// An app on a fresh database with a fixed clock, plus the steps tests repeat: log in, call /verify.
import { generate } from 'otplib';
import { type Logger, pino } from 'pino';
import { type Config, loadConfig } from '../../src/config.js';
import { fixedClock } from '../../src/core/clock.js';
import { createApp } from '../../src/http/app.js';
import { createMetrics } from '../../src/http/metrics.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { Dialect } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export const TEST_KEY = 'test1:Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg=';
export const START = Date.UTC(2026, 10, 27, 12, 0, 15);

export interface TestApp {
  app: ReturnType<typeof createApp>;
  readonly runtime: Runtime;
  readonly config: Config;
  readonly clock: ReturnType<typeof fixedClock>;
  /** The socket peer the app sees; set it to test trusted-proxy handling. */
  peer: string | undefined;
  request(path: string, init?: RequestInit): Promise<Response>;
  /** A TOTP code for `secret` one step later than the last one (so the replay guard never trips by accident). */
  nextCode(secret: string): Promise<string>;
  /** Logs in through /device/add and returns the Cookie header value. */
  login(email: string, secret: string): Promise<string>;
  close(): Promise<void>;
}

export async function createTestApp(
  dialect: Dialect,
  env: Record<string, string> = {},
  logger: Logger = pino({ level: 'silent' }),
): Promise<TestApp> {
  const tdb: TestDatabase = await createTestDatabase(dialect);
  const { config } = loadConfig({
    env: {
      DATABASE_URL: tdb.url,
      ENCRYPTION_KEYS: TEST_KEY,
      PUBLIC_URL: 'https://auth.example.com',
      LANDING_URL: 'https://home.example.com/',
      COOKIE_DOMAIN: 'example.com',
      TRUSTED_PROXIES: '10.0.0.2',
      LOG_LEVEL: 'silent',
      ...env,
    },
    createKeyFile: false,
  });
  const clock = fixedClock(START);
  const runtime = await openRuntime(config, { clock });
  const t: TestApp = {
    app: undefined as unknown as TestApp['app'],
    runtime,
    config,
    clock,
    peer: undefined,
    request: (path, init) => Promise.resolve(t.app.request(`http://auth.example.com${path}`, init)),
    async nextCode(secret) {
      clock.advance(30_000);
      return generate({ secret, epoch: Math.floor(clock.now() / 1000) });
    },
    async login(email, secret) {
      const res = await t.request('/device/add', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, device_registration_code: await t.nextCode(secret), device_type: 'Test Browser' }),
      });
      if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
      return cookieHeader(res);
    },
    async close() {
      await runtime.close();
      await tdb.drop();
    },
  };
  const metrics = createMetrics({ cacheStats: runtime.cacheStats, pool: () => runtime.database.poolStats?.() });
  t.app = createApp({
    config,
    signIn: runtime.signIn,
    devices: runtime.devices,
    access: runtime.access,
    logger,
    metrics,
    ready: runtime.ready,
    peerAddress: () => t.peer,
  });
  return t;
}

/** The `Cookie` header a browser would send back after this response. */
export function cookieHeader(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

/** A JSON body for assertions; tests state its shape with `toEqual`. */
// biome-ignore lint/suspicious/noExplicitAny: assertion input, checked by the expectations that use it
export async function readJson(res: Response): Promise<any> {
  return res.json();
}
