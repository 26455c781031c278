// The login pages work only on PUBLIC_URL's host or a host under COOKIE_DOMAIN: elsewhere the device cookies
// would be set for a host the browser is then sent away from, and passkeys (whose relying party is one of those)
// cannot match. A browser that asks for a login page on any other host (http://127.0.0.1:8080/login when
// PUBLIC_URL is http://localhost:8080) is sent to the same page on PUBLIC_URL first, before any code is checked
// or spent; `rd` travels along. Only page loads and form posts are moved: scripts and API clients get what they
// asked for, as they always did.
import type { Context, MiddlewareHandler } from 'hono';
import type { Config } from '../config/config.js';
import type { AppEnv } from './context.js';
import { isTrustedPeer, singleValue } from './forwarded.js';
import { formFields, returnUrl } from './request.js';
import { headerValues } from './request-headers.js';

/** The host the browser used: X-Forwarded-Host from a trusted proxy, else Host; lower case, without port. */
function browserHost(c: Context<AppEnv>): string | undefined {
  const forwarded = isTrustedPeer(c.var.deps.peerAddress(c), c.var.trusted)
    ? singleValue(headerValues(c, 'x-forwarded-host'), true)
    : undefined;
  const host = forwarded ?? c.req.header('host') ?? new URL(c.req.url).host;
  return URL.canParse(`http://${host}/`) ? new URL(`http://${host}/`).hostname : undefined;
}

/** A page load or a form post from a browser, not a script: Sec-Fetch-Mode where sent, else what it accepts. */
function isNavigation(c: Context<AppEnv>): boolean {
  const mode = c.req.header('sec-fetch-mode');
  if (mode !== undefined) return mode === 'navigate';
  return (c.req.header('accept') ?? '').includes('text/html');
}

/** Whether `hostname` is one the login pages work on (see the file's head). */
function servesLoginPages(hostname: string, config: Pick<Config, 'publicUrl' | 'cookie'>): boolean {
  const own = new URL(config.publicUrl).hostname;
  const domain = config.cookie.domain;
  return hostname === own || (domain !== undefined && (hostname === domain || hostname.endsWith(`.${domain}`)));
}

export function loginHostGuard(config: Config): MiddlewareHandler<AppEnv> {
  return async function loginHostGuard(c, next) {
    const host = browserHost(c);
    if (c.req.path.startsWith('/login/static/') || !isNavigation(c) || (host !== undefined && servesLoginPages(host, config))) {
      await next();
      return;
    }
    const url = new URL(c.req.url);
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return c.redirect(`${config.publicUrl}${url.pathname}${url.search}`, 302);
    // A form posted on the wrong host: nothing in it is used. The invite page is shown again where it works; every
    // other form leads to the login page, with the form's return URL.
    if (url.pathname.startsWith('/login/enroll/')) return c.redirect(`${config.publicUrl}${url.pathname}`, 303);
    const rd = returnUrl(c, (await formFields(c)).rd ?? c.req.queries('rd'));
    return c.redirect(`${config.publicUrl}/login${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`, 303);
  };
}
