// The server's request listener on Node: GET /verify/<service> answered straight on Node's request and response
// objects (the hot path: no Fetch Request/Response objects, no routing), everything else handed to the Hono app.
// Also where a request body that is too large is refused without breaking a proxy's pooled connection, and where
// connections that must end are closed so that the client reads its answer first.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { createApp, MAX_BODY_BYTES } from './app.js';
import { closeInStages, closeInStagesAfter, closingInStages, refuseOversizedBody } from './body.js';
import type { AppDeps } from './context.js';
import { sendAnswer } from './verify/answer.js';
import { readVerifyRequest } from './verify/request.js';
import { createVerifier } from './verify/verifier.js';

function createNodeListener(deps: AppDeps): (req: IncomingMessage, res: ServerResponse) => void {
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
    } else {
      closeInStagesAfter(req);
      if (refuseOversizedBody(req, res, MAX_BODY_BYTES, deps.logger)) return;
    }
    void fallback(req, res);
  };
}

/** Node's own answers to a request it could not parse (as its default `clientError` handler sends them). */
const PARSE_ERRORS: Readonly<Record<string, string>> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  HPE_CHUNK_EXTENSIONS_OVERFLOW: '413 Payload Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
};

/**
 * The HTTP server around the listener. A declared body over the limit is refused before `100 Continue`, and a
 * request Node cannot parse (a 196 KiB URL) gets Node's usual answer, but with the connection closed in stages
 * rather than at once: the default handler destroys the socket while the rest of the request is still arriving,
 * and the reset loses the answer (Caddy then answers 502 instead of passing the 431 on).
 */
export function createNodeServer(deps: AppDeps): Server {
  const listener = createNodeListener(deps);
  const server = createServer(listener);
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    closeInStagesAfter(req);
    if (refuseOversizedBody(req, res, MAX_BODY_BYTES, deps.logger, true)) return;
    res.writeContinue();
    listener(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    // The parser stays on the socket after its first error and fails again on every later chunk of the same
    // request: those are bytes being dropped, not a new error to answer (destroying here would reset the answer).
    if (closingInStages(socket)) return;
    // Nothing can be written on a connection the client reset, or where an answer is already on its way (Node's
    // own check: `_httpMessage` is the response in flight on this socket).
    const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight) {
      socket.destroy();
      return;
    }
    const status = PARSE_ERRORS[err.code ?? ''] ?? '400 Bad Request';
    socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    closeInStages(socket);
  });
  return server;
}

/** How often, while closing, connections that have become idle are closed. */
const IDLE_SWEEP_MS = 50;

/**
 * Stops accepting and resolves once every connection has ended, letting requests in flight finish. From now on
 * every answer ends its connection (`Connection: close`), and a kept-alive connection is closed as soon as it is
 * idle: `server.close()` alone closes only the connections idle at that moment, so a proxy's pooled connection
 * that is busy then, and gets one request after another, would keep the process alive until it is killed.
 */
export function closeGracefully(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const endConnection = (_req: IncomingMessage, res: ServerResponse) => {
      res.shouldKeepAlive = false;
    };
    server.prependListener('request', endConnection);
    server.prependListener('checkContinue', endConnection);
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    server.close(() => {
      clearInterval(sweep);
      resolve();
    });
  });
}
