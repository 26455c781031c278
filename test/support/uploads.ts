// A client that sends a large request straight to a server over a raw socket, as curl does (reading while it sends,
// and stopping once an answer starts) or as a careless client does (the whole request first, then reading): what it
// read by the time the connection closed, which is the answer when the server closed it in stages.
import { connect } from 'node:net';

export interface Upload {
  readonly port: number;
  /** The request line and headers, without the blank line that ends them. */
  readonly head: string;
  /** Body bytes to send after the head (framed as chunks when `chunked`). */
  readonly bodyBytes?: number;
  readonly chunked?: boolean;
  /** Exactly this body instead (sent with the head). */
  readonly body?: string;
  /** Write everything before reading anything (default: read while sending, stop sending once an answer starts). */
  readonly lazy?: boolean;
}

/** Everything the server sent before the connection closed, as latin1 text. */
export function upload(u: Upload): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(u.port, '127.0.0.1');
    let received = '';
    let answered = false;
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (/^HTTP\/1\.1 (?!100 )/m.test(received)) answered = true;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    const timer = setTimeout(() => socket.destroy(), 20_000);
    if (u.lazy) socket.pause();
    socket.write(`${u.head}\r\n\r\n${u.body ?? ''}`);
    const piece = Buffer.alloc(64 * 1024, 'a');
    const frame = u.chunked ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]) : piece;
    let sent = 0;
    const pump = () => {
      while (sent < (u.bodyBytes ?? 0) && (u.lazy || !answered)) {
        sent += piece.length;
        if (socket.destroyed) return;
        if (!socket.write(frame)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (u.chunked && !socket.destroyed && !answered) socket.write('0\r\n\r\n');
      if (u.lazy) socket.resume();
    };
    pump();
  });
}
