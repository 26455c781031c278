// Rule: behind every shipped proxy config (Caddy and Traefik pass /verify's answer to the browser; nginx's
// `error_page 403` asks for it as a page), a signed-in user without access to the service sees a page, not raw
// JSON or nginx's bare 403: it says they have no access to this service and who they are signed in as, carries
// its stylesheet, a link to the account page and a working sign-out button, and the app sees nothing. An API
// client in the same situation still gets the JSON 403, whose "status code" is 403. A proxy sending a token the
// sidecar does not know shows a page load a page for whoever runs the site (issue 19, point 7), and an API client
// the JSON 401.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_HOST, launchChromium, TEST_DOMAIN } from './support/browser.js';
import type { ProxyKind } from './support/config-contract.js';
import { reservePort } from './support/processes.js';
import { type ProxyTargets, type RunningProxy, startCaddy, startNginx, startTraefik } from './support/proxies.js';
import { rawRequest } from './support/raw-http.js';
import { binary, builtSidecar, chromiumBinary, pathOf, type Requirement, requirementsGate, traefikBinary } from './support/requirements.js';
import { type EchoUpstream, startEchoUpstream } from './support/servers.js';
import { type CreatedUser, type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

const chromium = chromiumBinary();
const sidecarBuild = builtSidecar();

const PROXIES: ReadonlyArray<readonly [ProxyKind, Requirement, (path: string, targets: ProxyTargets) => Promise<RunningProxy>]> = [
  ['nginx', binary('nginx'), startNginx],
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
        // The stylesheet came through the proxy from the sidecar (CSP allows 'self' only). The heading is there once
        // the page is parsed; the stylesheet may still be on its way (under load), so its effect is waited for.
        await page.waitForLoadState('load');
        await expect.poll(() => page.evaluate('getComputedStyle(document.querySelector("main")).borderTopStyle')).toBe('solid');
        expect(upstream.last('/private/report')).toBeUndefined();
        expect(await page.getByRole('link', { name: 'Your account' }).getAttribute('href')).toBe('/login/account');
        if (process.env.MISTAKES_SCREENSHOTS) await page.screenshot({ path: `${process.env.MISTAKES_SCREENSHOTS}/no-access-${kind}.png` });

        await Promise.all([page.waitForURL((url) => url.pathname === '/login'), page.getByRole('button', { name: 'Sign out' }).click()]);
        expect((await context.cookies(origin)).filter((c) => c.name === 'device_id' || c.name === 'hmac_secret')).toEqual([]);
        await context.close();
      });

      it('shows a page for whoever runs the site when the proxy token is wrong, and API clients the JSON 401', async () => {
        const typo = await startProxy(pathOf(proxyBinary), {
          sidecarPort: sidecar.port,
          upstreamPort: upstream.port,
          proxyToken: 'pa_a-token-with-a-typo',
          hostName: APP_HOST,
        });
        try {
          const context = await browser.newContext();
          const page = await context.newPage();
          const answer = await page.goto(`http://${APP_HOST}:${typo.port}/private/report`);
          expect(answer?.status()).toBe(401);
          expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign-in is not set up correctly');
          expect(await page.evaluate('getComputedStyle(document.querySelector("main")).borderTopStyle')).toBe('solid');
          if (process.env.MISTAKES_SCREENSHOTS)
            await page.screenshot({ path: `${process.env.MISTAKES_SCREENSHOTS}/bad-token-${kind}.png` });
          await context.close();
          const api = await rawRequest({
            port: typo.port,
            host: typo.hostHeader,
            path: '/api/data',
            headers: [['Accept', 'application/json']],
          });
          expect(api.status).toBe(401);
          expect(JSON.parse(api.body)).toEqual({ 'status code': 401, error: 'Could not verify service' });
          expect(upstream.last('/private/report')).toBeUndefined();
        } finally {
          await typo.stop();
        }
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
