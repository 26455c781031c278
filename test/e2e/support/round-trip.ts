// The real thing: headless Chromium → the shipped proxy config → the real sidecar (fresh SQLite) and an app
// that echoes the headers it receives.
//
// Rules (each test is named after one):
//  - A browser that is not logged in is sent to /login with rd = the exact page it asked for, and lands back
//    there after signing in with email + TOTP code; the app then sees the user's identity headers.
//  - Identity headers a client sends itself (any case, dash or underscore) never reach the app, logged in or not.
//  - The app sees only what the user's grant allows; the rest is empty or absent.
//  - Logged in without a grant for the service: 403. After logout: sent to the login page again.
//  - /verify is not reachable through the proxy, even with a valid proxy token and a logged-in device.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST, launchChromium, TEST_DOMAIN } from './browser.js';
import { type ProxyKind, SPOOFED_IDENTITY, startProxy } from './config-contract.js';
import { reservePort } from './processes.js';
import type { RunningProxy } from './proxies.js';
import { firstHeader, rawRequest } from './raw-http.js';
import { type EchoUpstream, headerValues, identityLikeHeaders, startEchoUpstream } from './servers.js';
import { type CreatedUser, type RunningSidecar, startSidecar, totpCode } from './sidecar.js';

const SERVICE = 'protected-app';
const ALL_SCOPES = 'read:email,read:username,read:user-role';

export function defineBrowserRoundTrip(kind: ProxyKind, binaryPath: () => string, chromiumPath: () => string): void {
  describe(`${kind}: browser round trip with the real sidecar`, () => {
    let upstream: EchoUpstream;
    let sidecar: RunningSidecar;
    let proxy: RunningProxy;
    let browser: Browser;
    let proxyToken: string;
    let origin: string;
    const users = {} as Record<'alice' | 'erin' | 'bob', CreatedUser>;
    let alice: BrowserContext;

    beforeAll(async () => {
      // Held until the proxy starts: the sidecar must know the proxy's port (PUBLIC_URL) before either runs.
      const reserved = await reservePort();
      const port = reserved.port;
      origin = `http://${APP_HOST}:${port}`;
      upstream = await startEchoUpstream();
      sidecar = await startSidecar({ publicUrl: origin, landingUrl: `${origin}/welcome`, cookieDomain: TEST_DOMAIN });
      await sidecar.cli(['service', 'add', SERVICE]);
      const created = await sidecar.cli(['proxy-token', 'add', `${kind}-e2e`]);
      proxyToken = String(created.token);
      // One user per login: the tests must not depend on whether a TOTP code may be used twice.
      users.alice = await sidecar.addUser(`alice.${kind}@${TEST_DOMAIN}`, { username: 'alice' });
      users.erin = await sidecar.addUser(`erin.${kind}@${TEST_DOMAIN}`, { username: 'erin' });
      users.bob = await sidecar.addUser(`bob.${kind}@${TEST_DOMAIN}`, { username: 'bob' });
      await sidecar.cli(['grant', '--email', users.alice.email, '--service', SERVICE, '--scope', ALL_SCOPES]);
      await sidecar.cli(['grant', '--email', users.erin.email, '--service', SERVICE, '--scope', 'read:email']);
      await reserved.release();
      proxy = await startProxy(kind)(binaryPath(), {
        sidecarPort: sidecar.port,
        upstreamPort: upstream.port,
        proxyToken,
        hostName: APP_HOST,
        port,
      });
      browser = await launchChromium(chromiumPath());
      alice = await browser.newContext();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await proxy?.stop();
      await sidecar?.stop();
      await upstream?.close();
    });

    /** Opens `path` logged out, checks the login redirect, signs in, and returns the page back on `path`. */
    async function signInVia(context: BrowserContext, path: string, user: CreatedUser): Promise<Page> {
      const page = await context.newPage();
      const target = `${origin}${path}`;
      await page.goto(target);
      const login = new URL(page.url());
      expect(`${login.origin}${login.pathname}`).toBe(`${origin}/login`);
      expect(login.searchParams.getAll('rd')).toEqual([target]);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Code').fill(await totpCode(user.totpSecret));
      await Promise.all([page.waitForURL(target), page.getByRole('button', { name: 'Sign in' }).click()]);
      return page;
    }

    async function cookieHeader(context: BrowserContext): Promise<string> {
      const cookies = await context.cookies(origin);
      return cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    }

    it('sends a logged-out browser to /login with rd, and back to the same page after signing in', async () => {
      const path = '/reports/2024?view=full&q=a%20b';
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
      const first = upstream.seen.find((seen) => seen.url.startsWith('/reports/2024'));
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
      const first = upstream.seen.find((s) => s.url.startsWith('/reports/2024'));
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

    it('answers a logged-out request with a redirect for page loads and 401 for scripts (proxy style)', async () => {
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

      if (kind === 'caddy') {
        const script = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path: '/style/xhr',
          headers: [
            ['Accept', 'application/json'],
            ['X-Requested-With', 'XMLHttpRequest'],
          ],
        });
        expect(script.status).toBe(401);
        expect(firstHeader(script, 'Location')).toBeUndefined();

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
      }
    });

    it('passes only what the grant allows: an email-only grant gives no name and no role', async () => {
      const context = await browser.newContext();
      const path = '/scoped/erin';
      await signInVia(context, path, users.erin);
      const seen = upstream.last(path);
      expect(headerValues(seen, 'Remote-User')[0]).toMatch(/^\S{8,}$/);
      expect(headerValues(seen, 'Remote-Email')).toEqual([users.erin.email]);
      // nginx sends no header for an empty value, Caddy sends it empty.
      expect(headerValues(seen, 'Remote-Name').filter(Boolean)).toEqual([]);
      expect(headerValues(seen, 'Remote-Role').filter(Boolean)).toEqual([]);
      await context.close();
    });

    it('shows 403 to a signed-in user without a grant for the service', async () => {
      const context = await browser.newContext();
      const page = await context.newPage();
      const path = '/not/for/bob';
      const target = `${origin}${path}`;
      await page.goto(target);
      await page.getByLabel('Email').fill(users.bob.email);
      await page.getByLabel('Code').fill(await totpCode(users.bob.totpSecret));
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === target),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      expect(response.status()).toBe(403);
      expect(upstream.last(path)).toBeUndefined();
      await context.close();
    });

    it('does not expose /verify through the proxy, even with a valid proxy token and a logged-in device', async () => {
      const cookie = await cookieHeader(alice);
      // The same credentials straight at the sidecar do verify, so a 404 below is the proxy's doing.
      const direct = await fetch(`http://127.0.0.1:${sidecar.port}/verify/${SERVICE}`, {
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
        expect(response.status, path).toBe(404);
        expect(response.body).not.toContain('UserServiceToken');
        expect(response.headers['remote-user']).toBeUndefined();
      }
    });

    it('blocks the browser again after logout, and the old cookies stop working', async () => {
      const oldCookies = await cookieHeader(alice);
      const page = await alice.newPage();
      await page.goto(`${origin}/before/logout`);
      expect(page.url()).toBe(`${origin}/before/logout`);
      // What a "Sign out" button in the app does: a plain form POST to /logout.
      await Promise.all([
        page.waitForURL((url) => url.pathname === '/login'),
        // A string, not a function: the test tsconfig has no DOM types.
        page.evaluate(`{
          const form = document.createElement('form');
          form.method = 'POST';
          form.action = '/logout';
          document.body.append(form);
          form.submit();
        }`),
      ]);
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
  });
}
