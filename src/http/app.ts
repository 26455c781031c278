// The HTTP application: middleware and routes over the core. Gets everything it needs through `createApp(deps)`.
import { Hono } from 'hono';
import { safeEqual } from '../core/crypto.js';
import { messagePage } from '../views/pages.js';
import { accountRoutes } from './account.js';
import { accountAuthenticatorRoutes } from './account-authenticator.js';
import { accountPasskeyRoutes } from './account-passkeys.js';
import { bodyReader } from './body.js';
import type { AppDeps, AppEnv } from './context.js';
import { csrfGuard } from './csrf.js';
import { DeadlineError, deadline } from './deadline.js';
import { enrollRoutes } from './enroll.js';
import { trustList } from './forwarded.js';
import { healthRoutes } from './health.js';
import { loginRoutes } from './login.js';
import { loginHostGuard } from './login-host.js';
import { pageHeaders, pageHeadersMiddleware } from './page-headers.js';
import { passkeyLoginRoutes } from './passkey-login.js';
import { errorBody } from './responses.js';
import { verifyRoute } from './verify/route.js';

export const MAX_BODY_BYTES = 16 * 1024;
/** How long a client may take to send a POST body (at most MAX_BODY_BYTES) before it gets 408. */
const BODY_TIMEOUT_IN_MS = 10_000;

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const { config, logger } = deps;
  const trusted = trustList(config.trustedProxies);

  // /verify runs on every request of every protected service, so it lives in a Hono app of its own with no
  // middleware at all; everything else falls through to the full app below. (On Node, the listener answers
  // /verify before Hono; this route serves in-process requests.)
  const front = new Hono<AppEnv>();
  const app = new Hono<AppEnv>();
  front.get('/verify/:service', verifyRoute(deps));
  front.notFound((c) => app.fetch(c.req.raw, c.env));

  // One line per request at debug level; the middleware exists only when that level is on. /verify logs its own
  // line from its seam (src/http/verify/verifier.ts).
  if (logger.isLevelEnabled('debug')) {
    app.use(async (c, next) => {
      const started = performance.now();
      await next();
      logger.debug(
        {
          method: c.req.method,
          path: c.req.path,
          status: c.res.status,
          ms: Math.round((performance.now() - started) * 10) / 10,
        },
        'request',
      );
    });
  }
  app.use(async (c, next) => {
    c.set('deps', deps);
    c.set('trusted', trusted);
    c.header('Cache-Control', 'no-store');
    await next();
  });
  // Security headers for the pages people see, and the login CSRF guard for their forms.
  const headers = pageHeadersMiddleware(pageHeaders(config));
  const csrf = csrfGuard({
    allowedOrigins: config.allowedOrigins,
    allowHttp: config.insecureHttp,
    publicUrl: config.publicUrl,
    loopbackAliases: !config.production,
  });
  for (const path of ['/', '/login', '/login/*', '/logout', '/device/add']) app.use(path, headers, csrf);
  // The body first (the client's time), then the request's deadline (the database's time).
  app.use(bodyReader(MAX_BODY_BYTES, BODY_TIMEOUT_IN_MS, logger));
  // Before anything is checked or spent: login pages asked for on a host where they cannot work go to PUBLIC_URL.
  const hostGuard = loginHostGuard(config);
  for (const path of ['/login', '/login/*']) app.use(path, hostGuard);
  app.use(deadline(config.verifyDeadlineInMs * 2));

  app.route('/', healthRoutes);
  if (deps.metrics) {
    const metrics = deps.metrics;
    const { registry } = metrics;
    app.get('/metrics', async (c) => {
      const expected = config.metricsToken;
      if (expected !== undefined && !safeEqual(c.req.header('authorization') ?? '', `Bearer ${expected}`)) {
        return c.body(errorBody('unauthorized'), 401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer' });
      }
      return c.body(await metrics.render(), 200, { 'Content-Type': registry.contentType });
    });
  }
  app.route('/', loginRoutes);
  app.route('/', accountRoutes);
  app.route('/', accountPasskeyRoutes);
  app.route('/', accountAuthenticatorRoutes);
  app.route('/', passkeyLoginRoutes);
  app.route('/', enrollRoutes);

  app.notFound((c) => c.body(errorBody('notFound'), 404, { 'Content-Type': 'application/json' }));
  app.onError((err, c) => {
    if (c.var.deadline?.aborted && !(err instanceof DeadlineError)) {
      // The request was answered (503) at its deadline; this is the work it left behind failing later.
      logger.warn({ path: c.req.path, method: c.req.method, err }, 'request failed after its deadline');
      return c.body(null, 503);
    }
    if (err instanceof DeadlineError) logger.error({ path: c.req.path, method: c.req.method }, `request failed: ${err.message}`);
    else logger.error({ err, path: c.req.path, method: c.req.method }, 'request failed');
    // Fail closed: a failure anywhere (the database down, a slow query) is a denial, never a pass.
    c.header('Retry-After', '5');
    if (c.req.path === '/' || c.req.path.startsWith('/login') || c.req.path === '/logout') {
      return c.html(messagePage('Please try again', 'Signing in is not possible right now. Please try again in a moment.'), 503);
    }
    return c.body(errorBody('unavailable'), 503, { 'Content-Type': 'application/json' });
  });
  return front;
}
