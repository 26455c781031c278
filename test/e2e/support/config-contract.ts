// The shipped proxy config, run by the real proxy against a scripted stand-in for the sidecar. This pins what
// the config sends to /verify and what it does with each answer, independent of the sidecar's own code.
//
// Rules (each test is named after one):
//  - The auth request is a GET without body to exactly /verify/protected-app?proxy=<style>, carrying the proxy
//    token; the client cannot choose the query, the token, an Authorization header or the return URL headers.
//  - Only a 2xx from the sidecar lets a request through; the identity headers the app sees are exactly the
//    sidecar's, whatever the client sent, in any spelling.
//  - Not logged in ends at the login page (nginx turns 401+Location into a redirect; Caddy and Traefik pass
//    redirects).
//  - The login pages are public and reach the sidecar with the browser's Host; the sidecar's /verify is never
//    public (nginx and Caddy answer 404; Traefik routes no /verify to the sidecar, so it is an app path like any).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST } from './browser.js';
import { type RunningProxy, startCaddy, startNginx, startTraefik } from './proxies.js';
import { firstHeader, rawRequest } from './raw-http.js';
import {
  type EchoUpstream,
  type FakeSidecar,
  headerValues,
  identityLikeHeaders,
  type SeenRequest,
  startEchoUpstream,
  startFakeSidecar,
} from './servers.js';

export type ProxyKind = 'nginx' | 'caddy' | 'traefik';

export const startProxy = (kind: ProxyKind) => ({ nginx: startNginx, caddy: startCaddy, traefik: startTraefik })[kind];

const PROXY_TOKEN = 'proxy-token-for-config-tests-0123456789';

/** Client-sent identity headers in every spelling a spoofer would try, all in one request. */
export const SPOOFED_IDENTITY: ReadonlyArray<readonly [string, string]> = [
  ['Remote-User', 'spoofed-user'],
  ['remote-user', 'spoofed-lower'],
  ['REMOTE-USER', 'spoofed-upper'],
  ['Remote_User', 'spoofed-underscore'],
  ['REMOTE_USER', 'spoofed-underscore-upper'],
  ['Remote-Email', 'spoofed@evil.test'],
  ['Remote_Email', 'spoofed-underscore@evil.test'],
  ['Remote-Name', 'spoofed-name'],
  ['Remote_Name', 'spoofed-underscore-name'],
  ['Remote-Role', 'admin'],
  ['remote_role', 'admin'],
];

const IDENTITY = {
  'Remote-User': '6f1c1f7e-2d0a-4c8e-9a51-3f0f8a6f2b10',
  'Remote-Email': 'alice@example.test',
  'Remote-Name': 'alice',
  'Remote-Role': 'user',
} as const;

export function defineConfigContract(kind: ProxyKind, binaryPath: () => string): void {
  describe(`${kind}: shipped config against a scripted sidecar`, () => {
    let fake: FakeSidecar;
    let upstream: EchoUpstream;
    let proxy: RunningProxy;
    let counter = 0;

    beforeAll(async () => {
      fake = await startFakeSidecar();
      upstream = await startEchoUpstream();
      proxy = await startProxy(kind)(binaryPath(), {
        sidecarPort: fake.port,
        upstreamPort: upstream.port,
        proxyToken: PROXY_TOKEN,
        hostName: APP_HOST,
      });
    }, 60_000);

    afterAll(async () => {
      await proxy?.stop();
      await fake?.close();
      await upstream?.close();
    });

    /** A path no other test uses, so the requests seen can be told apart. */
    const uniquePath = (name: string) => `/app/${name}-${++counter}`;
    const verifyCallsFor = (path: string): SeenRequest[] =>
      fake.seen.filter((seen) => seen.url.startsWith('/verify/') && auditedUri(seen) === path);
    // Where the config says the client was going (nginx: X-Original-URL, Caddy and Traefik: X-Forwarded-Uri).
    const auditedUri = (seen: SeenRequest): string | undefined => {
      if (kind === 'nginx') {
        const original = new URL(headerValues(seen, 'X-Original-URL')[0] ?? 'http://missing/');
        return original.pathname + original.search;
      }
      return headerValues(seen, 'X-Forwarded-Uri')[0];
    };
    const allowWith = (headers: Record<string, string>) => {
      fake.answerVerify = () => ({ status: 200, headers });
    };

    it('sends a bodiless GET to exactly /verify/protected-app?proxy=<style> with the proxy token', async () => {
      allowWith(IDENTITY);
      const path = `${uniquePath('post')}?proxy=traefik&x=1`;
      const response = await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        method: 'POST',
        path,
        headers: [
          ['Content-Type', 'application/x-www-form-urlencoded'],
          ['Cookie', 'device_id=0123456789abcdef0123456789abcdef; hmac_secret=fedcba9876543210fedcba9876543210'],
          ['Authorization', 'Bearer client-chosen-token'],
          ['X-Service-Token', 'client-chosen-token'],
        ],
        body: 'field=the-body-belongs-to-the-app',
      });
      expect(response.status).toBe(200);

      const [verify, ...more] = verifyCallsFor(path);
      expect(more).toHaveLength(0);
      expect(verify?.method).toBe('GET');
      expect(verify?.url).toBe(`/verify/protected-app?proxy=${kind}`);
      expect(verify?.body).toBe('');
      expect(headerValues(verify, 'X-Service-Token')).toEqual([PROXY_TOKEN]);
      expect(headerValues(verify, 'Authorization')).toEqual([]);
      expect(headerValues(verify, 'Cookie').join('; ')).toContain('device_id=0123456789abcdef0123456789abcdef');
      expect(headerValues(verify, 'Cookie').join('; ')).toContain('hmac_secret=fedcba9876543210fedcba9876543210');

      // The app still gets the request as sent, body included.
      const seen = upstream.last(path);
      expect(seen?.method).toBe('POST');
      expect(seen?.body).toBe('field=the-body-belongs-to-the-app');
      // The proxy token is for the sidecar only.
      expect(headerValues(seen, 'X-Service-Token')).toEqual([]);
    });

    it('tells the sidecar the original URL and method, and ignores the copies a client sends', async () => {
      allowWith(IDENTITY);
      const path = `${uniquePath('original')}?a=1&b=two`;
      await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        method: 'PUT',
        path,
        headers: [
          ['X-Original-URL', 'https://evil.test/steal'],
          ['X-Original-Method', 'DELETE'],
          ['X-Forwarded-Host', 'evil.test'],
          ['X-Forwarded-Proto', 'https'],
          ['X-Forwarded-Uri', '/steal'],
          ['X-Forwarded-Method', 'DELETE'],
        ],
        body: '',
      });
      const [verify] = verifyCallsFor(path);
      expect(verify, 'the auth request').toBeDefined();
      expect(headerValues(verify, 'X-Forwarded-Host')).toEqual([proxy.hostHeader]);
      expect(headerValues(verify, 'X-Forwarded-Proto')).toEqual(['http']);
      expect(headerValues(verify, 'X-Forwarded-Uri')).toEqual([path]);
      expect(headerValues(verify, 'X-Forwarded-Method')).toEqual(['PUT']);
      if (kind === 'nginx') {
        expect(headerValues(verify, 'X-Original-URL')).toEqual([`${proxy.origin}${path}`]);
        expect(headerValues(verify, 'X-Original-Method')).toEqual(['PUT']);
      } else {
        // X-Original-* is the nginx style; through Caddy or Traefik it could only come from the client.
        expect(headerValues(verify, 'X-Original-URL')).toEqual([]);
        expect(headerValues(verify, 'X-Original-Method')).toEqual([]);
      }
    });

    it('tells the sidecar the client address it saw, never the address claims a client sends', async () => {
      allowWith(IDENTITY);
      const path = uniquePath('address');
      await rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        path,
        headers: [
          ['X-Forwarded-For', '10.9.9.9'],
          ['X-Real-IP', '10.9.9.9'],
          ['Forwarded', 'for=10.9.9.9'],
        ],
      });
      const [verify] = verifyCallsFor(path);
      expect(verify, 'the auth request').toBeDefined();
      // The access rules' networks are matched on this: the proxy's own peer, not what the client wrote.
      expect(headerValues(verify, 'X-Forwarded-For')).toEqual(['127.0.0.1']);
      expect(headerValues(verify, 'X-Real-IP').filter((value) => value !== '127.0.0.1')).toEqual([]);
      expect(headerValues(verify, 'Forwarded')).toEqual([]);
    });

    it('tells the sidecar the path the app gets, however it is spelled', async () => {
      allowWith(IDENTITY);
      // Rules are decided on this path; a proxy that cleaned it for one side only would open a bypass. nginx and
      // Caddy pass it on as sent; Traefik cleans it (decodes %61, resolves dot segments), the same for both.
      for (const spelling of ['/../admin', '//admin', '/%61dmin/./x', '/admin;x', '/admin%2fx', '/%2e%2e/admin']) {
        const path = `${uniquePath('spelling')}${spelling}`;
        const sidecarBefore = fake.seen.length;
        const appBefore = upstream.seen.length;
        const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
        expect(response.status, path).toBe(200);
        const verify = fake.seen.slice(sidecarBefore);
        const served = upstream.seen.slice(appBefore);
        expect(verify, `one auth request for ${path}`).toHaveLength(1);
        expect(
          served.map((seen) => seen.url),
          `the app for ${path}`,
        ).toHaveLength(1);
        // The raw header text: URL parsing would already have resolved the dot segments.
        expect(headerValues(verify[0], 'X-Forwarded-Uri'), path).toEqual([served[0]?.url]);
        if (kind === 'nginx') expect(headerValues(verify[0], 'X-Original-URL')).toEqual([`${proxy.origin}${served[0]?.url}`]);
        if (kind !== 'traefik') expect(served[0]?.url).toBe(path);
      }
    });

    it('never lets a Host header move where the original URL path begins', async () => {
      allowWith(IDENTITY);
      for (const suffix of ['#', '?', '\\health', '@evil.test']) {
        const path = uniquePath('host');
        const before = fake.seen.length;
        const response = await rawRequest({ port: proxy.port, host: `${proxy.hostHeader}${suffix}`, path });
        expect([400, 404], `Host: ${proxy.hostHeader}${suffix}`).toContain(response.status);
        expect(fake.seen.length, `Host: ${proxy.hostHeader}${suffix} reached the sidecar`).toBe(before);
        expect(upstream.last(path)).toBeUndefined();
      }
    });

    it('passes exactly the identity the sidecar returned, whatever identity headers the client sent', async () => {
      allowWith(IDENTITY);
      const path = uniquePath('identity');
      const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path, headers: SPOOFED_IDENTITY });
      expect(response.status).toBe(200);
      const seen = upstream.last(path);
      expect(
        identityLikeHeaders(seen)
          .map(([name, value]) => [name.toLowerCase(), value])
          .sort(),
      ).toEqual(
        Object.entries(IDENTITY)
          .map(([name, value]) => [name.toLowerCase(), value])
          .sort(),
      );
    });

    it('passes no client identity when the sidecar returns the identity headers empty', async () => {
      allowWith({ 'Remote-User': 'only-the-pseudonym', 'Remote-Email': '', 'Remote-Name': '', 'Remote-Role': '' });
      const path = uniquePath('scoped');
      await rawRequest({ port: proxy.port, host: proxy.hostHeader, path, headers: SPOOFED_IDENTITY });
      const seen = upstream.last(path);
      expect(headerValues(seen, 'Remote-User')).toEqual(['only-the-pseudonym']);
      // nginx sends no header for an empty value; Caddy and Traefik send it empty. Either way no spoofed value arrives.
      for (const [name, value] of identityLikeHeaders(seen)) {
        if (name.toLowerCase() !== 'remote-user') expect([name, value]).toEqual([name, '']);
      }
      expect(identityLikeHeaders(seen).some(([name]) => name.includes('_'))).toBe(false);
    });

    it('never reaches the app when the sidecar says 403, and shows the client a 403', async () => {
      fake.answerVerify = () => ({ status: 403, body: '{"status code":403}' });
      const path = uniquePath('forbidden');
      const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path, headers: SPOOFED_IDENTITY });
      expect(response.status).toBe(403);
      expect(upstream.last(path)).toBeUndefined();
    });

    it('never reaches the app when the sidecar fails (500)', async () => {
      fake.answerVerify = () => ({ status: 500 });
      const path = uniquePath('broken');
      const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
      expect(response.status).toBe(500);
      expect(upstream.last(path)).toBeUndefined();
    });

    if (kind === 'nginx') {
      it('turns 401 with Location into a redirect to the login page', async () => {
        const login = `${proxy.origin}/login?rd=${encodeURIComponent(`${proxy.origin}/somewhere`)}`;
        fake.answerVerify = () => ({ status: 401, headers: { Location: login } });
        const path = uniquePath('anonymous');
        const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
        expect(response.status).toBe(302);
        expect(firstHeader(response, 'Location')).toBe(login);
        expect(upstream.last(path)).toBeUndefined();
      });

      it('keeps a 401 without Location a 401 (a wrong proxy token is visible, not a redirect loop)', async () => {
        fake.answerVerify = () => ({ status: 401 });
        const path = uniquePath('misconfigured');
        const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
        expect(response.status).toBe(401);
        expect(firstHeader(response, 'Location')).toBeUndefined();
        expect(upstream.last(path)).toBeUndefined();
      });

      it('does not answer the internal auth location to clients', async () => {
        const before = fake.seen.length;
        const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path: '/_passwordless_auth' });
        expect(response.status).toBe(404);
        expect(fake.seen.length).toBe(before);
      });
    } else {
      it('hands the sidecar redirect (302/303) and 401 to the client as they are', async () => {
        const login = `${proxy.origin}/login?rd=x`;
        for (const status of [302, 303, 401]) {
          const headers: Record<string, string> = status === 401 ? {} : { Location: login };
          fake.answerVerify = () => ({ status, headers });
          const path = uniquePath(`status-${status}`);
          const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
          expect(response.status).toBe(status);
          if (status !== 401) expect(firstHeader(response, 'Location')).toBe(login);
          expect(upstream.last(path)).toBeUndefined();
        }
      });
    }

    it('routes /login, /login/static/... and /logout to the sidecar without asking /verify', async () => {
      fake.answerVerify = () => ({ status: 403 });
      for (const [method, path] of [
        ['GET', '/login?rd=http%3A%2F%2Fapp.example.test%2F'],
        ['POST', '/login'],
        ['GET', '/login/static/login.css'],
        ['POST', '/logout'],
      ] as const) {
        const before = fake.seen.length;
        const response = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          method,
          path,
          headers: method === 'POST' ? [['Content-Type', 'application/x-www-form-urlencoded']] : [],
          body: method === 'POST' ? 'email=a%40example.test&code=123456' : undefined,
        });
        expect(response.status, `${method} ${path}`).toBe(200);
        expect(JSON.parse(response.body)).toMatchObject({ fakeSidecar: true, method, url: path });
        const reached = fake.seen.slice(before);
        expect(reached.map((seen) => seen.url)).toEqual([path]);
        // The sidecar sees the browser's host, so it can check Origin on the POST.
        expect(headerValues(reached[0], 'Host')).toEqual([proxy.hostHeader]);
        if (method === 'POST') expect(reached[0]?.body).toBe('email=a%40example.test&code=123456');
      }
    });

    it('protects look-alike paths (/loginx, /logout/x) like any other app path', async () => {
      fake.answerVerify = () => ({ status: 403 });
      for (const path of ['/loginx', '/logout/x', '/static/login']) {
        const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path });
        expect(response.status, path).toBe(403);
      }
    });

    it('never lets a client reach /verify', async () => {
      allowWith(IDENTITY);
      for (const path of ['/verify/protected-app', '/verify/protected-app?proxy=nginx', '/verify/other']) {
        const before = fake.seen.length;
        const response = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path,
          headers: [['X-Service-Token', PROXY_TOKEN]],
        });
        if (kind === 'traefik') {
          // No router sends /verify to the sidecar: it is an app path, asked about like any other, and the app
          // gets it without the token.
          expect(response.status, path).toBe(200);
          expect(fake.seen.slice(before).map((seen) => seen.url)).toEqual(['/verify/protected-app?proxy=traefik']);
          expect(headerValues(upstream.last(path), 'X-Service-Token')).toEqual([]);
        } else {
          expect(response.status, path).toBe(404);
          expect(fake.seen.length, `${path} reached the sidecar`).toBe(before);
          expect(upstream.last(path)).toBeUndefined();
        }
      }
    });

    if (kind === 'traefik') {
      it('sends plain-http requests on the web entry point to https, without asking the sidecar', async () => {
        const before = fake.seen.length;
        const response = await rawRequest({ port: proxy.redirectPort ?? 0, host: APP_HOST, path: '/app/page?x=1' });
        expect([301, 302, 307, 308]).toContain(response.status);
        expect(new URL(firstHeader(response, 'Location') ?? '').protocol).toBe('https:');
        expect(new URL(firstHeader(response, 'Location') ?? '').pathname).toBe('/app/page');
        expect(fake.seen.length).toBe(before);
      });
    }
  });
}
