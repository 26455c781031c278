// Rows 1 and 2 of the benchmark: the ceilings. A server answering "ok" and doing nothing else, run as its own
// child process exactly like the real server, so that the benchmark can compare the real server's cost per request
// with the least any Node server can spend. Started by run.mjs with PORT and HOST set; it never listens beyond HOST.
//
//   BARE=node  plain node:http (the true ceiling: the real server answers a warm GET /verify on Node's own request
//              and response, not through Hono)
//   BARE=hono  a Hono app on @hono/node-server (what a route costs when it goes through Hono and its adapter)
//   BARE=node404  plain node:http answering what the sidecar answers junk cookies (404, the same JSON body and
//              headers): the ceiling of the junk row, driven by the same load-generator mode (one that checks
//              every status, which costs the load generator more per answer than the plain mode)
//
// Both answer the path the real server is asked (and /readyz, for run.mjs's readiness check) with the same status,
// body and Content-Type, so the load generator sends and receives the same bytes as in the /verify rows.
import { createServer } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.env.PORT);
const hostname = process.env.HOST || '127.0.0.1';
const kind = process.env.BARE || 'node';
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  process.stderr.write('bare-server: PORT must be set\n');
  process.exit(1);
}

let server;
if (kind === 'node') {
  const headers = { 'content-type': 'text/plain; charset=UTF-8', 'content-length': '2' };
  server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url.startsWith('/verify/') || req.url === '/readyz')) {
      res.writeHead(200, headers);
      res.end('ok');
    } else {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
    }
  });
  server.listen(port, hostname);
} else if (kind === 'node404') {
  const body = '{"status code":404,"error":"Not Found"}';
  const headers = { 'Cache-Control': 'no-store', 'Content-Type': 'application/json', 'Content-Length': String(body.length) };
  server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/readyz') {
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    } else {
      res.writeHead(404, headers);
      res.end(body);
    }
  });
  server.listen(port, hostname);
} else if (kind === 'hono') {
  const app = new Hono();
  app.get('/verify/:service', (c) => c.text('ok'));
  app.get('/readyz', (c) => c.text('ok'));
  server = serve({ fetch: app.fetch, port, hostname });
} else {
  process.stderr.write(`bare-server: BARE must be "node", "node404" or "hono", not "${kind}"\n`);
  process.exit(1);
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => server.close(() => process.exit(0)));
}
