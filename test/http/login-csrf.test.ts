// Rule: a cross-site page cannot post the login or logout forms (login CSRF): 403, and nothing is set.
// The service's own origin, as PUBLIC_URL names it, may post them even over plain http (`npm start` with no
// configuration serves http://localhost:8080); outside production so may its loopback aliases on the same
// scheme and port, and never another port of the same host.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allowList } from '../../src/core/allowed-origins.js';
import { isSameSiteRequest } from '../../src/http/csrf.js';
import { createTestApp, type TestApp } from '../support/app.js';

describe('login CSRF', () => {
  let t: TestApp;
  let secret: string;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
    secret = (await t.runtime.admin.addUser({ email: 'c@example.com' })).totpSecret;
  });
  afterAll(async () => t?.close());

  const post = async (path: string, headers: Record<string, string>) =>
    t.request(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ email: 'c@example.com', code: await t.nextCode(secret) }),
    });

  it('refuses a cross-site form post by Origin or Sec-Fetch-Site, setting nothing', async () => {
    for (const headers of <Record<string, string>[]>[
      { Origin: 'https://evil.net' },
      { Origin: 'null' },
      { Origin: 'http://app.example.com' }, // http is not same-site for an https deployment
      { 'Sec-Fetch-Site': 'cross-site' },
      { Origin: 'https://app.example.com', 'Sec-Fetch-Site': 'cross-site' },
    ]) {
      for (const path of ['/login', '/device/add', '/logout']) {
        const res = await post(path, headers);
        expect.soft(res.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect.soft(res.headers.getSetCookie(), path).toEqual([]);
      }
    }
    expect(await t.runtime.admin.listDevices()).toEqual([]);
  });

  it('accepts the same post from the site itself', async () => {
    const res = await post('/login', { Origin: 'https://app.example.com', 'Sec-Fetch-Site': 'same-site' });
    expect(res.status).toBe(303);
    expect(res.headers.getSetCookie()).toHaveLength(2);
  });

  it('decides by Origin first, then Sec-Fetch-Site; requests with neither are not from a browser', () => {
    const policy = {
      allowedOrigins: allowList(['.example.com']),
      allowHttp: false,
      publicUrl: 'https://auth.example.com',
      loopbackAliases: false,
    };
    expect(isSameSiteRequest('https://auth.example.com', 'same-origin', policy)).toBe(true);
    expect(isSameSiteRequest(undefined, 'same-origin', policy)).toBe(true);
    expect(isSameSiteRequest(undefined, 'none', policy)).toBe(true);
    expect(isSameSiteRequest(undefined, undefined, policy)).toBe(true);
    expect(isSameSiteRequest('https://example.com.evil.net', 'same-site', policy)).toBe(false);
    expect(isSameSiteRequest(undefined, 'cross-site', policy)).toBe(false);
    // A hidden origin ("null", under a no-referrer policy) passes only when Sec-Fetch-Site says same-origin.
    expect(isSameSiteRequest('null', 'same-origin', policy)).toBe(true);
    expect(isSameSiteRequest('null', 'same-site', policy)).toBe(false);
    expect(isSameSiteRequest('null', undefined, policy)).toBe(false);
  });
});

describe('login CSRF with a plain-http PUBLIC_URL on loopback (npm start, no configuration)', () => {
  let t: TestApp;
  let secret: string;
  beforeAll(async () => {
    // What `npm start` runs with: PUBLIC_URL defaults to http://localhost:$PORT, INSECURE_HTTP stays false.
    t = await createTestApp('sqlite', { PUBLIC_URL: 'http://localhost:8080', LANDING_URL: 'http://localhost:8080/', COOKIE_DOMAIN: '' });
    secret = (await t.runtime.admin.addUser({ email: 'local@example.com' })).totpSecret;
  });
  afterAll(async () => t?.close());

  const post = async (headers: Record<string, string>) =>
    t.request('/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ email: 'local@example.com', code: await t.nextCode(secret) }),
    });

  it('accepts the form posted from PUBLIC_URL itself, as Chromium sends it', async () => {
    expect(t.config.insecureHttp).toBe(false);
    const res = await post({ Origin: 'http://localhost:8080', 'Sec-Fetch-Site': 'same-origin' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('http://localhost:8080/');
    // Still Secure: browsers keep Secure cookies from http://localhost.
    expect(res.headers.getSetCookie()).toHaveLength(2);
    for (const cookie of res.headers.getSetCookie()) expect(cookie).toMatch(/; Secure/i);
  });

  it('accepts the other loopback names of the same scheme and port', async () => {
    for (const origin of ['http://127.0.0.1:8080', 'http://[::1]:8080', 'http://app.localhost:8080']) {
      const res = await post({ Origin: origin, 'Sec-Fetch-Site': 'same-origin' });
      expect.soft(res.status, origin).toBe(303);
    }
  });

  it('refuses other ports and schemes of loopback, look-alike hosts and cross-site posts, setting nothing', async () => {
    const before = (await t.runtime.admin.listDevices()).length;
    for (const headers of <Record<string, string>[]>[
      // Another program on this machine: the browser calls localhost:3000 same-site with localhost:8080.
      { Origin: 'http://localhost:3000', 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'http://localhost', 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'http://127.0.0.1:8081', 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'https://localhost:8080' },
      { Origin: 'http://localhost.evil.net:8080' },
      { Origin: 'http://127.0.0.1.nip.io:8080' },
      { Origin: 'http://evil.net:8080' },
      { Origin: 'null', 'Sec-Fetch-Site': 'same-site' },
      { Origin: 'http://localhost:8080', 'Sec-Fetch-Site': 'cross-site' },
    ]) {
      const res = await post(headers);
      expect.soft(res.status, JSON.stringify(headers)).toBe(403);
      expect.soft(res.headers.getSetCookie(), JSON.stringify(headers)).toEqual([]);
    }
    expect((await t.runtime.admin.listDevices()).length).toBe(before);
  });
});

describe('login CSRF in production with PUBLIC_URL on loopback', () => {
  let t: TestApp;
  let secret: string;
  beforeAll(async () => {
    t = await createTestApp('sqlite', {
      NODE_ENV: 'production',
      ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}`,
      PUBLIC_URL: 'https://localhost:8443',
      LANDING_URL: 'https://localhost:8443/',
      COOKIE_DOMAIN: '',
    });
    secret = (await t.runtime.admin.addUser({ email: 'prod@example.com' })).totpSecret;
  });
  afterAll(async () => t?.close());

  it('accepts only PUBLIC_URL itself: no loopback aliases in production', async () => {
    expect(t.config.production).toBe(true);
    const post = async (origin: string) =>
      t.request('/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin, 'Sec-Fetch-Site': 'same-origin' },
        body: new URLSearchParams({ email: 'prod@example.com', code: await t.nextCode(secret) }),
      });
    expect((await post('https://127.0.0.1:8443')).status).toBe(403);
    expect((await post('https://app.localhost:8443')).status).toBe(403);
    expect((await post('https://localhost:8443')).status).toBe(303);
  });
});
