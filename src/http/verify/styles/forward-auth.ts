// Traefik `forwardAuth` and Caddy `forward_auth`: any non-2xx answer goes to the browser as it is. Page loads
// get a redirect to the login page (always absolute: Traefik would resolve a relative one against the sidecar's
// address) or a small "no access" page; scripts and API clients get the JSON answer.
import { noAccessPage, proxyNotSetUpPage } from '../../../views/pages.js';
import { isTrustedPeer, singleValue } from '../../forwarded.js';
import { errorAnswer, htmlAnswer, redirectAnswer } from '../answer.js';
import type { VerifyRequest } from '../request.js';
import { forwardedUriFacts } from './facts.js';
import { loginUrl } from './login-url.js';
import type { OriginalRequest, ProxyStyle, StyleContext } from './style.js';

/** `X-Forwarded-Proto/Host/Uri/Method`, as Traefik and Caddy set them; only from a trusted proxy. */
export function readOriginal(req: VerifyRequest, { trusted }: StyleContext): OriginalRequest {
  if (!isTrustedPeer(req.peer, trusted)) return { url: undefined, method: 'GET' };
  const method = (singleValue(req.header('x-forwarded-method'), true) ?? 'GET').toUpperCase();
  const proto = singleValue(req.header('x-forwarded-proto'), true)?.toLowerCase();
  const host = singleValue(req.header('x-forwarded-host'), true);
  const uris = req.header('x-forwarded-uri');
  const uri = uris.length === 0 ? '/' : singleValue(uris);
  if ((proto !== 'https' && proto !== 'http') || !host || uri === undefined || !uri.startsWith('/')) return { url: undefined, method };
  const url = `${proto}://${host}${uri}`;
  return { url: URL.canParse(url) ? url : undefined, method };
}

/** A page load rather than a script: Sec-Fetch-Mode where the browser sends it, else what it accepts. */
function isPageLoad(req: VerifyRequest): boolean {
  const mode = singleValue(req.header('sec-fetch-mode'));
  if (mode !== undefined) return mode === 'navigate';
  if (req.header('x-requested-with').some((v) => v.trim().toLowerCase() === 'xmlhttprequest')) return false;
  return req.header('accept').some((v) => v.includes('text/html'));
}

export const forwardAuth: ProxyStyle = {
  unauthenticated(req, ctx) {
    if (!isPageLoad(req)) return errorAnswer('signInRequired');
    const original = readOriginal(req, ctx);
    return redirectAnswer(original.method === 'GET' || original.method === 'HEAD' ? 302 : 303, loginUrl(original, ctx));
  },
  forbidden(req, denial, ctx) {
    const json = denial.kind === 'unknown-service' ? 'unknownServiceForProxy' : denial.kind === 'denied' ? 'closedByRule' : 'noAccess';
    if (!isPageLoad(req)) return errorAnswer(json);
    const page = noAccessPage({
      email: denial.email,
      service: req.service,
      unknown: denial.kind === 'unknown-service',
      closed: denial.kind === 'denied',
    });
    return htmlAnswer(403, page, ctx.pageHeaders);
  },
  signInAgain(req, why, ctx) {
    if (!isPageLoad(req)) return errorAnswer(why === 'step-up' ? 'passkeyRequired' : 'freshSignInRequired');
    const original = readOriginal(req, ctx);
    return redirectAnswer(original.method === 'GET' || original.method === 'HEAD' ? 302 : 303, loginUrl(original, ctx, why));
  },
  facts: forwardedUriFacts,
  // A person who meets a misconfigured proxy gets a page that tells whoever runs the site what to check.
  badCredential(req, ctx) {
    if (!isPageLoad(req)) return errorAnswer('badServiceCredential');
    return htmlAnswer(401, proxyNotSetUpPage(), ctx.pageHeaders);
  },
};
