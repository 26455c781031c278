// Rule: one oversized POST through a proxy never breaks anyone else's request. A body of about 180 KB (under the
// proxies' own 1 MiB limit, over the sidecar's 16 KiB) gets 413 from the sidecar, and the proxy's pooled
// keep-alive connection to the sidecar stays sound: the next POSTs, from other clients, get their real answers
// (the login page's 401 for a wrong code), never a 502. Run through the shipped nginx and Caddy configs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST, TEST_DOMAIN } from './support/browser.js';
import { type ProxyKind, startProxy } from './support/config-contract.js';
import type { RunningProxy } from './support/proxies.js';
import { rawRequest } from './support/raw-http.js';
import { binary, builtSidecar, pathOf, requirementsGate } from './support/requirements.js';
import { type EchoUpstream, startEchoUpstream } from './support/servers.js';
import { type RunningSidecar, startSidecar } from './support/sidecar.js';

const sidecarBuilt = builtSidecar();

for (const kind of ['nginx', 'caddy'] as const satisfies readonly ProxyKind[]) {
  const proxyBinary = binary(kind);
  describe.skipIf(requirementsGate(`${kind} body limits`, [proxyBinary, sidecarBuilt]))(`${kind}: an oversized POST`, () => {
    let upstream: EchoUpstream;
    let sidecar: RunningSidecar;
    let proxy: RunningProxy;

    beforeAll(async () => {
      upstream = await startEchoUpstream();
      sidecar = await startSidecar({ publicUrl: `http://${APP_HOST}`, landingUrl: `http://${APP_HOST}/`, cookieDomain: TEST_DOMAIN });
      await sidecar.cli(['service', 'add', 'protected-app']);
      const token = String((await sidecar.cli(['proxy-token', 'add', `${kind}-limits`])).token);
      await sidecar.addUser(`limits.${kind}@${TEST_DOMAIN}`);
      proxy = await startProxy(kind)(pathOf(proxyBinary), {
        sidecarPort: sidecar.port,
        upstreamPort: upstream.port,
        proxyToken: token,
        hostName: APP_HOST,
      });
    }, 120_000);

    afterAll(async () => {
      await proxy?.stop();
      await sidecar?.stop();
      await upstream?.close();
    });

    const post = (body: string) =>
      rawRequest({
        port: proxy.port,
        host: proxy.hostHeader,
        method: 'POST',
        path: '/login',
        headers: [['Content-Type', 'application/x-www-form-urlencoded']],
        body,
      });

    it('gets 413, and the POSTs of other clients after it get their own answers, not 502', async () => {
      const wrong = new URLSearchParams({ email: `limits.${kind}@${TEST_DOMAIN}`, code: '000000' }).toString();
      // A normal POST first, so the proxy holds a pooled connection to the sidecar.
      expect((await post(wrong)).status).toBe(401);
      for (let round = 0; round < 3; round++) {
        const big = await post(new URLSearchParams({ email: 'x@example.com', pad: 'x'.repeat(180_000) }).toString());
        expect(big.status, `round ${round}: the oversized POST`).toBe(413);
        expect(big.body).toContain('"status code":413');
        for (let i = 0; i < 3; i++) {
          const next = await post(wrong);
          expect(next.status, `round ${round}, POST ${i + 1} after it`).toBe(401);
          expect(next.body).toContain('Invalid email or code.');
        }
      }
    });

    // Caddy passes a 196 KiB URL on (its own header limit is larger); the sidecar's 431 must reach the client.
    if (kind === 'caddy')
      it('passes the sidecar’s 431 for a 196 KiB URL on, never a 502', async () => {
        for (let i = 0; i < 6; i++) {
          const long = await rawRequest({ port: proxy.port, host: proxy.hostHeader, path: `/login?pad=${'x'.repeat(196 * 1024)}` });
          expect(long.status, `try ${i + 1}`).toBe(431);
        }
      });
  });
}
