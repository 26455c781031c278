// GET /verify/<service>: one decision from the core, rendered for the caller's style. Direct callers get the
// reference's answers; `?proxy=nginx` gets what auth_request understands; `?proxy=traefik|caddy` gets what
// forwardAuth / forward_auth pass back to the browser.
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import type { Context } from 'hono';
import type { Identity, VerifyOutcome } from '../core/auth.js';
import { readDeviceCookies } from '../core/cookies.js';
import type { AppDeps } from './app.js';
import { withDeadline } from './deadline.js';
import { isTrustedPeer, readOriginalRequest } from './forwarded.js';
import { safeRedirect } from './redirect.js';
import { pickHeaders } from './request-headers.js';
import { type ErrorName, errorBody } from './responses.js';

export type ProxyStyle = 'direct' | 'nginx' | 'forward';

const STYLES: Record<string, ProxyStyle> = { nginx: 'nginx', traefik: 'forward', caddy: 'forward' };

/** The identity headers a proxy copies to the upstream. Always all of them on a 200, empty where hidden. */
export const IDENTITY_HEADERS = {
  userServiceToken: 'Remote-User',
  email: 'Remote-Email',
  username: 'Remote-Name',
  role: 'Remote-Role',
} as const satisfies Record<keyof Identity, string>;

/**
 * The caller's credential: a bearer token or X-Service-Token. Anything repeated, two different tokens, or a
 * malformed Authorization header is no credential at all.
 */
export function readCredential(authorization: readonly string[], serviceToken: readonly string[]): string | undefined {
  if (authorization.length > 1 || serviceToken.length > 1) return undefined;
  let bearer: string | undefined;
  if (authorization[0] !== undefined) {
    const m = /^Bearer ([^\s,]+)$/i.exec(authorization[0].trim());
    if (!m) return undefined;
    bearer = m[1];
  }
  const header = serviceToken[0]?.trim();
  if (header !== undefined && (header === '' || header.includes(','))) return undefined;
  if (bearer !== undefined && header !== undefined && bearer !== header) return undefined;
  return bearer ?? header;
}

const JSON_TYPE = 'application/json';

/**
 * An answer, independent of how it is sent (a Fetch Response for Hono, `res.writeHead` on the Node fast path).
 * Headers are plain objects that carry their own Content-Length where there is a body.
 */
export interface Answer {
  readonly status: number;
  readonly body: string | null;
  readonly headers: Record<string, string>;
}

function answer(status: number, body: string | null, headers: Record<string, string> = {}): Answer {
  return { status, body, headers: { 'Cache-Control': 'no-store', ...headers } };
}

/**
 * Error answers, made once per kind: the same bytes every time, and little work. Header objects handed to the
 * Node adapter carry their own Content-Length: without one the adapter adds it to the object it was given, which
 * would corrupt a shared object for the next, longer body.
 */
const ERROR_ANSWERS = new Map<ErrorName, { body: string; headers: Record<string, string> }>();
function errorAnswer(name: ErrorName, status: number, extra?: Record<string, string>): Answer {
  let made = ERROR_ANSWERS.get(name);
  if (made === undefined) {
    const body = errorBody(name);
    made = { body, headers: { 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(body)) } };
    ERROR_ANSWERS.set(name, made);
  }
  return { status, body: made.body, headers: extra ? { ...made.headers, ...extra } : made.headers };
}

/** What a failure (the database down or too slow) answers: a denial. */
export const UNAVAILABLE: Answer = errorAnswer('unavailable', 503, { 'Retry-After': '5' });

/** The rendered 200 per identity; identities are cached with their decisions, so warm hits reuse this. */
const rendered = new WeakMap<Identity, { body: string; headers: Record<string, string> }>();

function allow(identity: Identity): Answer {
  let r = rendered.get(identity);
  if (!r) {
    const data: Record<string, string> = { UserServiceToken: identity.userServiceToken };
    if (identity.email !== undefined) data.Email = identity.email;
    if (identity.username !== undefined) data.Username = identity.username;
    if (identity.role !== undefined) data.UserRole = identity.role;
    const body = JSON.stringify({ 'status code': 200, status: 'ok', data });
    r = {
      body,
      headers: {
        'Content-Length': String(Buffer.byteLength(body)),
        'Cache-Control': 'no-store',
        'Content-Type': JSON_TYPE,
        [IDENTITY_HEADERS.userServiceToken]: identity.userServiceToken,
        [IDENTITY_HEADERS.email]: identity.email ?? '',
        [IDENTITY_HEADERS.username]: identity.username ?? '',
        [IDENTITY_HEADERS.role]: identity.role ?? '',
      },
    };
    rendered.set(identity, r);
  }
  return { status: 200, body: r.body, headers: r.headers };
}

/** Looks up a request header (repeated values joined with commas, as the Fetch `Headers` does). */
export interface HeaderLookup {
  get(name: string): string | null;
}

function isBrowserNavigation(headers: HeaderLookup): boolean {
  const mode = headers.get('sec-fetch-mode');
  if (mode !== null) return mode === 'navigate';
  if ((headers.get('x-requested-with') ?? '').toLowerCase() === 'xmlhttprequest') return false;
  return (headers.get('accept') ?? '').includes('text/html');
}

/** The `proxy` query parameter: `direct` when absent, `undefined` when unknown or repeated. */
function proxyStyle(url: string): ProxyStyle | undefined {
  const q = url.indexOf('?');
  if (q < 0) return 'direct';
  const values = new URLSearchParams(url.slice(q + 1)).getAll('proxy');
  if (values.length === 0) return 'direct';
  return values.length === 1 ? STYLES[values[0] as string] : undefined;
}

/** What the verifier needs from a request, however it arrived. */
export interface VerifyInput {
  /** Path and query as sent, e.g. `/verify/app?proxy=nginx`. */
  readonly url: string;
  /** The service name from the path, percent-decoded. */
  readonly service: string;
  /** Every value of these headers, in order. */
  readonly authorization: readonly string[];
  readonly serviceToken: readonly string[];
  readonly cookie: readonly string[];
  /** All headers, for the rare not-logged-in answers of the proxy styles. */
  readonly headers: HeaderLookup;
  readonly peer: () => string | undefined;
}

/**
 * The /verify decision and its rendering for every caller style, as a plain function from request facts to an
 * answer. Synchronous for warm answers, a promise only when the database must be asked.
 */
export function createVerifier(deps: Pick<AppDeps, 'auth' | 'config' | 'metrics'>, trusted: BlockList) {
  const { auth, config, metrics } = deps;
  const policy = { allowedHosts: config.redirectAllowedHosts, allowHttp: config.insecureHttp };

  function render(input: VerifyInput, style: ProxyStyle, outcome: VerifyOutcome): Answer {
    if (outcome.kind === 'allow') return allow(outcome.identity);
    if (style === 'direct' || outcome.kind === 'bad-credential') {
      switch (outcome.kind) {
        case 'bad-credential':
          return errorAnswer('badServiceCredential', 401);
        case 'unauthenticated':
          return errorAnswer('unauthenticated', 404);
        case 'unknown-service':
          return errorAnswer('unknownService', 404);
        case 'forbidden':
          return errorAnswer('forbidden', 401);
      }
    }
    if (outcome.kind === 'unknown-service' || outcome.kind === 'forbidden') return errorAnswer('forbidden', 403);

    // Not logged in: send the browser to the login page, with where it was going if the proxy told us.
    const original = readOriginalRequest(input.headers, isTrustedPeer(input.peer(), trusted), style);
    const rd = safeRedirect(original.url, policy);
    const loginUrl = `${config.publicUrl}/login${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`;
    if (style === 'nginx') return errorAnswer('unauthenticated', 401, { Location: loginUrl });
    if (!isBrowserNavigation(input.headers)) return errorAnswer('unauthenticated', 401);
    return answer(original.method === 'GET' || original.method === 'HEAD' ? 302 : 303, null, { Location: loginUrl });
  }

  return function verify(input: VerifyInput): Answer | Promise<Answer> {
    const style = proxyStyle(input.url);
    if (style === undefined) return errorAnswer('unknownProxyStyle', 400);
    const credential = readCredential(input.authorization, input.serviceToken);
    const device = readDeviceCookies(input.cookie.length === 1 ? input.cookie[0] : input.cookie.join('; '));
    // Warm answers come from memory, synchronously; only a miss waits for the database, under a deadline.
    const started = performance.now();
    const warm = auth.peek(input.service, credential, device);
    if (warm) {
      metrics?.verified(warm.kind, started);
      return render(input, style, warm);
    }
    return withDeadline(auth.verify(input.service, credential, device), config.verifyDeadlineInMs).then(
      (outcome) => {
        metrics?.verified(outcome.kind, started);
        return render(input, style, outcome);
      },
      (err: unknown) => {
        metrics?.verified('error', started);
        throw err;
      },
    );
  };
}

const toResponse = (a: Answer) => new Response(a.body, { status: a.status, headers: a.headers });

/** /verify as a Hono handler (tests, and any runtime without the Node fast path). */
export function verifyHandler(deps: AppDeps, trusted: BlockList) {
  const verify = createVerifier(deps, trusted);
  return function verifyRoute(c: Context): Response | Promise<Response> {
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const h = pickHeaders(c, ['authorization', 'x-service-token', 'cookie']);
    const answered = verify({
      url: incoming?.url ?? c.req.url,
      service: c.req.param('service') as string,
      authorization: h.authorization,
      serviceToken: h['x-service-token'],
      cookie: h.cookie,
      headers: c.req.raw.headers,
      peer: () => deps.peerAddress(c),
    });
    return answered instanceof Promise ? answered.then(toResponse) : toResponse(answered);
  };
}
