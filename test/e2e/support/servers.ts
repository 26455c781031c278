// In-process HTTP servers for the e2e tests: the protected upstream (echoes what it received) and a scripted
// stand-in for the sidecar (to test what a proxy config sends to /verify and how it treats each answer).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  readonly url: string;
  /** Header names exactly as they arrived on the wire, in order, with duplicates. */
  readonly rawHeaders: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/** Every value of one header, matched case-insensitively on the exact name (no `-`/`_` folding). */
export function headerValues(seen: SeenRequest | undefined, name: string): string[] {
  const lower = name.toLowerCase();
  if (seen === undefined) return [];
  return seen.rawHeaders.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
}

/** Names of all headers that look like an identity header in any spelling: remote-user, REMOTE_USER, ... */
export function identityLikeHeaders(seen: SeenRequest | undefined): Array<readonly [string, string]> {
  if (seen === undefined) return [];
  return seen.rawHeaders.filter(([key]) => /^remote[-_]/i.test(key));
}

async function readRequest(req: IncomingMessage): Promise<SeenRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const rawHeaders: Array<readonly [string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    rawHeaders.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  }
  return { method: req.method ?? '', url: req.url ?? '', rawHeaders, body: Buffer.concat(chunks).toString('utf8') };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

export interface EchoUpstream {
  readonly port: number;
  readonly seen: SeenRequest[];
  /** The last request whose path and query equal `url`. */
  last(url: string): SeenRequest | undefined;
  close(): Promise<void>;
}

/** The protected app: answers 200 with a JSON description of the request it received. */
export async function startEchoUpstream(): Promise<EchoUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    const request = await readRequest(req);
    seen.push(request);
    const body = JSON.stringify({ upstream: 'echo', ...request });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  const port = await listen(server);
  return {
    port,
    seen,
    last: (url) => seen.filter((request) => request.url === url).at(-1),
    close: closer(server),
  };
}

interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

export interface FakeSidecar {
  readonly port: number;
  readonly seen: SeenRequest[];
  /** How /verify/... requests are answered; change it per test. */
  answerVerify: (request: SeenRequest) => ScriptedAnswer;
  close(): Promise<void>;
}

/**
 * Stands in for the sidecar: `/verify/...` is answered by `answerVerify`; every other path (the login pages
 * the proxy routes to the sidecar) answers 200 `{"fakeSidecar":true,...}` so a test can see it was reached.
 */
export async function startFakeSidecar(): Promise<FakeSidecar> {
  const fake: FakeSidecar = {
    port: 0,
    seen: [],
    answerVerify: () => ({ status: 200 }),
    close: async () => {},
  };
  const server = createServer(async (req, res) => {
    const request = await readRequest(req);
    fake.seen.push(request);
    if (request.url.startsWith('/verify/')) {
      const answer = fake.answerVerify(request);
      const body = answer.body ?? '';
      res.writeHead(answer.status, { ...answer.headers, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    const body = JSON.stringify({ fakeSidecar: true, method: request.method, url: request.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  Object.assign(fake, { port: await listen(server), close: closer(server) });
  return fake;
}
