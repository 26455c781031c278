// The HTTP application: middleware and routes over the core. Gets everything it needs through `createApp(deps)`.

import type { BlockList } from 'node:net';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { secureHeaders } from 'hono/secure-headers';
import { timeout } from 'hono/timeout';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Auth } from '../core/auth.js';
import { safeEqual } from '../core/crypto.js';
import { messagePage } from '../views/pages.js';
import { accountRoutes } from './account.js';
import { csrfGuard } from './csrf.js';
import { trustList } from './forwarded.js';
import { healthRoutes } from './health.js';
import { loginRoutes } from './login.js';
import type { Metrics } from './metrics.js';
import { errorBody } from './responses.js';
import { verifyHandler } from './verify.js';

export interface AppDeps {
  readonly config: Config;
  readonly auth: Auth;
  readonly logger: Logger;
  /** Readiness: resolves when the database answers and is migrated. */
  readonly ready: () => Promise<boolean>;
  readonly metrics?: Metrics;
  /** When set, /metrics needs `Authorization: Bearer <token>`. */
  readonly metricsToken?: string | undefined;
  /** The socket peer's address; the Node adapter's connection info in production. */
  readonly peerAddress: (c: import('hono').Context) => string | undefined;
}

export interface AppEnv {
  Variables: {
    deps: AppDeps;
    trusted: BlockList;
  };
}

export const MAX_BODY_BYTES = 16 * 1024;

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const trusted = trustList(deps.config.trustedProxies);

  // /verify runs on every request of every protected service, so it lives in a Hono app of its own with no
  // middleware at all (a single matched handler skips Hono's middleware composition); everything else falls
  // through to the full app below.
  const front = new Hono<AppEnv>();
  const app = new Hono<AppEnv>();
  // One line per request at debug level; the middleware exists only when that level is on, so /verify pays
  // nothing for it otherwise.
  if (deps.logger.isLevelEnabled('debug')) {
    front.use(async (c, next) => {
      const started = performance.now();
      await next();
      deps.logger.debug(
        { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round((performance.now() - started) * 10) / 10 },
        'request',
      );
    });
  }
  front.get('/verify/:service', verifyHandler(deps, trusted));
  front.notFound((c) => app.fetch(c.req.raw, c.env));
  front.onError((err, c) => {
    deps.logger.error({ err, path: c.req.path }, 'verify failed');
    // Fail closed: the database down or too slow is a denial, never a pass.
    return c.body(errorBody('unavailable'), 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Retry-After': '5' });
  });

  // A database that hangs must not hang the login: past the deadline the request fails closed (onError → 503).
  app.use(timeout(deps.config.verifyDeadlineInMs * 2));
  app.use(async (c, next) => {
    c.set('deps', deps);
    c.set('trusted', trusted);
    // Set before the handler runs: changing a finished response's headers makes the Node adapter build a full
    // WHATWG Response with streams, which costs most of a warm /verify.
    c.header('Cache-Control', 'no-store');
    await next();
  });
  // Security headers for the pages people see; /verify answers only proxies, and runs on every request.
  const pageHeaders = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      formAction: ["'self'", ...formTargets(deps.config)],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    referrerPolicy: 'same-origin',
    crossOriginResourcePolicy: 'same-origin',
    strictTransportSecurity: deps.config.insecureHttp ? false : 'max-age=31536000; includeSubDomains',
  });
  const csrf = csrfGuard({
    allowedHosts: [new URL(deps.config.publicUrl).hostname, ...deps.config.redirectAllowedHosts],
    allowHttp: deps.config.insecureHttp,
    publicUrl: deps.config.publicUrl,
    loopbackAliases: !deps.config.production,
  });
  for (const path of ['/', '/login', '/login/*', '/logout', '/device/add']) app.use(path, pageHeaders, csrf);
  app.on(
    'POST',
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.body(errorBody('tooLarge'), 413, { 'Content-Type': 'application/json' }),
    }),
  );

  app.route('/', healthRoutes);
  if (deps.metrics) {
    const { registry } = deps.metrics;
    app.get('/metrics', async (c) => {
      const expected = deps.metricsToken;
      if (expected !== undefined && !safeEqual(c.req.header('authorization') ?? '', `Bearer ${expected}`)) {
        return c.body(errorBody('unauthorized'), 401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
      }
      return c.body(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
    });
  }
  app.route('/', loginRoutes);
  app.route('/', accountRoutes);

  app.notFound((c) => c.body(errorBody('notFound'), 404, { 'Content-Type': 'application/json' }));
  app.onError((err, c) => {
    deps.logger.error({ err, path: c.req.path, method: c.req.method }, 'request failed');
    // Fail closed: a failure anywhere (the database down, a slow query) is a denial, never a pass.
    c.header('Retry-After', '5');
    if (c.req.path === '/' || c.req.path.startsWith('/login') || c.req.path === '/logout') {
      return c.html(messagePage('Please try again', 'Signing in is not possible right now. Please try again in a moment.'), 503);
    }
    return c.body(errorBody('unavailable'), 503, { 'Content-Type': 'application/json' });
  });
  return front;
}

/** Where the login form may send the browser after a successful post (CSP form-action follows redirects). */
function formTargets(config: Config): string[] {
  const schemes = config.insecureHttp ? ['https:', 'http:'] : ['https:'];
  return config.redirectAllowedHosts.flatMap((h) =>
    schemes.flatMap((s) => (h.startsWith('.') ? [`${s}//${h.slice(1)}:*`, `${s}//*${h}:*`] : [`${s}//${h}:*`])),
  );
}
