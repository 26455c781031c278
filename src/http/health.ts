import { Hono } from 'hono';
import type { AppEnv } from './app.js';

export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    const ready = await c.var.deps.ready().catch(() => false);
    return c.json({ status: ready ? 'ready' : 'unready' }, ready ? 200 : 503);
  });
