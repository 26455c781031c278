// Login CSRF: a cross-site page must not be able to post the login (or logout) form, or it could sign a victim
// in to the attacker's account. Browsers say where a POST comes from in Origin and Sec-Fetch-Site.
import type { MiddlewareHandler } from 'hono';
import { messagePage } from '../views/pages.js';
import { isAllowedHost } from './redirect.js';

export interface CsrfPolicy {
  readonly allowedHosts: readonly string[];
  readonly allowHttp: boolean;
}

/** Whether a POST with these headers may proceed. Requests without either header are not from a browser. */
export function isSameSiteRequest(origin: string | undefined, fetchSite: string | undefined, policy: CsrfPolicy): boolean {
  if (fetchSite === 'cross-site') return false;
  // "null" is what a browser sends when a referrer policy hides the origin: Sec-Fetch-Site must then vouch.
  if (origin === 'null') return fetchSite === 'same-origin';
  if (origin !== undefined) {
    if (!URL.canParse(origin)) return false;
    const url = new URL(origin);
    if (url.protocol !== 'https:' && !(policy.allowHttp && url.protocol === 'http:')) return false;
    return isAllowedHost(url.hostname, policy.allowedHosts);
  }
  return fetchSite === undefined || fetchSite === 'same-origin' || fetchSite === 'same-site' || fetchSite === 'none';
}

export function csrfGuard(policy: CsrfPolicy): MiddlewareHandler {
  return async function csrfGuard(c, next) {
    if (c.req.method !== 'POST' || isSameSiteRequest(c.req.header('origin'), c.req.header('sec-fetch-site'), policy)) {
      await next();
      return;
    }
    return c.html(messagePage('Forbidden', 'This form can only be sent from this site.'), 403);
  };
}
