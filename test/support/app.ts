// An app on a fresh database with a fixed clock, plus the steps tests repeat: log in, call /verify. Requests go
// either in-process (`app.request`) or, with transport 'node', through the production listener (the Node fast
// path for /verify, the Hono app behind it) on a real server on 127.0.0.1.
import { request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { generate } from 'otplib';
import type { Logger } from 'pino';
import { type Config, loadConfig } from '../../src/config/config.js';
import { fixedClock } from '../../src/core/clock.js';
import { createApp } from '../../src/http/app.js';
import type { AppDeps } from '../../src/http/context.js';
import { createMetrics } from '../../src/http/metrics.js';
import { createNodeServer } from '../../src/http/node-listener.js';
import { createLogger } from '../../src/logging.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import type { Dialect } from '../../src/store/database.js';
import { createTestDatabase, type TestDatabase } from './databases.js';

export const TEST_KEY = 'test1:Le3KcBetev2nVfFI9w1ZDPuPV9HpLpbF6th4waZ8ELg=';
export const START = Date.UTC(2026, 10, 27, 12, 0, 15);

export type Transport = 'in-process' | 'node';
export const TRANSPORTS: readonly Transport[] = ['in-process', 'node'];

/** The trusted proxy's address in TRUSTED_PROXIES of every test app. */
const TRUSTED_PROXY = '10.0.0.2';

interface RawRequest {
  readonly method?: string;
  readonly path: string;
  /** Header lines as sent, repeated names included. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string | Uint8Array;
}

export interface TestApp {
  app: ReturnType<typeof createApp>;
  readonly runtime: Runtime;
  readonly config: Config;
  readonly clock: ReturnType<typeof fixedClock>;
  readonly transport: Transport;
  /** The real server's port on 127.0.0.1 (transport 'node'; 0 in-process), for clients that write raw bytes. */
  readonly port: number;
  /**
   * The socket peer the app sees; set it to test trusted-proxy handling. Over the 'node' transport the request
   * really comes from a loopback address standing in for it: TRUSTED_PROXY from 127.0.0.2 (which is trusted
   * there too), any other address from 127.0.0.3.
   */
  peer: string | undefined;
  request(path: string, init?: RequestInit): Promise<Response>;
  /** A Fetch Request as a client would send it. */
  send(req: Request): Promise<Response>;
  /** Exact header lines (repeated headers stay repeated); over 'node' only. */
  raw(req: RawRequest): Promise<Response>;
  /** A TOTP code for `secret` one step later than the last one (so the replay guard never trips by accident). */
  nextCode(secret: string): Promise<string>;
  /** Logs in through /device/add and returns the Cookie header value. */
  login(email: string, secret: string): Promise<string>;
  close(): Promise<void>;
}

export async function createTestApp(
  dialect: Dialect,
  env: Record<string, string> = {},
  logger: Logger = createLogger({ level: 'silent' }),
  transport: Transport = 'in-process',
): Promise<TestApp> {
  const tdb: TestDatabase = await createTestDatabase(dialect);
  const { config } = loadConfig({
    env: {
      DATABASE_URL: tdb.url,
      ENCRYPTION_KEYS: TEST_KEY,
      PUBLIC_URL: 'https://auth.example.com',
      LANDING_URL: 'https://home.example.com/',
      COOKIE_DOMAIN: 'example.com',
      TRUSTED_PROXIES: transport === 'node' ? `${TRUSTED_PROXY},127.0.0.2` : TRUSTED_PROXY,
      LOG_LEVEL: 'silent',
      ...env,
    },
  });
  const clock = fixedClock(START);
  const runtime = await openRuntime(config, { clock });
  let server: Server | undefined;
  let port = 0;
  const localAddress = () => (t.peer === undefined ? '127.0.0.1' : t.peer === TRUSTED_PROXY ? '127.0.0.2' : '127.0.0.3');

  function overNode(req: RawRequest): Promise<Response> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: '127.0.0.1',
          port,
          localAddress: localAddress(),
          method: req.method ?? 'GET',
          path: req.path,
          // HTTP/1.1 needs a Host header; Node refuses a request without one.
          headers: [
            ...(req.headers?.some(([n]) => n.toLowerCase() === 'host') ? [] : [['Host', 'auth.example.com']]),
            ...(req.headers ?? []),
          ].flat(),
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const headers = new Headers();
            for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
              headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
            const status = res.statusCode ?? 0;
            const empty = status === 204 || status === 304 || req.method === 'HEAD';
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, headers }));
          });
        },
      );
      outgoing.on('error', reject);
      outgoing.end(req.body);
    });
  }

  async function send(req: Request): Promise<Response> {
    if (transport === 'in-process') {
      return t.app.request(req);
    }
    const url = new URL(req.url);
    const body = req.body ? new Uint8Array(await req.arrayBuffer()) : undefined;
    const headers: [string, string][] = [['Host', url.host]];
    req.headers.forEach((value, name) => {
      headers.push([name, value]);
    });
    if (body !== undefined && !req.headers.has('content-length')) headers.push(['Content-Length', String(body.byteLength)]);
    return overNode({ method: req.method, path: `${url.pathname}${url.search}`, headers, ...(body ? { body } : {}) });
  }

  const t: TestApp = {
    app: undefined as unknown as TestApp['app'],
    runtime,
    config,
    clock,
    transport,
    get port() {
      return port;
    },
    peer: undefined,
    request: (path, init) => send(new Request(`http://auth.example.com${path}`, init)),
    send,
    raw(req) {
      if (transport !== 'node') throw new Error("raw requests need the 'node' transport");
      return overNode(req);
    },
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
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      await runtime.close();
      await tdb.drop();
    },
  };
  const metrics = createMetrics({ cacheStats: runtime.cacheStats, pool: () => runtime.database.poolStats?.() });
  const deps: AppDeps = {
    config,
    signIn: runtime.signIn,
    devices: runtime.devices,
    access: runtime.access,
    invites: runtime.invites,
    passkeys: runtime.passkeys,
    passkeyAccount: runtime.passkeyAccount,
    authenticatorApp: runtime.authenticatorApp,
    logger,
    metrics,
    ready: runtime.ready,
    peerAddress: () => t.peer,
  };
  t.app = createApp(deps);
  if (transport === 'node') {
    // The production listener, as main.ts builds it: the peer is the real socket's address.
    const { getConnInfo } = await import('@hono/node-server/conninfo');
    server = createNodeServer({ ...deps, peerAddress: (c) => getConnInfo(c).remote.address });
    server.keepAliveTimeout = 1;
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }
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

/** A stream for a test's logger that parses each JSON log line into `lines`, so a test can read what was logged. */
export function jsonLines(lines: Array<Record<string, unknown>>): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
}
