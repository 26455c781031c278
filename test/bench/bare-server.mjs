// Row 1 of the benchmark: the ceiling. A bare Hono app on @hono/node-server answering "ok", run as its own child
// process exactly like the real server. It answers the same path the real server is asked (so the request bytes
// are identical) and nothing else. Started by run.mjs with PORT and HOST set; it never listens beyond HOST.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.env.PORT);
const hostname = process.env.HOST || '127.0.0.1';
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('bare-server: PORT must be set\n');
  process.exit(1);
}

const app = new Hono();
app.get('/verify/:service', (c) => c.text('ok'));
app.get('/readyz', (c) => c.text('ok'));

const server = serve({ fetch: app.fetch, port, hostname });
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
