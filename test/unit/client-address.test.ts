import { describe, expect, it } from 'vitest';
import { clientKey } from '../../src/core/throttle.js';
import { clientAddress, trustList } from '../../src/http/forwarded.js';

describe('client address', () => {
  const trusted = trustList(['10.0.0.0/8', '::1']);
  it('is the socket peer unless the peer is a trusted proxy', () => {
    expect(clientAddress('198.51.100.7', ['1.2.3.4'], trusted)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', ['1.2.3.4'], trusted)).toBe('1.2.3.4');
  });
  it('takes the right-most untrusted hop, ignoring what the client prepended', () => {
    expect(clientAddress('10.0.0.2', ['6.6.6.6, 1.2.3.4, 10.0.0.9'], trusted)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.2', ['6.6.6.6', '1.2.3.4'], trusted)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.2', ['garbage, 1.2.3.4'], trusted)).toBe('1.2.3.4');
    expect(clientAddress('10.0.0.2', ['1.2.3.4, garbage'], trusted)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', [], trusted)).toBe('10.0.0.2');
  });
  it('groups IPv6 by /64 and unwraps IPv4-mapped addresses', () => {
    expect(clientKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:0db8:0001:0002:ffff::')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey(undefined)).toBe('unknown');
  });
});
