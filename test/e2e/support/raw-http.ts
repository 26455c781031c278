// A deliberately dumb HTTP/1.1 client over a raw socket to 127.0.0.1. Node's http client folds header names
// and refuses some spellings; spoofing tests need to send `Remote_User`, `REMOTE-USER` and friends, in the
// same request, byte for byte.
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  /** Lower-cased header name → every value. */
  readonly headers: Record<string, string[]>;
  readonly body: string;
}

export interface RawRequest {
  readonly port: number;
  /** Value of the Host header, e.g. `app.example.test:18080`. */
  readonly host: string;
  readonly method?: string;
  readonly path: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
  readonly body?: string;
}

function decodeChunked(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(data.subarray(offset, lineEnd).toString('latin1').split(';')[0] ?? '', 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

export async function rawRequest(request: RawRequest): Promise<RawResponse> {
  const method = request.method ?? 'GET';
  const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
  const lines = [`${method} ${request.path} HTTP/1.1`, `Host: ${request.host}`, 'Connection: close'];
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  if (body !== undefined) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

  const data = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: request.port });
    const chunks: Buffer[] = [];
    socket.setTimeout(15_000, () => socket.destroy(new Error(`no answer from 127.0.0.1:${request.port}`)));
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.write(body === undefined ? head : Buffer.concat([head, body]));
  });

  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd < 0) throw new Error(`malformed response: ${data.toString('latin1').slice(0, 200)}`);
  const [statusLine = '', ...headerLines] = data.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = Number(statusLine.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers[name] = [...(headers[name] ?? []), line.slice(colon + 1).trim()];
  }
  let payload = data.subarray(headEnd + 4);
  if (headers['transfer-encoding']?.some((value) => value.toLowerCase().includes('chunked'))) {
    payload = decodeChunked(payload);
  }
  return { status, headers, body: payload.toString('utf8') };
}

/** The first value of a response header, or undefined. */
export const firstHeader = (response: RawResponse, name: string): string | undefined => response.headers[name.toLowerCase()]?.[0];
