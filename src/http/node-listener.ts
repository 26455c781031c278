// The server's request listener on Node: GET /verify/<service> answered straight on Node's request and response
// objects (the hot path: no Fetch Request/Response objects, no routing), everything else handed to the Hono app.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { type AppDeps, createApp } from './app.js';
import { trustList } from './forwarded.js';
import { pickRawHeaders } from './request-headers.js';
import { type Answer, createVerifier, UNAVAILABLE } from './verify.js';

const PREFIX = '/verify/';

export function createNodeListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const app = createApp(deps);
  const fallback = getRequestListener(app.fetch);
  // With one line per request at debug level wanted, everything goes through the app, whose middleware logs it.
  if (deps.logger.isLevelEnabled('debug')) return (req, res) => void fallback(req, res);

  const verify = createVerifier(deps, trustList(deps.config.trustedProxies));
  const send = (res: ServerResponse, a: Answer) => {
    res.writeHead(a.status, a.headers);
    res.end(a.body ?? undefined);
  };

  return function listener(req, res) {
    const url = req.url ?? '';
    if (req.method !== 'GET' || !url.startsWith(PREFIX)) return void fallback(req, res);
    const q = url.indexOf('?');
    const segment = url.slice(PREFIX.length, q < 0 ? undefined : q);
    let service: string;
    try {
      service = decodeURIComponent(segment);
    } catch {
      return void fallback(req, res); // let the app answer what it makes of a malformed path
    }
    if (segment === '' || segment.includes('/')) return void fallback(req, res);
    const h = pickRawHeaders(req.rawHeaders, ['authorization', 'x-service-token', 'cookie']);
    const answered = verify({
      url,
      service,
      authorization: h.authorization,
      serviceToken: h['x-service-token'],
      cookie: h.cookie,
      headers: {
        get: (name) => {
          const v = req.headers[name];
          return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
        },
      },
      peer: () => req.socket.remoteAddress,
    });
    if (!(answered instanceof Promise)) return send(res, answered);
    answered.then(
      (a) => send(res, a),
      (err: unknown) => {
        deps.logger.error({ err, path: '/verify' }, 'verify failed');
        // Fail closed: the database down or too slow is a denial, never a pass.
        if (!res.headersSent) send(res, UNAVAILABLE);
      },
    );
  };
}
