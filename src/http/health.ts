// Liveness and readiness, for orchestrators and load balancers.
import { Hono } from 'hono';
import type { AppEnv } from './context.js';
import { withDeadline } from './deadline.js';

export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    // A database that does not answer is unready too, and must be told within the deadline, not when it answers.
    const ready = await withDeadline(c.var.deps.ready(), c.var.deps.config.verifyDeadlineInMs).catch(() => false);
    // The feed being behind does not make the instance unready (its cache falls back to the short bound then),
    // but an operator should see it.
    const feed = c.var.deps.feedStatus?.();
    const body = feed ? { changeFeed: { healthy: feed.healthy, lagMs: feed.lagInMs } } : {};
    return c.json({ status: ready ? 'ready' : 'unready', ...body }, ready ? 200 : 503);
  });
