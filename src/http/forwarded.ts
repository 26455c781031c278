// What the proxy tells us about the original request, believed only from configured proxy addresses.
import { BlockList, isIP } from 'node:net';

export function trustList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [addr = '', bits] = entry.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

export function isTrustedPeer(peer: string | undefined, trusted: BlockList): boolean {
  if (!peer) return false;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1];
  if (mapped) return trusted.check(mapped, 'ipv4') || trusted.check(peer, 'ipv6');
  const family = isIP(peer);
  return family !== 0 && trusted.check(peer, family === 6 ? 'ipv6' : 'ipv4');
}

/** A header's only value: `undefined` if absent, empty, or sent more than once (joined with commas). */
function single(headers: { get(name: string): string | null }, name: string): string | undefined {
  const value = headers.get(name);
  if (value === null || value === '' || value.includes(',')) return undefined;
  return value.trim();
}

export interface OriginalRequest {
  /** The URL the browser asked the proxy for, if the proxy said so. */
  readonly url: string | undefined;
  readonly method: string;
}

/**
 * The original request: nginx's `X-Original-URL`/`X-Original-Method` for the nginx style, the
 * `X-Forwarded-Proto/Host/Uri/Method` of Traefik and Caddy for theirs. Only from a trusted proxy, and only used
 * to build the return URL, never to decide access.
 */
export function readOriginalRequest(
  headers: { get(name: string): string | null },
  fromTrustedProxy: boolean,
  style: 'nginx' | 'forward',
): OriginalRequest {
  if (!fromTrustedProxy) return { url: undefined, method: 'GET' };
  if (style === 'nginx') {
    const method = (single(headers, 'x-original-method') ?? 'GET').toUpperCase();
    const original = single(headers, 'x-original-url');
    return { url: original !== undefined && URL.canParse(original) ? original : undefined, method };
  }
  const method = (single(headers, 'x-forwarded-method') ?? 'GET').toUpperCase();
  const proto = single(headers, 'x-forwarded-proto')?.toLowerCase();
  const host = single(headers, 'x-forwarded-host');
  const uri = headers.get('x-forwarded-uri') ?? '/';
  if ((proto !== 'https' && proto !== 'http') || !host || !uri.startsWith('/')) return { url: undefined, method };
  const url = `${proto}://${host}${uri}`;
  return { url: URL.canParse(url) ? url : undefined, method };
}

/**
 * The client's address: the socket peer, or, when the peer is a trusted proxy, the right-most address in
 * X-Forwarded-For that is not itself a trusted proxy. Everything left of that was written by the client and is
 * ignored, so rotating X-Forwarded-For, X-Real-IP or Forwarded changes nothing.
 */
export function clientAddress(peer: string | undefined, xForwardedFor: readonly string[], trusted: BlockList): string | undefined {
  if (!isTrustedPeer(peer, trusted)) return peer;
  const hops = xForwardedFor
    .join(',')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string;
    if (isIP(hop) === 0) return peer; // garbage where an address should be: trust nothing further left
    if (!isTrustedPeer(hop, trusted)) return hop;
  }
  return peer;
}
