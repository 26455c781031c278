// Rule: a graceful stop (SIGTERM) ends even while a proxy keeps a pooled keep-alive connection busy. Requests in
// flight finish; after that, every answer closes its connection and idle connections are closed. The case that
// `server.close()` alone misses: the connection is busy at the moment of the stop (so it is not closed as idle),
// and the client then sends one request after another on it.
import { Agent, createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { closeGracefully } from '../../src/http/node-listener.js';

interface Reply {
  readonly status: number;
  readonly connection: string | undefined;
}

describe('closeGracefully', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  async function start(): Promise<number> {
    server = createServer((req, res) => {
      const answer = () => res.end('ok');
      if (req.url === '/slow') setTimeout(answer, 300);
      else answer();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return (server.address() as AddressInfo).port;
  }

  const get = (port: number, agent: Agent, path: string) =>
    new Promise<Reply | 'error'>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      });
      req.on('error', () => resolve('error'));
      req.end();
    });

  it('ends while a client keeps sending on a connection that was busy when the stop began', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(port, agent, '/')).toEqual({ status: 200, connection: 'keep-alive' });
      // A request is in flight on the pooled connection when the stop begins: it still gets its answer.
      const inFlight = get(port, agent, '/slow');
      await sleep(50);
      let closed = false;
      const closing = closeGracefully(server as Server).then(() => {
        closed = true;
      });
      expect(await inFlight).toMatchObject({ status: 200 });
      // The proxy goes on sending on its pool, back to back and with short pauses, for up to 5 s.
      const replies: Array<Reply | 'error'> = [];
      for (let i = 0; i < 100 && !closed; i++) {
        replies.push(await get(port, agent, '/'));
        if (i % 2 === 1) await sleep(50);
      }
      expect(closed, 'the server closed while the client kept its connection busy').toBe(true);
      await closing;
      // Whatever was answered after the stop began said that the connection ends.
      for (const reply of replies) if (reply !== 'error') expect(reply.connection).toBe('close');
    } finally {
      agent.destroy();
    }
  }, 30_000);
});
