// What access rules match on, as a trusted proxy tells it: the method, the raw path (still percent-encoded, as
// the client sent it) and the client's address. From anyone else the path is unknown (rules that look at paths
// then refuse) and the client is the socket peer. A method-override header naming another method is noted
// (rules that look at methods then refuse), from anyone: it is the client's own header, passed on by every proxy.

import { normalizeRequestPath, rawPathOf } from '../../../core/request-path.js';
import type { FactNeeds, RequestFacts } from '../../../core/rules.js';
import { clientAddress, isTrustedPeer, singleValue } from '../../forwarded.js';
import type { VerifyRequest } from '../request.js';
import type { StyleContext } from './style.js';

/** The headers through which frameworks let a client ask for another method than the request's own. */
const OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

function requestFacts(
  req: VerifyRequest,
  ctx: StyleContext,
  method: string | undefined,
  rawPath: string | undefined,
  needs: FactNeeds,
): RequestFacts {
  const trusted = isTrustedPeer(req.peer, ctx.trusted);
  const sent = trusted && method !== undefined ? method : 'GET';
  const upper = sent.toUpperCase();
  return {
    method: upper,
    methodCanonical: upper === sent,
    methodOverridden:
      needs.usesMethods && OVERRIDE_HEADERS.some((name) => req.header(name).some((value) => value.trim().toUpperCase() !== upper)),
    path: trusted && rawPath !== undefined ? normalizeRequestPath(rawPath) : undefined,
    client: needs.usesNetworks ? clientAddress(req.peer, req.header('x-forwarded-for'), ctx.trusted) : undefined,
  };
}

/**
 * nginx (and direct callers): `X-Original-Method`, and the path from `X-Forwarded-Uri` (the shipped config sends
 * `$request_uri` there, byte for byte what the app gets), else from the path part of `X-Original-URL`, cut as
 * text (a URL parser would resolve and decode what the app will not).
 */
export function originalUrlFacts(req: VerifyRequest, ctx: StyleContext, needs: FactNeeds): RequestFacts {
  const uris = req.header('x-forwarded-uri');
  const raw = uris.length > 0 ? singleValue(uris) : rawPathOf(singleValue(req.header('x-original-url')));
  return requestFacts(req, ctx, singleValue(req.header('x-original-method'), true), raw?.startsWith('/') ? raw : undefined, needs);
}

/** Traefik and Caddy: `X-Forwarded-Uri` and `X-Forwarded-Method`. */
export function forwardedUriFacts(req: VerifyRequest, ctx: StyleContext, needs: FactNeeds): RequestFacts {
  const uri = singleValue(req.header('x-forwarded-uri'));
  return requestFacts(req, ctx, singleValue(req.header('x-forwarded-method'), true), uri?.startsWith('/') ? uri : undefined, needs);
}
