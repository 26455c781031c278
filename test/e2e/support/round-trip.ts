// The real thing: headless Chromium → the shipped proxy config → the real sidecar (fresh SQLite) and an app
// that echoes the headers it receives.
//
// Rules (each test is named after one):
//  - A browser that is not logged in is sent to /login with rd = the exact page it asked for (commas in the
//    query included), and lands back there after signing in with email + TOTP code; the app then sees the
//    user's identity headers.
//  - Identity headers a client sends itself (any case, dash or underscore) never reach the app, logged in or not.
//  - Logged out, page loads are redirected to the login page; scripts and API clients get 401 (behind nginx,
//    whose auth_request cannot pass a 401 body on, everything is redirected).
//  - The app sees only what the user's grant allows; the rest is empty or absent.
//  - Logged in without a grant for the service: 403. After logout: sent to the login page again.
//  - The sidecar's /verify is not reachable through the proxy, even with a valid proxy token and a logged-in
//    device (nginx and Caddy answer 404; Traefik routes no /verify to the sidecar, so it is an app path).
//  - The proxy token never reaches the app.
//  - With the sidecar down, the proxy fails closed: an error, never the app.
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signOutByForm, TEST_DOMAIN } from './browser.js';
import { type ProxyKind, SPOOFED_IDENTITY } from './config-contract.js';
import { firstHeader, rawRequest } from './raw-http.js';
import { cookieHeaderFor, type RoundTripStack, SERVICE, signInThrough, startRoundTripStack } from './round-trip-stack.js';
import { headerValues, identityLikeHeaders } from './servers.js';
import { type CreatedUser, totpCode } from './sidecar.js';

/** The first page alice asks for: commas in the query must survive the trip through /login unchanged. */
const FIRST_PATH = '/list?sort=name,asc&ids=1,2&q=a%20b';

export function defineBrowserRoundTrip(kind: ProxyKind, binaryPath: () => string, chromiumPath: () => string): void {
  describe(`${kind}: browser round trip with the real sidecar`, () => {
    let stack: RoundTripStack;
    let alice: BrowserContext;
    // Shorthands, set once the stack runs.
    let origin: string;
    let upstream: RoundTripStack['upstream'];
    let proxy: RoundTripStack['proxy'];
    let users: RoundTripStack['users'];

    beforeAll(async () => {
      stack = await startRoundTripStack(kind, binaryPath(), chromiumPath());
      ({ origin, upstream, proxy, users } = stack);
      alice = await stack.browser.newContext();
    }, 120_000);

    afterAll(async () => {
      await stack?.stop();
    });

    const signInVia = (context: BrowserContext, path: string, user: CreatedUser) => signInThrough(origin, context, path, user);
    const cookieHeader = (context: BrowserContext) => cookieHeaderFor(context, origin);

    it('sends a logged-out browser to /login with rd, and back to the same page (commas and all) after signing in', async () => {
      const path = FIRST_PATH;
      const page = await signInVia(alice, path, users.alice);
      expect(page.url()).toBe(`${origin}${path}`);
      const echoed = JSON.parse((await page.locator('body').textContent())?.trim() ?? '') as { upstream: string };
      expect(echoed.upstream).toBe('echo');

      const seen = upstream.last(path);
      const pseudonym = headerValues(seen, 'Remote-User');
      expect(pseudonym).toHaveLength(1);
      expect(pseudonym[0]).toMatch(/^\S{8,}$/);
      expect(pseudonym[0]).not.toContain('alice');
      expect(headerValues(seen, 'Remote-Email')).toEqual([users.alice.email]);
      expect(headerValues(seen, 'Remote-Name')).toEqual(['alice']);
      expect(headerValues(seen, 'Remote-Role')).toEqual(['user']);

      const cookies = await alice.cookies(origin);
      for (const name of ['device_id', 'hmac_secret']) {
        const cookie = cookies.find((c) => c.name === name);
        expect(cookie?.value, name).toMatch(/^[0-9a-f]{32}$/);
        expect(cookie?.domain, name).toBe(`.${TEST_DOMAIN}`);
        expect(cookie?.httpOnly, name).toBe(true);
      }
      await page.close();
    });

    it('lets the signed-in browser straight through afterwards, with the same pseudonym', async () => {
      const page = await alice.newPage();
      const path = '/second/page';
      await page.goto(`${origin}${path}`);
      expect(page.url()).toBe(`${origin}${path}`);
      const first = upstream.last(FIRST_PATH);
      expect(headerValues(upstream.last(path), 'Remote-User')).toEqual(headerValues(first, 'Remote-User'));
      await page.close();
    });

    it('never lets identity headers sent by a logged-in client reach the app', async () => {
      const path = '/spoof/logged-in';
      const response = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        path,
        headers: [['Cookie', await cookieHeader(alice)], ['Accept', 'text/html'], ...SPOOFED_IDENTITY],
      });
      expect(response.status).toBe(200);
      const seen = upstream.last(path);
      const first = upstream.last(FIRST_PATH);
      expect(
        identityLikeHeaders(seen)
          .map(([name, value]) => [name.toLowerCase(), value])
          .sort(),
      ).toEqual(
        [
          ['remote-email', users.alice.email],
          ['remote-name', 'alice'],
          ['remote-role', 'user'],
          ['remote-user', headerValues(first, 'Remote-User')[0]],
        ].sort(),
      );
    });

    it('never lets identity headers sent by a logged-out client reach the app', async () => {
      for (const accept of ['text/html', 'application/json']) {
        const path = `/spoof/anonymous?accept=${encodeURIComponent(accept)}`;
        const response = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path,
          headers: [['Accept', accept], ...SPOOFED_IDENTITY],
        });
        expect([302, 401]).toContain(response.status);
        expect(upstream.last(path)).toBeUndefined();
      }
    });

    it('answers a logged-out request with a redirect for page loads and 401 for scripts and API clients', async () => {
      const navigation = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        path: '/style/nav',
        headers: [
          ['Accept', 'text/html,application/xhtml+xml'],
          ['Sec-Fetch-Mode', 'navigate'],
        ],
      });
      expect(navigation.status).toBe(302);
      const location = new URL(firstHeader(navigation, 'Location') ?? '');
      expect(`${location.origin}${location.pathname}`).toBe(`${origin}/login`);
      expect(location.searchParams.get('rd')).toBe(`${origin}/style/nav`);

      const script = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        path: '/style/xhr',
        headers: [
          ['Accept', 'application/json'],
          ['X-Requested-With', 'XMLHttpRequest'],
        ],
      });
      expect(upstream.last('/style/xhr')).toBeUndefined();
      if (kind === 'nginx') {
        // auth_request passes no 401 body on, so the config redirects every logged-out request.
        expect(script.status).toBe(302);
        return;
      }
      expect(script.status).toBe(401);
      expect(firstHeader(script, 'Location')).toBeUndefined();
      expect(JSON.parse(script.body)).toMatchObject({ 'status code': 401 });

      const formPost = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        method: 'POST',
        path: '/style/form',
        headers: [
          ['Accept', 'text/html'],
          ['Sec-Fetch-Mode', 'navigate'],
          ['Content-Type', 'application/x-www-form-urlencoded'],
        ],
        body: 'a=1',
      });
      expect(formPost.status).toBe(303);
      expect(upstream.last('/style/form')).toBeUndefined();
    });

    it('passes only what the grant allows: an email-only grant gives no name and no role', async () => {
      const context = await stack.browser.newContext();
      const path = '/scoped/erin';
      await signInVia(context, path, users.erin);
      const seen = upstream.last(path);
      expect(headerValues(seen, 'Remote-User')[0]).toMatch(/^\S{8,}$/);
      expect(headerValues(seen, 'Remote-Email')).toEqual([users.erin.email]);
      // nginx sends no header for an empty value, Caddy and Traefik send it empty.
      expect(headerValues(seen, 'Remote-Name').filter(Boolean)).toEqual([]);
      expect(headerValues(seen, 'Remote-Role').filter(Boolean)).toEqual([]);
      await context.close();
    });

    it('shows 403 to a signed-in user without a grant for the service', async () => {
      const context = await stack.browser.newContext();
      const page = await context.newPage();
      const path = '/not/for/bob';
      const target = `${origin}${path}`;
      await page.goto(target);
      await page.getByLabel('Email').fill(users.bob.email);
      await page.getByLabel('Code').fill(await totpCode(users.bob.totpSecret));
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === target),
        page.getByRole('button', { name: 'Sign in', exact: true }).click(),
      ]);
      expect(response.status()).toBe(403);
      expect(upstream.last(path)).toBeUndefined();
      await context.close();
    });

    it('does not expose /verify through the proxy, even with a valid proxy token and a logged-in device', async () => {
      const cookie = await cookieHeader(alice);
      const proxyToken = stack.proxyToken;
      // The same credentials straight at the sidecar do verify, so what happens below is the proxy's doing.
      const direct = await fetch(`http://127.0.0.1:${stack.sidecar.port}/verify/${SERVICE}`, {
        headers: { 'X-Service-Token': proxyToken, Cookie: cookie },
      });
      expect(direct.status).toBe(200);
      for (const path of [`/verify/${SERVICE}`, `/verify/${SERVICE}?proxy=${kind}`]) {
        const response = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path,
          headers: [
            ['Cookie', cookie],
            ['X-Service-Token', proxyToken],
            ['Authorization', `Bearer ${proxyToken}`],
          ],
        });
        expect(response.body).not.toContain('UserServiceToken');
        expect(response.headers['remote-user']).toBeUndefined();
        if (kind === 'traefik') {
          // Traefik routes no /verify to the sidecar: the path goes to the app, after the usual check.
          expect(response.status, path).toBe(200);
          expect(JSON.parse(response.body)).toMatchObject({ upstream: 'echo', url: path });
          expect(headerValues(upstream.last(path), 'X-Service-Token')).toEqual([]);
        } else {
          expect(response.status, path).toBe(404);
          expect(upstream.last(path)).toBeUndefined();
        }
      }
    });

    it('blocks the browser again after logout, and the old cookies stop working', async () => {
      const oldCookies = await cookieHeader(alice);
      const page = await alice.newPage();
      await page.goto(`${origin}/before/logout`);
      expect(page.url()).toBe(`${origin}/before/logout`);
      // What a "Sign out" button in the app does: a plain form POST to /logout.
      await signOutByForm(page);
      expect((await alice.cookies(origin)).filter((c) => c.name === 'device_id' || c.name === 'hmac_secret')).toEqual([]);
      await page.goto(`${origin}/after/logout`);
      expect(new URL(page.url()).pathname).toBe('/login');
      expect(upstream.last('/after/logout')).toBeUndefined();
      await page.close();

      // Logout revokes the device on the server, not only in this browser's cookie jar.
      const replay = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        path: '/after/logout/replay',
        headers: [
          ['Cookie', oldCookies],
          ['Accept', 'text/html'],
        ],
      });
      expect(replay.status).toBe(302);
      expect(upstream.last('/after/logout/replay')).toBeUndefined();
    });

    it('never hands the proxy token to the app, in any header, URL or body', async () => {
      // Only the /verify test's requests carry the token from the client itself (in Authorization).
      const seen = upstream.seen.filter((request) => !request.url.startsWith('/verify/'));
      expect(seen.length).toBeGreaterThan(5);
      for (const request of seen) {
        expect(JSON.stringify(request), request.url).not.toContain(stack.proxyToken);
        expect(
          request.rawHeaders.filter(([name]) => /^x[-_]service[-_]token$/i.test(name)),
          request.url,
        ).toEqual([]);
      }
    });

    // Last: it stops the sidecar.
    it('fails closed when the sidecar is down: an error for a signed-in browser, never the app', async () => {
      const context = await stack.browser.newContext();
      await signInVia(context, '/before/outage', users.frank);
      const cookie = await cookieHeader(context);
      await context.close();
      await stack.sidecar.stop();
      for (const accept of ['text/html', 'application/json']) {
        const path = `/during/outage?accept=${encodeURIComponent(accept)}`;
        const response = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path,
          headers: [
            ['Cookie', cookie],
            ['Accept', accept],
          ],
        });
        expect(response.status, path).toBeGreaterThanOrEqual(500);
        expect(response.headers['remote-user']).toBeUndefined();
        expect(upstream.last(path)).toBeUndefined();
      }
    });
  });
}
