// A tiny app behind nginx, Caddy or Traefik with passwordless-auth: it reads who the user is from the identity
// headers the proxy sets. No dependencies.
//
//   PORT=3000 node examples/upstream/server.ts      (Node >= 22.18 runs TypeScript directly; or compile it)
//
// It may trust these headers only because nothing but the proxy can reach it: keep the app on a private
// network (compose.yaml's `internal`), or bind it to 127.0.0.1 next to the proxy. The shipped proxy configs
// replace any client-sent copy, and the sidecar sends all four on every allowed request, empty where the
// user's grant hides the fact (nginx then omits the header; Caddy and Traefik send it empty).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { pathToFileURL } from 'node:url';

export interface ProxyIdentity {
  /** Pseudonymous, stable per user and service: use it as the user's id in this app. */
  readonly userServiceToken: string;
  readonly email: string | undefined;
  readonly name: string | undefined;
  readonly role: 'admin' | 'user' | undefined;
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  // Node joins repeated headers with ", "; a repeated identity header means something is wrong in front.
  if (typeof value !== 'string' || value === '' || value.includes(',')) return undefined;
  return value;
}

/** The identity the proxy vouched for, or undefined (then the proxy config is broken: refuse). */
export function identityFrom(headers: IncomingHttpHeaders): ProxyIdentity | undefined {
  const userServiceToken = single(headers, 'remote-user');
  if (userServiceToken === undefined) return undefined;
  const role = single(headers, 'remote-role');
  return {
    userServiceToken,
    email: single(headers, 'remote-email'),
    name: single(headers, 'remote-name'),
    role: role === 'admin' || role === 'user' ? role : undefined,
  };
}

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

export function createUpstream(): Server {
  return createServer((req, res) => {
    const identity = identityFrom(req.headers);
    if (!identity) {
      // Reached without the proxy's identity: fail closed.
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('No identity from the proxy.\n');
      return;
    }
    if (req.url === '/whoami.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(identity));
      return;
    }
    const greeting = identity.name ?? identity.email ?? `user ${identity.userServiceToken.slice(0, 8)}`;
    const admin = identity.role === 'admin' ? '<p>You are an administrator.</p>' : '';
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(
      `<!doctype html><title>Protected app</title><h1>Hello, ${escapeHtml(greeting)}</h1>${admin}
<form method="post" action="/logout"><button type="submit">Sign out</button></form>\n`,
    );
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const port = Number(process.env.PORT ?? 3000);
  createUpstream().listen(port, process.env.HOST ?? '127.0.0.1', () => {
    console.log(`example upstream on http://${process.env.HOST ?? '127.0.0.1'}:${port}`);
  });
}
