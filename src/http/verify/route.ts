// GET /verify/<service> as a Hono route: the same seam as the Node fast path, for requests that reach the app
// (in-process tests, and any runtime without the fast path).
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { AppDeps } from '../context.js';
import { toResponse } from './answer.js';
import { rawHeadersOf, readVerifyRequest } from './request.js';
import { createVerifier } from './verifier.js';

export function verifyRoute(deps: AppDeps) {
  const verify = createVerifier(deps);
  return function verifyRoute(c: Context): Response | Promise<Response> {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    // Path and query exactly as sent (Hono's own path is already percent-decoded).
    const url = incoming?.url ?? c.req.url.slice(c.req.url.indexOf('/', c.req.url.indexOf('//') + 2));
    const req = readVerifyRequest(url, incoming?.rawHeaders ?? rawHeadersOf(c.req.raw.headers), deps.peerAddress(c));
    if (req === undefined) return c.notFound();
    const answered = verify(req);
    return answered instanceof Promise ? answered.then(toResponse) : toResponse(answered);
  };
}
