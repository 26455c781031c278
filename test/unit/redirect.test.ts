import { describe, expect, it } from 'vitest';
import { allowList, parseAllowedOrigin } from '../../src/core/allowed-origins.js';
import { isTrustedPeer, trustList } from '../../src/http/forwarded.js';
import { safeRedirect } from '../../src/http/redirect.js';
import { readOriginalRequest } from '../support/original-request.js';

const policy = { allowedOrigins: allowList(['.example.com', 'auth.other.org']), allowHttp: false };

describe('safeRedirect', () => {
  it('accepts https URLs on allowed hosts and subdomains, on the default port', () => {
    expect(safeRedirect('https://example.com/', policy)).toBe('https://example.com/');
    expect(safeRedirect('https://app.example.com/a?b=1#c', policy)).toBe('https://app.example.com/a?b=1#c');
    expect(safeRedirect('https://deep.app.EXAMPLE.com:443/x', policy)).toBe('https://deep.app.example.com/x');
    expect(safeRedirect('https://auth.other.org/', policy)).toBe('https://auth.other.org/');
  });

  it('compares origins, not hosts: another port is another site unless the list names it', () => {
    expect(safeRedirect('https://deep.app.example.com:8443/x', policy)).toBeUndefined();
    expect(safeRedirect('https://auth.other.org:8443/', policy)).toBeUndefined();
    const withPorts = {
      allowedOrigins: allowList(['app.example.test:8443', 'https://b.example.test:9443', 'http://localhost:8080']),
      allowHttp: false,
    };
    expect(safeRedirect('https://app.example.test:8443/', withPorts)).toBe('https://app.example.test:8443/');
    expect(safeRedirect('https://app.example.test/', withPorts)).toBeUndefined();
    expect(safeRedirect('http://app.example.test:8443/', withPorts)).toBeUndefined();
    expect(safeRedirect('http://app.example.test:8443/', { ...withPorts, allowHttp: true })).toBe('http://app.example.test:8443/');
    expect(safeRedirect('https://b.example.test:9443/a', withPorts)).toBe('https://b.example.test:9443/a');
    expect(safeRedirect('http://b.example.test:9443/a', { ...withPorts, allowHttp: true })).toBeUndefined();
    // An origin that names http is allowed without INSECURE_HTTP (the `npm start` PUBLIC_URL), on its port only.
    expect(safeRedirect('http://localhost:8080/x', withPorts)).toBe('http://localhost:8080/x');
    expect(safeRedirect('http://localhost:3000/x', withPorts)).toBeUndefined();
    expect(safeRedirect('https://localhost:8080/x', withPorts)).toBeUndefined();
  });

  it('reads allow-list entries strictly', () => {
    expect(parseAllowedOrigin('Example.COM')).toEqual({ scheme: undefined, host: 'example.com', subdomains: false, port: undefined });
    expect(parseAllowedOrigin('.example.com:8443')).toEqual({ scheme: undefined, host: 'example.com', subdomains: true, port: '8443' });
    expect(parseAllowedOrigin('https://example.com:443')).toEqual({
      scheme: 'https:',
      host: 'example.com',
      subdomains: false,
      port: undefined,
    });
    expect(parseAllowedOrigin('http://[::1]:8080/')).toEqual({ scheme: 'http:', host: '[::1]', subdomains: false, port: '8080' });
    for (const bad of [
      '',
      'example.com:0',
      'example.com:65536',
      'example.com:x',
      'https://example.com/path',
      'ftp://example.com',
      'a b.com',
      'user@example.com',
      'https://u@example.com',
      'example.com/x',
      '..example.com',
      'https://example.com?x',
    ]) {
      expect.soft(parseAllowedOrigin(bad), bad).toBeUndefined();
    }
  });

  it('matches hosts at a label boundary only', () => {
    for (const bad of ['https://evilexample.com/', 'https://example.com.evil.net/', 'https://x.auth.other.org/', 'https://other.org/']) {
      expect(safeRedirect(bad, policy)).toBeUndefined();
    }
  });

  it('refuses other schemes, relative and protocol-relative URLs', () => {
    for (const bad of [
      'http://app.example.com/',
      'javascript:alert(1)',
      '//app.example.com/',
      '/path',
      'data:text/html,x',
      'ftp://example.com/',
    ]) {
      expect(safeRedirect(bad, policy)).toBeUndefined();
    }
    expect(safeRedirect('http://app.example.com/', { ...policy, allowHttp: true })).toBe('http://app.example.com/');
  });

  it('refuses userinfo, control characters, backslashes and whitespace', () => {
    for (const bad of [
      'https://evil.net@app.example.com/',
      'https://user:pw@app.example.com/',
      'https://app.example.com\\@evil.net/',
      'https://app.example.com/\n',
      '\thttps://app.example.com/',
      'https://app.example.com/%0d%0a x',
      'https://app.example.com/\u0000',
    ]) {
      expect(safeRedirect(bad, policy)).toBeUndefined();
    }
  });

  it('takes exactly one value', () => {
    expect(safeRedirect(['https://example.com/'], policy)).toBe('https://example.com/');
    expect(safeRedirect(['https://example.com/', 'https://example.com/'], policy)).toBeUndefined();
    expect(safeRedirect([], policy)).toBeUndefined();
    expect(safeRedirect(undefined, policy)).toBeUndefined();
  });
});

describe('forwarded headers', () => {
  const trusted = trustList(['127.0.0.1', '10.0.0.0/8', '::1']);
  const h = (o: Record<string, string>) => o;

  it('trusts only configured peers, including IPv4-mapped IPv6', () => {
    expect(isTrustedPeer('127.0.0.1', trusted)).toBe(true);
    expect(isTrustedPeer('::ffff:10.1.2.3', trusted)).toBe(true);
    expect(isTrustedPeer('::1', trusted)).toBe(true);
    expect(isTrustedPeer('192.168.1.1', trusted)).toBe(false);
    expect(isTrustedPeer(undefined, trusted)).toBe(false);
  });

  it('reads nginx X-Original-URL and Traefik/Caddy X-Forwarded-* from a trusted proxy', () => {
    expect(readOriginalRequest(h({ 'x-original-url': 'https://app.example.com/a?b', 'x-original-method': 'post' }), true, 'nginx')).toEqual(
      {
        url: 'https://app.example.com/a?b',
        method: 'POST',
      },
    );
    expect(
      readOriginalRequest(
        h({
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'app.example.com',
          'x-forwarded-uri': '/x?y=1',
          'x-forwarded-method': 'GET',
        }),
        true,
        'forward',
      ),
    ).toEqual({ url: 'https://app.example.com/x?y=1', method: 'GET' });
  });

  it('ignores the same headers from anyone else', () => {
    expect(readOriginalRequest(h({ 'x-original-url': 'https://app.example.com/a' }), false, 'nginx').url).toBeUndefined();
  });

  it("reads each proxy's own headers only", () => {
    expect(readOriginalRequest(h({ 'x-original-url': 'https://app.example.com/a' }), true, 'forward').url).toBeUndefined();
    expect(
      readOriginalRequest(h({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example.com', 'x-forwarded-uri': '/' }), true, 'nginx')
        .url,
    ).toBeUndefined();
  });

  it('ignores repeated or malformed values', () => {
    expect(
      readOriginalRequest(
        h({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example.com, b.example.com', 'x-forwarded-uri': '/' }),
        true,
        'forward',
      ).url,
    ).toBeUndefined();
    expect(
      readOriginalRequest(
        h({ 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'a.example.com', 'x-forwarded-uri': '/' }),
        true,
        'forward',
      ).url,
    ).toBeUndefined();
    expect(
      readOriginalRequest(h({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a.example.com', 'x-forwarded-uri': 'x' }), true, 'forward')
        .url,
    ).toBeUndefined();
  });
});
