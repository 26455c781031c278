// What access rules match on, as a trusted proxy tells it: the method, the raw path (still percent-encoded, as
// the client sent it) and the client's address. From anyone else the path is unknown (rules that look at paths
// then refuse) and the client is the socket peer.

import type { BlockList } from 'node:net';
import { normalizeRequestPath, rawPathOf } from '../../../core/request-path.js';
import type { RequestFacts } from '../../../core/rules.js';
import { clientAddress, isTrustedPeer, singleValue } from '../../forwarded.js';
import type { VerifyRequest } from '../request.js';
import type { StyleContext } from './style.js';

/** Whether the peer is a trusted proxy, remembered per address (the same few proxies ask every time). */
const trustedPeers = new WeakMap<BlockList, Map<string, boolean>>();
function trustedPeer(peer: string | undefined, list: BlockList): boolean {
  if (peer === undefined) return false;
  let known = trustedPeers.get(list);
  if (known === undefined) {
    known = new Map();
    trustedPeers.set(list, known);
  }
  let trusted = known.get(peer);
  if (trusted === undefined) {
    trusted = isTrustedPeer(peer, list);
    if (known.size >= 1000) known.clear();
    known.set(peer, trusted);
  }
  return trusted;
}

function requestFacts(
  req: VerifyRequest,
  ctx: StyleContext,
  method: string | undefined,
  rawPath: string | undefined,
  withClient: boolean,
): RequestFacts {
  const trusted = trustedPeer(req.peer, ctx.trusted);
  const sent = trusted && method !== undefined ? method : 'GET';
  const upper = sent.toUpperCase();
  return {
    method: upper,
    methodCanonical: upper === sent,
    path: trusted && rawPath !== undefined ? normalizeRequestPath(rawPath) : undefined,
    client: withClient ? clientAddress(req.peer, req.header('x-forwarded-for'), ctx.trusted) : undefined,
  };
}

/**
 * nginx (and direct callers): `X-Original-Method`, and the path from `X-Forwarded-Uri` (the shipped config sends
 * `$request_uri` there, byte for byte what the app gets), else from the path part of `X-Original-URL`, cut as
 * text (a URL parser would resolve and decode what the app will not).
 */
export function originalUrlFacts(req: VerifyRequest, ctx: StyleContext, withClient: boolean): RequestFacts {
  const uris = req.header('x-forwarded-uri');
  const raw = uris.length > 0 ? singleValue(uris) : rawPathOf(singleValue(req.header('x-original-url')));
  return requestFacts(req, ctx, singleValue(req.header('x-original-method'), true), raw?.startsWith('/') ? raw : undefined, withClient);
}

/** Traefik and Caddy: `X-Forwarded-Uri` and `X-Forwarded-Method`. */
export function forwardedUriFacts(req: VerifyRequest, ctx: StyleContext, withClient: boolean): RequestFacts {
  const uri = singleValue(req.header('x-forwarded-uri'));
  return requestFacts(req, ctx, singleValue(req.header('x-forwarded-method'), true), uri?.startsWith('/') ? uri : undefined, withClient);
}
