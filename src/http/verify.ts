// GET /verify/<service>: one decision from the core, rendered for the caller's style. Direct callers get the
// reference's answers; `?proxy=nginx` gets what auth_request understands; `?proxy=traefik|caddy` gets what
// forwardAuth / forward_auth pass back to the browser.
import { type Context, Hono } from 'hono';
import type { Identity, VerifyOutcome } from '../core/auth.js';
import { readDeviceCookies } from '../core/cookies.js';
import type { AppEnv } from './app.js';
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

function jsonError(c: Context<AppEnv>, name: ErrorName, status: 401 | 403 | 404, extra: Record<string, string> = {}) {
  return c.body(errorBody(name), status, { 'Content-Type': 'application/json', ...extra });
}

function allow(c: Context<AppEnv>, identity: Identity) {
  const data: Record<string, string> = { UserServiceToken: identity.userServiceToken };
  if (identity.email !== undefined) data.Email = identity.email;
  if (identity.username !== undefined) data.Username = identity.username;
  if (identity.role !== undefined) data.UserRole = identity.role;
  for (const [key, header] of Object.entries(IDENTITY_HEADERS)) {
    c.header(header, identity[key as keyof Identity] ?? '');
  }
  return c.json({ 'status code': 200, status: 'ok', data }, 200);
}

function isBrowserNavigation(headers: Headers): boolean {
  const mode = headers.get('sec-fetch-mode');
  if (mode !== null) return mode === 'navigate';
  if ((headers.get('x-requested-with') ?? '').toLowerCase() === 'xmlhttprequest') return false;
  return (headers.get('accept') ?? '').includes('text/html');
}

function render(c: Context<AppEnv>, style: ProxyStyle, outcome: VerifyOutcome) {
  if (outcome.kind === 'allow') return allow(c, outcome.identity);
  if (style === 'direct' || outcome.kind === 'bad-credential') {
    switch (outcome.kind) {
      case 'bad-credential':
        return jsonError(c, 'badServiceCredential', 401);
      case 'unauthenticated':
        return jsonError(c, 'unauthenticated', 404);
      case 'unknown-service':
        return jsonError(c, 'unknownService', 404);
      case 'forbidden':
        return jsonError(c, 'forbidden', 401);
    }
  }
  if (outcome.kind === 'unknown-service' || outcome.kind === 'forbidden') return jsonError(c, 'forbidden', 403);

  // Not logged in: send the browser to the login page, with where it was going if the proxy told us.
  const { config } = c.var.deps;
  const trusted = isTrustedPeer(c.var.deps.peerAddress(c), c.var.trusted);
  const original = readOriginalRequest(c.req.raw.headers, trusted, style);
  const rd = safeRedirect(original.url, { allowedHosts: config.redirectAllowedHosts, allowHttp: config.insecureHttp });
  const loginUrl = `${config.publicUrl}/login${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`;
  if (style === 'nginx') return jsonError(c, 'unauthenticated', 401, { Location: loginUrl });
  if (!isBrowserNavigation(c.req.raw.headers)) return jsonError(c, 'unauthenticated', 401);
  const status = original.method === 'GET' || original.method === 'HEAD' ? 302 : 303;
  return c.body(null, status, { Location: loginUrl });
}

export const verifyRoutes = new Hono<AppEnv>().get('/verify/:service', async (c) => {
  const styleParams = c.req.queries('proxy');
  let style: ProxyStyle = 'direct';
  if (styleParams !== undefined) {
    const named = styleParams.length === 1 ? STYLES[styleParams[0] as string] : undefined;
    if (!named) return c.body(errorBody('unknownProxyStyle'), 400, { 'Content-Type': 'application/json' });
    style = named;
  }
  const { auth, config } = c.var.deps;
  const h = pickHeaders(c, ['authorization', 'x-service-token', 'cookie']);
  const outcome = await withDeadline(
    auth.verify(c.req.param('service'), readCredential(h.authorization, h['x-service-token']), readDeviceCookies(h.cookie.join('; '))),
    config.verifyDeadlineInMs,
  );
  return render(c, style, outcome);
});

/** Fails closed: a database that does not answer in time is a denial (503), well before the proxy gives up. */
function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`verify took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
