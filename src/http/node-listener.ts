// The server's request listener on Node: GET /verify/<service> answered straight on Node's request and response
// objects (the hot path: no Fetch Request/Response objects, no routing), everything else handed to the Hono app.
// Also where a request body that is too large is refused without breaking a proxy's pooled connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { createApp, MAX_BODY_BYTES } from './app.js';
import { refuseOversizedBody } from './body.js';
import type { AppDeps } from './context.js';
import { sendAnswer } from './verify/answer.js';
import { readVerifyRequest } from './verify/request.js';
import { createVerifier } from './verify/verifier.js';

export function createNodeListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const fallback = getRequestListener(createApp(deps).fetch);
  const verify = createVerifier(deps);

  return function listener(req, res) {
    if (req.method === 'GET') {
      const request = readVerifyRequest(req.url ?? '', req.rawHeaders, req.socket.remoteAddress);
      if (request !== undefined) {
        const answered = verify(request);
        if (answered instanceof Promise) answered.then((a) => sendAnswer(res, a));
        else sendAnswer(res, answered);
        return;
      }
    } else if (refuseOversizedBody(req, res, MAX_BODY_BYTES, deps.logger)) {
      return;
    }
    void fallback(req, res);
  };
}
