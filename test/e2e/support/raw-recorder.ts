// An HTTP/1.1 server over a raw socket that records each request line byte for byte (latin1) and answers 200.
// Node's own http server parses and may refuse a request target before a test could see it; the bypass battery
// must see exactly what a proxy sent, including bytes an app server would choke on.
import { createServer, type Socket } from 'node:net';

interface RecordedRequest {
  readonly method: string;
  /** The request target exactly as it came on the wire (latin1: one character per byte). */
  readonly target: string;
  /** Header names as sent, in order, with duplicates. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export interface RawRecorder {
  readonly port: number;
  readonly seen: RecordedRequest[];
  /**
   * How a request is answered (default 200 with an empty body). The answer is written as is, plus
   * Content-Length.
   */
  answer: (request: RecordedRequest) => { status: number; headers?: Record<string, string>; body?: string };
  close(): Promise<void>;
}

const HEAD_LIMIT_IN_BYTES = 64 * 1024;

function parseHead(head: string): RecordedRequest & { contentLength: number; chunked: boolean } {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const firstSpace = requestLine.indexOf(' ');
  const lastSpace = requestLine.lastIndexOf(' ');
  const method = requestLine.slice(0, firstSpace);
  const target = requestLine.slice(firstSpace + 1, lastSpace);
  const headers: Array<readonly [string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon), line.slice(colon + 1).trim()]);
  }
  const find = (name: string) => headers.find(([key]) => key.toLowerCase() === name)?.[1];
  return {
    method,
    target,
    headers,
    contentLength: Number(find('content-length') ?? 0) || 0,
    chunked: (find('transfer-encoding') ?? '').toLowerCase().includes('chunked'),
  };
}

export async function startRawRecorder(): Promise<RawRecorder> {
  const sockets = new Set<Socket>();
  const recorder: RawRecorder = {
    port: 0,
    seen: [],
    answer: () => ({ status: 200 }),
    close: async () => {},
  };
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buffer.length > HEAD_LIMIT_IN_BYTES) socket.destroy();
          return;
        }
        const parsed = parseHead(buffer.subarray(0, end).toString('latin1'));
        // The proxies send bodiless requests here, or Content-Length; a chunked body is skipped up to its end.
        let consumed = end + 4 + parsed.contentLength;
        if (parsed.chunked) {
          const last = buffer.indexOf('0\r\n\r\n', end + 4);
          if (last < 0) return;
          consumed = last + 5;
        }
        if (buffer.length < consumed) return;
        buffer = buffer.subarray(consumed);
        const request: RecordedRequest = { method: parsed.method, target: parsed.target, headers: parsed.headers };
        recorder.seen.push(request);
        const answer = recorder.answer(request);
        const body = Buffer.from(answer.body ?? '', 'utf8');
        const lines = [`HTTP/1.1 ${answer.status} X`, `Content-Length: ${body.length}`];
        for (const [name, value] of Object.entries(answer.headers ?? {})) lines.push(`${name}: ${value}`);
        socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), body]));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  Object.assign(recorder, {
    port: address && typeof address === 'object' ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
  return recorder;
}
