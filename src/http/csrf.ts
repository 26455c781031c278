// Login CSRF: a cross-site page must not be able to post the login (or logout) form, or it could sign a victim
// in to the attacker's account. Browsers say where a POST comes from in Origin and Sec-Fetch-Site.
import type { MiddlewareHandler } from 'hono';
import { type AllowedOrigin, isAllowedOrigin } from '../core/allowed-origins.js';
import { messagePage } from '../views/pages.js';

export interface CsrfPolicy {
  /** Origins whose pages may post the forms: the redirect allow-list (scheme, host and port). */
  readonly allowedOrigins: readonly AllowedOrigin[];
  /** INSECURE_HTTP: http pages of the entries that name no scheme, too. */
  readonly allowHttp: boolean;
  /** PUBLIC_URL. A page of exactly its origin (scheme, host and port) is this site, http or not. */
  readonly publicUrl: string;
  /**
   * Outside production only: when PUBLIC_URL is on loopback, the other loopback names of the same scheme and
   * port (localhost, 127.0.0.1, [::1], *.localhost) are this site as well. Never host only: another port of
   * localhost is another program (a dev server, a local tool), and the browser calls it same-site.
   */
  readonly loopbackAliases: boolean;
}

function isLoopbackHost(hostname: string): boolean {
  // Hostnames as the WHATWG URL parser normalises them: lower case, IPv4 dotted, IPv6 in brackets.
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/** Whether the origin is this service's own, as PUBLIC_URL names it (whatever the scheme). */
function isOwnOrigin(origin: URL, policy: CsrfPolicy): boolean {
  const own = new URL(policy.publicUrl);
  if (origin.origin === own.origin) return true;
  return (
    policy.loopbackAliases &&
    origin.protocol === own.protocol &&
    origin.port === own.port &&
    isLoopbackHost(own.hostname) &&
    isLoopbackHost(origin.hostname)
  );
}

/** Whether a POST with these headers may proceed. Requests without either header are not from a browser. */
export function isSameSiteRequest(origin: string | undefined, fetchSite: string | undefined, policy: CsrfPolicy): boolean {
  if (fetchSite === 'cross-site') return false;
  // "null" is what a browser sends when a referrer policy hides the origin: Sec-Fetch-Site must then vouch.
  if (origin === 'null') return fetchSite === 'same-origin';
  if (origin !== undefined) {
    if (!URL.canParse(origin)) return false;
    const url = new URL(origin);
    // The plain-http PUBLIC_URL of `npm start` (http://localhost:8080) is its own site, without INSECURE_HTTP.
    if (isOwnOrigin(url, policy)) return true;
    // The allow-list names ports, so another program on another port of the same host (a dev server, a local
    // tool, which the browser calls same-site) never passes.
    return isAllowedOrigin(url, policy.allowedOrigins, policy.allowHttp);
  }
  return fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'same-site' || fetchSite === 'none';
}

export function csrfGuard(policy: CsrfPolicy): MiddlewareHandler {
  if (!URL.canParse(policy.publicUrl)) throw new Error(`csrfGuard: publicUrl is not a URL: ${policy.publicUrl}`);
  return async function csrfGuard(c, next) {
    if (c.req.method !== 'POST' || isSameSiteRequest(c.req.header('origin'), c.req.header('sec-fetch-site'), policy)) {
      await next();
      return;
    }
    return c.html(messagePage('Forbidden', 'This form can only be sent from this site.'), 403);
  };
}
