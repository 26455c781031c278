// Rule: a form POST passes the login CSRF guard only from this site: PUBLIC_URL's own origin (scheme, host and
// port, http or https), pages of the allowed origins (scheme, host and port; http for entries without a scheme
// only with INSECURE_HTTP), and outside
// production the loopback names of a loopback PUBLIC_URL on the same scheme and port. Never host only.
import { describe, expect, it } from 'vitest';
import { allowList } from '../../src/core/allowed-origins.js';
import { type CsrfPolicy, isSameSiteRequest } from '../../src/http/csrf.js';

const npmStart: CsrfPolicy = {
  allowedOrigins: allowList(['http://localhost:8080']),
  allowHttp: false,
  publicUrl: 'http://localhost:8080',
  loopbackAliases: true,
};
const deployed: CsrfPolicy = {
  allowedOrigins: allowList(['https://app.example.com', '.example.com']),
  allowHttp: false,
  publicUrl: 'https://app.example.com',
  loopbackAliases: false,
};

describe('isSameSiteRequest', () => {
  it("accepts PUBLIC_URL's own origin over plain http, without INSECURE_HTTP", () => {
    expect(isSameSiteRequest('http://localhost:8080', 'same-origin', npmStart)).toBe(true);
    expect(isSameSiteRequest('http://localhost:8080', undefined, npmStart)).toBe(true);
    expect(isSameSiteRequest('http://LOCALHOST:8080', 'same-origin', { ...npmStart, loopbackAliases: false })).toBe(true);
    // The default port is the same origin written either way.
    expect(isSameSiteRequest('http://app.localhost', 'same-origin', { ...npmStart, publicUrl: 'http://app.localhost:80' })).toBe(true);
    expect(isSameSiteRequest('http://app.localhost:8081', 'same-origin', { ...npmStart, publicUrl: 'http://app.localhost:8081/' })).toBe(
      true,
    );
  });

  it('accepts loopback aliases only on the same scheme and port, and only when allowed (outside production)', () => {
    for (const origin of ['http://127.0.0.1:8080', 'http://127.1.2.3:8080', 'http://[::1]:8080', 'http://a.b.localhost:8080']) {
      expect.soft(isSameSiteRequest(origin, 'same-origin', npmStart), origin).toBe(true);
      expect.soft(isSameSiteRequest(origin, 'same-origin', { ...npmStart, loopbackAliases: false }), origin).toBe(false);
    }
    for (const origin of [
      'http://localhost:3000',
      'http://127.0.0.1:8081',
      'http://localhost',
      'https://localhost:8080',
      'http://[::1]:80',
    ]) {
      expect.soft(isSameSiteRequest(origin, 'same-site', npmStart), origin).toBe(false);
    }
  });

  it('never treats a look-alike of a loopback name as loopback', () => {
    for (const origin of [
      'http://localhost.evil.net:8080',
      'http://127.0.0.1.nip.io:8080',
      'http://evil-localhost:8080',
      'http://localhostx:8080',
      'http://128.0.0.1:8080',
      'http://[::2]:8080',
      'http://0.0.0.0:8080',
    ]) {
      expect.soft(isSameSiteRequest(origin, 'same-site', npmStart), origin).toBe(false);
    }
  });

  it('gives a non-loopback PUBLIC_URL no aliases, even outside production', () => {
    const lan: CsrfPolicy = {
      allowedOrigins: allowList(['http://box.lan:8080']),
      allowHttp: false,
      publicUrl: 'http://box.lan:8080',
      loopbackAliases: true,
    };
    expect(isSameSiteRequest('http://box.lan:8080', 'same-origin', lan)).toBe(true);
    expect(isSameSiteRequest('http://localhost:8080', 'same-origin', lan)).toBe(false);
    expect(isSameSiteRequest('http://box.lan:9090', 'same-site', lan)).toBe(false);
  });

  it('keeps the deployed rules: https on allowed hosts, http only with INSECURE_HTTP, cross-site never', () => {
    expect(isSameSiteRequest('https://app.example.com', 'same-origin', deployed)).toBe(true);
    expect(isSameSiteRequest('https://other.example.com', 'same-site', deployed)).toBe(true);
    // An origin is scheme, host and port: another port of an allowed host is another site.
    expect(isSameSiteRequest('https://other.example.com:8443', 'same-site', deployed)).toBe(false);
    expect(isSameSiteRequest('https://app.example.com:8443', 'same-site', deployed)).toBe(false);
    expect(isSameSiteRequest('http://app.example.com', 'same-site', deployed)).toBe(false);
    expect(isSameSiteRequest('http://app.example.com', 'same-site', { ...deployed, allowHttp: true })).toBe(true);
    expect(isSameSiteRequest('https://example.com.evil.net', 'same-site', deployed)).toBe(false);
    expect(isSameSiteRequest('https://app.example.com', 'cross-site', deployed)).toBe(false);
    expect(isSameSiteRequest('http://localhost:8080', 'cross-site', npmStart)).toBe(false);
    expect(isSameSiteRequest('not a url', 'same-origin', npmStart)).toBe(false);
  });

  it('lets no allow-list entry vouch for another port of a loopback host', () => {
    // "localhost" on the list means its default port; https://localhost:3000 is still another program.
    const local: CsrfPolicy = {
      allowedOrigins: allowList(['https://localhost:8443', 'localhost']),
      allowHttp: true,
      publicUrl: 'https://localhost:8443',
      loopbackAliases: false,
    };
    expect(isSameSiteRequest('https://localhost:8443', 'same-origin', local)).toBe(true);
    expect(isSameSiteRequest('https://localhost:3000', 'same-site', local)).toBe(false);
    expect(isSameSiteRequest('http://localhost:3000', 'same-site', local)).toBe(false);
    expect(isSameSiteRequest('https://127.0.0.1:8443', 'same-site', local)).toBe(false);
  });
});
