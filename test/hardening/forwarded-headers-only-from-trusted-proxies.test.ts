// Rule: forwarded headers are believed only from a trusted proxy. The client address is the socket peer, or,
// behind a trusted proxy, the right-most X-Forwarded-For hop that is not itself a trusted proxy: whatever a client
// writes to the left of what its proxy appended changes nothing, and every address of one IPv6 /64 counts as one
// client. The original URL comes only from a trusted proxy and is either absent or a parseable URL. Nothing throws.
import { isIP } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientKey } from '../../src/core/throttle.js';
import { clientAddress, isTrustedPeer, trustList } from '../../src/http/forwarded.js';
import { readOriginalRequest } from '../support/original-request.js';

const RUNS = { numRuns: 500 };
const trusted = trustList(['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8']);
const isTrustedAddress = (a: string) => isTrustedPeer(a, trusted);

const trustedPeer = fc.oneof(
  fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255)).map(([a, b, c]) => `10.${a}.${b}.${c}`),
  fc.constantFrom('192.168.1.1', '::1', '::ffff:10.1.2.3', 'fd00::1', 'fd12:3456::9'),
);
const untrustedV4 = fc.ipV4().filter((a) => !isTrustedAddress(a));
const untrustedV6 = fc.ipV6().filter((a) => !isTrustedAddress(a));
const untrusted = fc.oneof(untrustedV4, untrustedV6);
/** What a client may write into X-Forwarded-For: addresses, trusted-looking addresses, junk. */
const clientWritten = fc.array(
  fc.oneof(
    untrusted,
    trustedPeer,
    fc.constantFrom('unknown', '', ' ', '_hidden', '1.2.3.4:80', '[::1]', 'for=1.2.3.4'),
    fc.string({ maxLength: 20 }),
  ),
  { maxLength: 6 },
);
/** Split hops over one or several header lines, as proxies and clients do. */
const asHeaderLines = (hops: string[], cuts: number[]) => {
  const lines: string[] = [];
  let current: string[] = [];
  hops.forEach((hop, i) => {
    current.push(hop);
    if (cuts.includes(i)) {
      lines.push(current.join(', '));
      current = [];
    }
  });
  if (current.length > 0) lines.push(current.join(', '));
  return lines;
};
const cuts = fc.array(fc.nat(8), { maxLength: 3 });

describe('forwarded headers come only from trusted proxies', () => {
  it('an untrusted peer is the client, whatever X-Forwarded-For says', () => {
    fc.assert(
      fc.property(untrusted, clientWritten, cuts, (peer, hops, c) => {
        expect(clientAddress(peer, asHeaderLines(hops, c), trusted)).toBe(peer);
      }),
      RUNS,
    );
  });

  it('behind trusted proxies, what the client wrote left of its proxy’s entry changes nothing', () => {
    fc.assert(
      fc.property(
        trustedPeer,
        untrusted,
        fc.array(trustedPeer, { maxLength: 3 }),
        clientWritten,
        cuts,
        (peer, client, innerProxies, written, c) => {
          // The first trusted proxy appends the client's address; any further trusted proxies append theirs.
          const honest = [client, ...innerProxies];
          expect(clientAddress(peer, asHeaderLines(honest, c), trusted)).toBe(client);
          expect(clientAddress(peer, asHeaderLines([...written, ...honest], c), trusted)).toBe(client);
        },
      ),
      RUNS,
    );
  });

  it('never answers with a trusted address other than the peer, nor with anything that is not an address', () => {
    fc.assert(
      fc.property(fc.oneof(trustedPeer, untrusted, fc.constant(undefined)), clientWritten, cuts, (peer, hops, c) => {
        const got = clientAddress(peer, asHeaderLines(hops, c), trusted);
        if (got === peer) return;
        expect(isIP(got as string)).not.toBe(0);
        expect(isTrustedAddress(got as string)).toBe(false);
        expect(hops.map((h) => h.trim())).toContain(got);
      }),
      RUNS,
    );
  });

  it('every textual form of every address in one IPv6 /64 is one client key; another /64 is another key', () => {
    const group = fc.integer({ min: 0, max: 0xffff });
    fc.assert(
      fc.property(
        fc.array(group, { minLength: 8, maxLength: 8 }),
        fc.array(group, { minLength: 4, maxLength: 4 }),
        fc.nat(3),
        (groups, otherHost, bump) => {
          fc.pre(groups[0] !== 0 && groups[0] !== 0xffff);
          const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':');
          const compressed = new URL(`http://[${full}]/`).hostname.slice(1, -1);
          const sameNet = [...groups.slice(0, 4), ...otherHost].map((g) => g.toString(16)).join(':');
          const otherNet = groups.map((g, i) => (i === bump ? (g ^ 1).toString(16) : g.toString(16))).join(':');
          const key = clientKey(full);
          expect(clientKey(compressed)).toBe(key);
          expect(clientKey(full.toUpperCase())).toBe(key);
          expect(clientKey(sameNet)).toBe(key);
          expect(clientKey(otherNet)).not.toBe(key);
        },
      ),
      RUNS,
    );
  });

  it('the original request is read only from a trusted proxy, and its URL is absent or parseable', () => {
    const value = fc.oneof(
      fc.webUrl(),
      fc.constantFrom(
        'https://app.example.com/x',
        'https://a.example.com/x, https://evil.net/',
        '/relative',
        'javascript:alert(1)',
        'HTTPS',
        'app.example.com',
      ),
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)), maxLength: 40 }),
    );
    const headerNames = fc.constantFrom(
      'x-original-url',
      'x-original-method',
      'x-forwarded-proto',
      'x-forwarded-host',
      'x-forwarded-uri',
      'x-forwarded-method',
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(headerNames, value), { maxLength: 8 }),
        fc.boolean(),
        fc.constantFrom('nginx', 'forward') as fc.Arbitrary<'nginx' | 'forward'>,
        (pairs, fromTrusted, style) => {
          const original = readOriginalRequest(pairs, fromTrusted, style);
          expect(typeof original.method).toBe('string');
          if (!fromTrusted) {
            expect(original).toEqual({ url: undefined, method: 'GET' });
            return;
          }
          if (original.url !== undefined) expect(URL.canParse(original.url)).toBe(true);
          // A header sent twice is no header at all.
          const urlHeader = style === 'nginx' ? 'x-original-url' : 'x-forwarded-host';
          if (pairs.filter(([n]) => n === urlHeader).length > 1) expect(original.url).toBeUndefined();
        },
      ),
      RUNS,
    );
  });
});
