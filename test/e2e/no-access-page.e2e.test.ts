// Rule: behind a proxy that passes /verify's answer to the browser (Caddy, Traefik), a signed-in
// user without access to the service sees a page, not raw JSON: it says they have no access to this service and
// who they are signed in as, carries its stylesheet and a working sign-out button, and the app sees nothing.
// An API client in the same situation still gets the JSON 403, whose "status code" is 403.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST, launchChromium, TEST_DOMAIN } from './support/browser.js';
import type { ProxyKind } from './support/config-contract.js';
import { reservePort } from './support/processes.js';
import { type ProxyTargets, type RunningProxy, startCaddy, startTraefik } from './support/proxies.js';
import { rawRequest } from './support/raw-http.js';
import { binary, builtSidecar, chromiumBinary, pathOf, type Requirement, requirementsGate, traefikBinary } from './support/requirements.js';
import { type EchoUpstream, startEchoUpstream } from './support/servers.js';
import { type CreatedUser, type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

const chromium = chromiumBinary();
const sidecarBuild = builtSidecar();

const PROXIES: ReadonlyArray<
  readonly [Exclude<ProxyKind, 'nginx'>, Requirement, (path: string, targets: ProxyTargets) => Promise<RunningProxy>]
> = [
  ['caddy', binary('caddy'), startCaddy],
  ['traefik', traefikBinary(), startTraefik],
];

for (const [kind, proxyBinary, startProxy] of PROXIES) {
  describe.skipIf(requirementsGate(`the no-access page behind ${kind}`, [proxyBinary, chromium, sidecarBuild]))(
    `${kind}: no access`,
    () => {
      let upstream: EchoUpstream;
      let sidecar: RunningSidecar;
      let proxy: RunningProxy;
      let browser: Browser;
      let origin: string;
      let carol: CreatedUser;
      let dave: CreatedUser;

      beforeAll(async () => {
        const reserved = await reservePort();
        origin = `http://${APP_HOST}:${reserved.port}`;
        upstream = await startEchoUpstream();
        sidecar = await startSidecar({ publicUrl: origin, landingUrl: `${origin}/`, cookieDomain: TEST_DOMAIN });
        await sidecar.cli(['service', 'add', 'protected-app']);
        const token = String((await sidecar.cli(['proxy-token', 'add', `${kind}-no-access`])).token);
        // Neither has a grant for protected-app.
        carol = await sidecar.addUser(`carol@${TEST_DOMAIN}`);
        dave = await sidecar.addUser(`dave@${TEST_DOMAIN}`);
        await reserved.release();
        proxy = await startProxy(pathOf(proxyBinary), {
          sidecarPort: sidecar.port,
          upstreamPort: upstream.port,
          proxyToken: token,
          hostName: APP_HOST,
          port: reserved.port,
        });
        browser = await launchChromium(pathOf(chromium));
      }, 120_000);

      afterAll(async () => {
        await browser?.close();
        await proxy?.stop();
        await sidecar?.stop();
        await upstream?.close();
      });

      it('shows who is signed in and that they have no access, styled, with a sign-out button that works', async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        const target = `${origin}/private/report`;
        await page.goto(target);
        await page.getByLabel('Email').fill(carol.email);
        await page.getByLabel('Code').fill(await totpCode(carol.totpSecret));
        const [answer] = await Promise.all([
          page.waitForResponse((r) => r.url() === target),
          page.getByRole('button', { name: 'Sign in', exact: true }).click(),
        ]);
        expect(answer.status()).toBe(403);
        expect(answer.headers()['content-type']).toMatch(/^text\/html/);
        await expect.poll(() => page.getByRole('heading', { name: 'No access' }).count()).toBe(1);
        const text = (await page.locator('main').textContent()) ?? '';
        expect(text).toContain(carol.email);
        expect(text).toContain('protected-app');
        expect(text).not.toContain('status code');
        // The stylesheet came through the proxy from the sidecar (CSP allows 'self' only).
        const styled = await page.evaluate('getComputedStyle(document.querySelector("main")).borderTopStyle');
        expect(styled).toBe('solid');
        expect(upstream.last('/private/report')).toBeUndefined();

        await Promise.all([page.waitForURL((url) => url.pathname === '/login'), page.getByRole('button', { name: 'Sign out' }).click()]);
        expect((await context.cookies(origin)).filter((c) => c.name === 'device_id' || c.name === 'hmac_secret')).toEqual([]);
        await context.close();
      });

      it('gives an API client the JSON 403 instead', async () => {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(`${origin}/login`);
        await page.getByLabel('Email').fill(dave.email);
        await page.getByLabel('Code').fill(await totpCode(dave.totpSecret));
        await Promise.all([page.waitForURL(`${origin}/`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
        const cookie = (await context.cookies(origin)).map((c) => `${c.name}=${c.value}`).join('; ');
        const api = await rawRequest({
          port: proxy.port,
          host: proxy.hostHeader,
          path: '/api/data',
          headers: [
            ['Cookie', cookie],
            ['Accept', 'application/json'],
          ],
        });
        expect(api.status).toBe(403);
        expect(JSON.parse(api.body)).toEqual({ 'status code': 403, error: 'User does not have access to this service' });
        await context.close();
      });
    },
  );
}
