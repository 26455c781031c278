import { Hono } from 'hono';
import type { AppEnv } from './app.js';

export const healthRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }))
  .get('/readyz', async (c) => {
    // A database that does not answer is unready too, and must be told within the deadline, not when it answers.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), c.var.deps.config.verifyDeadlineInMs);
    });
    const ready = await Promise.race([c.var.deps.ready().catch(() => false), deadline]).finally(() => clearTimeout(timer));
    return c.json({ status: ready ? 'ready' : 'unready' }, ready ? 200 : 503);
  });
