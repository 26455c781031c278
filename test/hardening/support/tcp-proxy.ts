// A TCP proxy the fault tests control, in front of the database: pass traffic, cut it (drop every connection and
// refuse new ones), delay it (hold each chunk back, in order), and restore it.
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far (each is one database connection of the server behind it). */
  readonly accepted: number;
  /** Chunks held back right now: while any is, the database's answer has not reached the server. */
  readonly held: number;
  /** Resets every open connection and refuses new ones until `restore()`. */
  cut(): void;
  /** Holds back every chunk, in both directions, for `ms` before passing it on (order is kept). */
  delay(ms: number): void;
  /** Back to passing traffic straight through; chunks already held are still passed on, in order. */
  restore(): void;
  close(): Promise<void>;
}

interface Pipe {
  readonly from: Socket;
  readonly to: Socket;
  readonly queue: { due: number; chunk: Buffer }[];
  timer: NodeJS.Timeout | undefined;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: 'pass' | 'cut' = 'pass';
  let delayInMs = 0;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const pipes = new Set<Pipe>();

  const pump = (pipe: Pipe) => {
    pipe.timer = undefined;
    const now = Date.now();
    while (pipe.queue.length > 0 && (pipe.queue[0]?.due ?? 0) <= now) {
      const { chunk } = pipe.queue.shift() as { chunk: Buffer };
      if (!pipe.to.destroyed) pipe.to.write(chunk);
    }
    const head = pipe.queue[0];
    if (head) pipe.timer = setTimeout(() => pump(pipe), head.due - now);
  };

  const connect = (from: Socket, to: Socket) => {
    const pipe: Pipe = { from, to, queue: [], timer: undefined };
    pipes.add(pipe);
    from.on('data', (chunk: Buffer) => {
      // Chunks queue behind any still held, so a shorter delay later can never reorder the stream.
      if (delayInMs === 0 && pipe.queue.length === 0) {
        to.write(chunk);
        return;
      }
      pipe.queue.push({ due: Date.now() + delayInMs, chunk });
      if (pipe.timer === undefined) pump(pipe);
    });
    from.on('close', () => {
      pipes.delete(pipe);
      if (pipe.timer) clearTimeout(pipe.timer);
      to.destroy();
    });
  };

  const server: Server = createServer((client) => {
    accepted++;
    if (mode === 'cut') {
      client.resetAndDestroy();
      return;
    }
    const upstream = createConnection(target);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => sockets.delete(s));
    }
    connect(client, upstream);
    connect(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };

  return {
    port,
    get accepted() {
      return accepted;
    },
    get held() {
      let n = 0;
      for (const p of pipes) n += p.queue.length;
      return n;
    },
    cut() {
      mode = 'cut';
      for (const s of sockets) s.resetAndDestroy();
    },
    delay(ms) {
      mode = 'pass';
      delayInMs = ms;
    },
    restore() {
      mode = 'pass';
      delayInMs = 0;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
