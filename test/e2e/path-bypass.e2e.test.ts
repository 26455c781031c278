// The bypass battery (issue 15, point 5): the rules decide on the path the app will serve. Every encoding in
// support/path-battery.ts goes over a raw socket through the real nginx, Caddy and Traefik with their shipped
// configs, to the real sidecar with access rules and to an app that records the request target it served.
// For every request the app served, every path an app might make of it (appReadings) must be allowed:
//  - with no cookies, only `public` paths (/health, /hooks/*) may be served;
//  - signed in with a code and granted the service, nothing under /admin (deny) or /secure (passkey).
// Sanity checks make sure the battery can fail: the public path is served anonymously, a granted path is served
// to the signed-in device, and the deny and passkey areas themselves are refused. A DELETE rule shows that the
// client's method-override headers reach the sidecar through each proxy, so that no POST runs as a DELETE.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST } from './support/browser.js';
import { type ProxyKind, startProxy } from './support/config-contract.js';
import { appReadings, isUnder, PASSKEY_PROBES, PATH_PROBES, type PathProbe, wireTarget } from './support/path-battery.js';
import type { RunningProxy } from './support/proxies.js';
import { rawRequest } from './support/raw-http.js';
import { type RawRecorder, startRawRecorder } from './support/raw-recorder.js';
import { binary, builtSidecar, pathOf, requirementsGate, traefikBinary } from './support/requirements.js';
import { type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

const SERVICE = 'protected-app';
const PUBLIC_PATHS = (path: string) => path === '/health' || /^\/hooks\/[^/]+$/.test(path);
const binaries = { nginx: binary('nginx'), caddy: binary('caddy'), traefik: traefikBinary() } as const;
const sidecarBuilt = builtSidecar();

/** A target for a failure message: control and non-ASCII bytes as \xNN, long ones cut. */
const show = (target: string): string => {
  const text = target.replace(/[^\x21-\x7e]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return text.length > 120 ? `${text.slice(0, 60)}…(${text.length})…${text.slice(-40)}` : text;
};

describe.skipIf(requirementsGate('path bypass battery', [...Object.values(binaries), sidecarBuilt]))('path bypass battery', () => {
  let sidecar: RunningSidecar;
  let cookie: string;
  const stacks = new Map<ProxyKind, { proxy: RunningProxy; app: RawRecorder }>();

  beforeAll(async () => {
    sidecar = await startSidecar({ publicUrl: `http://${APP_HOST}`, landingUrl: `http://${APP_HOST}/`, cookieDomain: '' });
    await sidecar.cli(['service', 'add', SERVICE]);
    const proxyToken = String((await sidecar.cli(['proxy-token', 'add', 'battery'])).token);
    const alice = await sidecar.addUser(`alice@${APP_HOST}`);
    await sidecar.applyPolicy({
      services: {
        [SERVICE]: {
          grants: { [alice.email]: 'read:email' },
          rules: [
            { paths: ['/health'], policy: 'public' },
            { paths: ['/hooks/*'], policy: 'public' },
            { paths: ['/admin/**'], policy: 'deny' },
            { paths: ['/secure/**'], policy: 'passkey' },
            { methods: ['DELETE'], policy: 'deny' },
          ],
        },
      },
    });
    // Signed in with a code: the reference's JSON login, straight to the sidecar; the cookies then go through
    // each proxy as a browser would send them.
    const login = await fetch(`http://127.0.0.1:${sidecar.port}/device/add`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: alice.email, device_registration_code: await totpCode(alice.totpSecret), device_type: 'battery' }),
    });
    expect(login.status).toBe(200);
    cookie = login.headers
      .getSetCookie()
      .map((line) => line.split(';')[0])
      .join('; ');
    for (const kind of Object.keys(binaries) as ProxyKind[]) {
      const app = await startRawRecorder();
      const proxy = await startProxy(kind)(pathOf(binaries[kind]), {
        sidecarPort: sidecar.port,
        upstreamPort: app.port,
        proxyToken,
        hostName: APP_HOST,
      });
      stacks.set(kind, { proxy, app });
    }
  }, 120_000);

  afterAll(async () => {
    for (const { proxy, app } of stacks.values()) {
      await proxy.stop();
      await app.close();
    }
    await sidecar?.stop();
  });

  /** Sends each probe through `kind`; returns the app's reading of each served request that `allowed` refuses. */
  async function escapes(
    kind: ProxyKind,
    probes: readonly PathProbe[],
    headers: Array<[string, string]>,
    allowed: (path: string) => boolean,
  ) {
    const { proxy, app } = stacks.get(kind) as { proxy: RunningProxy; app: RawRecorder };
    const found: string[] = [];
    for (const probe of probes) {
      const sent = wireTarget(probe, proxy.hostHeader);
      const before = app.seen.length;
      const response = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path: sent, headers });
      // Refused or not, a probe gets an answer, never a server error (a crash, or nginx's 500 for an answer
      // auth_request does not understand).
      expect(response.status, `${probe.name}: ${sent.slice(0, 100)}`).toBeLessThan(500);
      for (const served of app.seen.slice(before)) {
        const reading = [...appReadings(served.target)].find((path) => !allowed(path));
        // One line per escape, readable in the failure message.
        if (reading !== undefined)
          found.push(`${probe.name}: sent ${show(sent)} → ${response.status}, app served ${show(served.target)}, read as ${show(reading)}`);
      }
    }
    return found;
  }

  it('reads encodings as apps do (the battery can see an escape)', () => {
    expect(appReadings('/health%2f..%2fadmin/x')).toContain('/admin/x');
    expect(appReadings('/health#/../admin/x')).toContain('/admin/x');
    expect(appReadings('/health/%252e%252e/admin/x')).toContain('/admin/x');
    expect(appReadings('/health/..;/admin/x')).toContain('/admin/x');
    expect(appReadings('/ADMIN.')).toContain('/admin');
    expect(appReadings('/health/\u00c0\u00ae\u00c0\u00ae/admin/x')).toContain('/admin/x');
    expect(appReadings('/health\\..\\admin')).toContain('/admin');
    expect(appReadings('/admin%00.png')).toContain('/admin');
    expect(appReadings('http://h:1/admin?/../health')).toEqual(new Set(['/admin']));
    expect(appReadings('/health')).toEqual(new Set(['/health']));
  });

  for (const kind of Object.keys(binaries) as ProxyKind[]) {
    describe(`through ${kind}`, () => {
      const get = (path: string, headers: Array<[string, string]> = []) => {
        const { proxy } = stacks.get(kind) as { proxy: RunningProxy };
        return rawRequest({ port: proxy.port, host: proxy.hostHeader, path, headers });
      };
      const served = (target: string) => (stacks.get(kind) as { app: RawRecorder }).app.seen.some((seen) => seen.target === target);

      it('serves the public path without cookies and a granted path to the signed-in device, and refuses the areas', async () => {
        expect((await get('/health')).status).toBe(200);
        expect((await get('/hooks/deploy')).status).toBe(200);
        expect((await get('/reports/1', [['Cookie', cookie]])).status).toBe(200);
        expect(served('/reports/1')).toBe(true);
        expect((await get('/reports/2')).status).not.toBe(200);
        expect((await get('/admin/x', [['Cookie', cookie]])).status).toBe(403);
        expect((await get('/secure/x', [['Cookie', cookie]])).status).not.toBe(200);
        expect(served('/reports/2') || served('/admin/x') || served('/secure/x')).toBe(false);
      });

      it('runs no POST as a DELETE: a method-override header reaches the sidecar, which refuses it', async () => {
        const send = (method: string, target: string, headers: Array<[string, string]> = []) => {
          const { proxy } = stacks.get(kind) as { proxy: RunningProxy };
          return rawRequest({ port: proxy.port, host: proxy.hostHeader, method, path: target, headers: [['Cookie', cookie], ...headers] });
        };
        expect((await send('POST', '/reports/post')).status).toBe(200);
        expect(served('/reports/post')).toBe(true);
        expect((await send('DELETE', '/reports/delete')).status).toBe(403);
        for (const header of ['X-HTTP-Method-Override', 'X-HTTP-Method', 'X-Method-Override']) {
          const target = `/reports/${header.toLowerCase()}`;
          expect([header, (await send('POST', target, [[header, 'DELETE']])).status]).toEqual([header, 403]);
          expect([header, served(target)]).toEqual([header, false]);
        }
        expect(served('/reports/delete')).toBe(false);
      });

      it(`serves nothing but public paths to a client without cookies (${PATH_PROBES.length + PASSKEY_PROBES.length} encodings)`, async () => {
        expect(await escapes(kind, [...PATH_PROBES, ...PASSKEY_PROBES], [], PUBLIC_PATHS)).toEqual([]);
      });

      it(`serves nothing under /admin or /secure to a device signed in with a code (${PATH_PROBES.length + PASSKEY_PROBES.length} encodings)`, async () => {
        const outside = (path: string) => !isUnder(path, '/admin') && !isUnder(path, '/secure');
        expect(await escapes(kind, [...PATH_PROBES, ...PASSKEY_PROBES], [['Cookie', cookie]], outside)).toEqual([]);
      });
    });
  }
});
