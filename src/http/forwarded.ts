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

/** Answers per list and address, remembered (the same few proxies ask on every request); bounded. */
const answers = new WeakMap<BlockList, Map<string, boolean>>();

export function isTrustedPeer(peer: string | undefined, trusted: BlockList): boolean {
  if (!peer) return false;
  let known = answers.get(trusted);
  if (known === undefined) {
    known = new Map();
    answers.set(trusted, known);
  }
  let answer = known.get(peer);
  if (answer === undefined) {
    answer = checkPeer(peer, trusted);
    if (known.size >= 1000) known.clear();
    known.set(peer, answer);
  }
  return answer;
}

function checkPeer(peer: string, trusted: BlockList): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer)?.[1];
  if (mapped) return trusted.check(mapped, 'ipv4') || trusted.check(peer, 'ipv6');
  const family = isIP(peer);
  return family !== 0 && trusted.check(peer, family === 6 ? 'ipv6' : 'ipv4');
}

/**
 * A header's only value: `undefined` if absent, empty, or sent more than once. Commas inside one value are part
 * of it (a URL may contain them); pass `noLists` for headers whose commas mean a list of hops.
 */
export function singleValue(values: readonly string[], noLists = false): string | undefined {
  if (values.length !== 1) return undefined;
  const value = (values[0] as string).trim();
  if (value === '' || (noLists && value.includes(','))) return undefined;
  return value;
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
