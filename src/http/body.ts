// Request bodies: at most MAX_BODY_BYTES, received within a time limit, read once before any handler runs, and
// refused in a way that keeps a proxy's pooled keep-alive connection usable for the next request, or, where the
// connection has to end, closed in stages so that the client still reads the refusal.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { AppEnv } from './context.js';
import { errorBody } from './responses.js';

/** A body this much over the limit is still read (and thrown away) before the 413, so the connection stays in step. */
const DRAIN_LIMIT_BYTES = 1024 * 1024;
const DRAIN_TIMEOUT_MS = 5_000;
/** After an answer that ends a connection: what is still read (and thrown away), and for how long at most. */
const LINGER_BYTES = 16 * 1024 * 1024;
const LINGER_MS = 5_000;
const LINGER_CHECK_MS = 100;

const pathOf = (url: string | undefined) => (url ?? '').split('?', 1)[0];

/**
 * Ends a connection in stages (RFC 9112 §9.6, "the TCP reset problem"): the answer already written, the write side
 * is closed (FIN), and whatever the client still sends is read and thrown away until it closes its side, or
 * LINGER_BYTES arrived, or LINGER_MS passed; only then does the socket close. Closing at once while a body is still
 * arriving makes the kernel answer with a reset, and the client loses the answer it had not read yet (curl: "Connection
 * reset by peer" instead of the 413; Caddy: a 502). As nginx's lingering close does.
 */
export function closeInStages(socket: Socket, req?: IncomingMessage): void {
  if (lingering.has(socket)) return;
  lingering.add(socket);
  if (!socket.writableEnded) socket.end();
  if (socket.destroyed || socket.readableEnded) {
    socket.destroy();
    return;
  }
  const startedAt = Date.now();
  const readBefore = socket.bytesRead;
  const timer = setInterval(() => {
    if (socket.bytesRead - readBefore > LINGER_BYTES || Date.now() - startedAt > LINGER_MS) socket.destroy();
  }, LINGER_CHECK_MS);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
  socket.once('end', () => socket.destroy());
  if (req) {
    // The HTTP parser reads the socket and feeds the request: the request is read and its bytes dropped (whoever read
    // it before, such as a web stream over it that stopped, reads no more, as Node's own dump does). The socket is
    // paused and resumed so that the parser's read, stopped while the request had no reader, starts again.
    req.removeAllListeners('data');
    req.on('data', () => {});
    req.resume();
    socket.pause();
  } else {
    // After a parse error nothing reads the socket: its bytes are dropped here.
    socket.on('data', () => {});
  }
  socket.resume();
}
const lingering = new WeakSet<Socket>();

/** Whether the socket is being closed in stages already (what still arrives on it is dropped, errors included). */
export const closingInStages = (socket: Socket): boolean => lingering.has(socket);

/**
 * Node ends a `Connection: close` answer with `socket.destroySoon()` (or `socket.end()` where a socket has none), which
 * closes the socket as soon as the answer is written. For a request whose body may still be arriving, that becomes
 * `closeInStages`: set per request, on the request's socket, before the app answers.
 */
export function closeInStagesAfter(req: IncomingMessage): void {
  const socket = req.socket;
  socket.destroySoon = () => {
    // The request was read to its end: nothing more is coming, and the usual close is right.
    if (req.complete) {
      Socket.prototype.destroySoon.call(socket);
    } else {
      closeInStages(socket, req);
    }
  };
}

function tooLarge(res: ServerResponse, close: boolean): void {
  const body = errorBody('tooLarge');
  res.writeHead(413, {
    'Cache-Control': 'no-store',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    ...(close ? { Connection: 'close' } : {}),
  });
  res.end(body);
}

/**
 * On Node, before the app: a request whose Content-Length is over the limit gets 413 without its body being parsed.
 * A client that waits for `100 Continue` gets the 413 instead, and sends nothing (`expectsContinue`). Otherwise,
 * answering while the body is still arriving would leave a proxy's pooled connection out of step (nginx then
 * answers the next request on it with 502), so the body is read and discarded first, up to a bound; past that
 * bound the 413 says `Connection: close` and the connection is closed in stages (`closeInStagesAfter`). `true`
 * when the request was answered here.
 */
export function refuseOversizedBody(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
  logger: Logger,
  expectsContinue = false,
): boolean {
  const declared = req.headers['content-length'];
  if (declared === undefined || !(Number(declared) > limitBytes)) return false;
  logger.warn({ method: req.method, path: pathOf(req.url), bytes: Number(declared) }, 'request body too large; answered 413');
  // A client told "no" before it sent its body may still send it (RFC 9110 §10.1.1): the connection cannot stay.
  if (expectsContinue || Number(declared) > DRAIN_LIMIT_BYTES) {
    tooLarge(res, true);
    return true;
  }
  let answered = false;
  const answer = (close: boolean) => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    tooLarge(res, close);
  };
  const timer = setTimeout(() => answer(true), DRAIN_TIMEOUT_MS);
  req.on('end', () => answer(false));
  req.on('error', () => answer(true));
  req.resume();
  return true;
}

const REFUSALS = {
  'too-large': ['tooLarge', 413, 'too large'],
  timeout: ['bodyTimeout', 408, 'not received in time'],
  broken: ['badRequest', 400, 'broken off'],
} as const;

/**
 * Reads a POST body before the handler runs: 413 past `limitBytes` (a body without Content-Length, streamed), 408
 * when it has not arrived within `timeoutInMs` (a client trickling it in), each with one warning line and
 * `Connection: close`. Waiting for a client is not the database being slow, so it has its own limit, before the
 * request's deadline starts.
 */
export function bodyReader(limitBytes: number, timeoutInMs: number, logger: Logger): MiddlewareHandler<AppEnv> {
  return async function readBody(c, next) {
    if (c.req.method !== 'POST') return next();
    const stream = c.req.raw.body;
    const chunks: Uint8Array[] = [];
    let size = 0;
    let outcome = 'ok' as 'ok' | 'too-large' | 'timeout' | 'broken';
    if (stream) {
      const reader = stream.getReader();
      const timer = setTimeout(() => {
        outcome = 'timeout';
        void reader.cancel().catch(() => {});
      }, timeoutInMs);
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done || outcome !== 'ok') break;
          size += value.byteLength;
          if (size > limitBytes) {
            outcome = 'too-large';
            void reader.cancel().catch(() => {});
            break;
          }
          chunks.push(value);
        }
      } catch {
        if (outcome === 'ok') outcome = 'broken';
      } finally {
        clearTimeout(timer);
      }
    }
    if (outcome !== 'ok') {
      const [name, status, what] = REFUSALS[outcome];
      logger.warn({ method: 'POST', path: c.req.path, bytes: size }, `request body ${what}; answered ${status}`);
      return c.body(errorBody(name), status, { 'Content-Type': 'application/json', Connection: 'close' });
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    c.set('body', body);
    await next();
  };
}
