// The security headers of every HTML page. Written out here rather than through hono/secure-headers because one
// page is not built by Hono at all: the "no access" page a proxy passes on from /verify (Node fast path).
import type { MiddlewareHandler } from 'hono';
import type { Config } from '../config/config.js';
import { cspSources } from '../core/allowed-origins.js';

export function pageHeaders(config: Config): Readonly<Record<string, string>> {
  const csp = [
    "default-src 'none'",
    // Scripts only from this origin (the passkey pages: @simplewebauthn/browser's bundle and ours), none inline.
    "script-src 'self'",
    "connect-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    // Where the login form may send the browser after a successful post (form-action follows redirects).
    `form-action ${["'self'", ...cspSources(config.allowedOrigins, config.insecureHttp)].join(' ')}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; ');
  return Object.freeze({
    'Content-Security-Policy': csp,
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'Origin-Agent-Cluster': '?1',
    'Referrer-Policy': 'same-origin',
    ...(config.insecureHttp ? {} : { 'Strict-Transport-Security': 'max-age=31536000; includeSubDomains' }),
    'X-Content-Type-Options': 'nosniff',
    'X-DNS-Prefetch-Control': 'off',
    'X-Frame-Options': 'DENY',
    'X-Permitted-Cross-Domain-Policies': 'none',
  });
}

export function pageHeadersMiddleware(headers: Readonly<Record<string, string>>): MiddlewareHandler {
  return async function pageHeaders(c, next) {
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    await next();
  };
}
