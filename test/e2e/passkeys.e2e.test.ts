// Passkeys and invite links in real Chromium, with the DevTools virtual authenticator (CTAP2, internal, resident
// keys, user verification), through the shipped nginx and Caddy configs and the real sidecar. The app host is
// app.localhost: a secure context over plain http, which WebAuthn needs.
//  - invite link → create a passkey → signed in → the protected app answers (its /verify said 200); a second use
//    of the link is refused (both proxies)
//  - invite link → QR code's secret → first code → signed in
//  - add a passkey on the account page → sign out → sign in with the passkey
//  - a passkey-only account refuses a correct code; a removed passkey is refused
// The enrolment page's screenshot for the README is taken here (docs/images/enroll.png, rewritten with
// UPDATE_DOCS_IMAGES=1).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCALHOST_ONLY, launchChromium, pageWithAuthenticator, signOutByForm } from './support/browser.js';
import { type ProxyKind, startProxy } from './support/config-contract.js';
import { REPO_ROOT } from './support/paths.js';
import { reservePort } from './support/processes.js';
import type { RunningProxy } from './support/proxies.js';
import { binary, builtSidecar, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { type EchoUpstream, headerValues, startEchoUpstream } from './support/servers.js';
import { type RunningSidecar, startSidecar } from './support/sidecar.js';

const SERVICE = 'protected-app';
const HOST = 'app.localhost';
const chromium = chromiumBinary();
const sidecarBuilt = builtSidecar();

for (const kind of ['nginx', 'caddy'] as const satisfies readonly ProxyKind[]) {
  const proxyBinary = binary(kind);
  describe.skipIf(requirementsGate(`passkeys through ${kind}`, [proxyBinary, chromium, sidecarBuilt]))(`passkeys through ${kind}`, () => {
    let upstream: EchoUpstream;
    let sidecar: RunningSidecar;
    let proxy: RunningProxy;
    let browser: Browser;
    let origin: string;

    beforeAll(async () => {
      const reserved = await reservePort();
      origin = `http://${HOST}:${reserved.port}`;
      upstream = await startEchoUpstream();
      sidecar = await startSidecar({ publicUrl: origin, landingUrl: `${origin}/welcome`, cookieDomain: '' });
      await sidecar.cli(['service', 'add', SERVICE]);
      const proxyToken = String((await sidecar.cli(['proxy-token', 'add', `${kind}-passkeys`])).token);
      await reserved.release();
      proxy = await startProxy(kind)(pathOf(proxyBinary), {
        sidecarPort: sidecar.port,
        upstreamPort: upstream.port,
        proxyToken,
        hostName: HOST,
        port: reserved.port,
      });
      browser = await launchChromium(pathOf(chromium), LOCALHOST_ONLY);
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await proxy?.stop();
      await sidecar?.stop();
      await upstream?.close();
    });

    async function invite(email: string): Promise<string> {
      const { url } = await sidecar.cli(['user', 'invite', '--email', email]);
      await sidecar.cli(['grant', '--email', email, '--service', SERVICE, '--scope', 'read:email']);
      expect(String(url)).toMatch(new RegExp(`^${origin}/login/enroll/[A-Za-z0-9_-]{43}$`));
      return String(url);
    }

    /** Opens a page of the protected app and returns the email the app was told (the proxy's /verify said 200). */
    async function appSees(page: Page, path: string): Promise<string[]> {
      const response = await page.goto(`${origin}${path}`);
      expect(response?.status(), path).toBe(200);
      expect(page.url()).toBe(`${origin}${path}`);
      return headerValues(upstream.last(path), 'Remote-Email');
    }

    it('invite link → create a passkey → signed in, and the app is reached; the link then works no more', async () => {
      const email = `pia.${kind}@example.com`;
      const link = await invite(email);
      const { context, page } = await pageWithAuthenticator(browser);
      await page.goto(link);
      await expect.poll(() => page.getByRole('button', { name: 'Create a passkey' }).isVisible()).toBe(true);
      if (kind === 'nginx') {
        // The README's picture: rewritten only when asked (its QR code differs every run), else checked as taken.
        const shot = await page.screenshot({ fullPage: true });
        expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
        if (process.env.UPDATE_DOCS_IMAGES === '1') writeFileSync(join(REPO_ROOT, 'docs/images/enroll.png'), shot);
      }
      await Promise.all([page.waitForURL(`${origin}/welcome`), page.getByRole('button', { name: 'Create a passkey' }).click()]);
      expect(await appSees(page, '/after/enrolment')).toEqual([email]);
      const again = await page.goto(link);
      expect(again?.status()).toBe(404);
      expect(await page.locator('h1').textContent()).toBe('This link cannot be used');
      const passkeys = (await sidecar.cli(['passkey', 'list', '--email', email])) as unknown as unknown[];
      expect(passkeys).toHaveLength(1);
      await context.close();
    });

    if (kind === 'nginx') {
      it('invite link → the secret under the QR code → first code → signed in', async () => {
        const email = `quinn.${kind}@example.com`;
        const link = await invite(email);
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(link);
        expect(await page.getByRole('img', { name: 'QR code for your authenticator app' }).getAttribute('src')).toMatch(
          /^data:image\/svg\+xml;base64,/,
        );
        const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
        expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
        await page.getByLabel('First code from the app').fill(await generate({ secret }));
        await Promise.all([page.waitForURL(`${origin}/welcome`), page.getByRole('button', { name: 'Confirm and sign in' }).click()]);
        expect(await appSees(page, '/after/totp-enrolment')).toEqual([email]);
        await context.close();
      });

      it('adds a passkey on the account page, signs out, signs in with it; passkey-only refuses a correct code; a removed passkey is refused', async () => {
        const email = `rex.${kind}@example.com`;
        const { totpSecret } = await sidecar.addUser(email);
        await sidecar.cli(['grant', '--email', email, '--service', SERVICE, '--scope', 'read:email']);
        const { context, page } = await pageWithAuthenticator(browser);
        await page.goto(`${origin}/login`);
        await page.getByLabel('Email').fill(email);
        await page.getByLabel('Code').fill(await generate({ secret: totpSecret }));
        await Promise.all([page.waitForURL(`${origin}/welcome`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);

        await page.goto(`${origin}/login/account`);
        await page.getByLabel('Name of the new passkey').fill('Virtual key');
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        // The page reloads with the new passkey in its table (its name in the rename field).
        await page.getByRole('textbox', { name: 'Name of passkey Virtual key' }).waitFor();
        expect((await sidecar.cli(['passkey', 'list', '--email', email])) as unknown as unknown[]).toHaveLength(1);
        // Signed out, the login page offers the passkey in the email field's autofill (conditional mediation); the
        // virtual authenticator answers at once, so the browser is signed straight back in.
        await signOutByForm(page);
        await page.waitForURL(`${origin}/welcome`);
        expect(await appSees(page, '/after/passkey-autofill')).toEqual([email]);

        // The button: on pages where the browser offers no autofill (as this one now says), the click signs in.
        await page.addInitScript('PublicKeyCredential.isConditionalMediationAvailable = async () => false;');
        await signOutByForm(page);
        await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
        await page.waitForURL(`${origin}/welcome`);
        expect(await appSees(page, '/after/passkey-button')).toEqual([email]);

        // Passkey-only: the right code is refused like a wrong one (in a browser without the passkey).
        await sidecar.cli(['user', 'set', '--email', email, '--passkey-only', 'true']);
        const plain = await browser.newContext();
        const codePage = await plain.newPage();
        await codePage.goto(`${origin}/login`);
        await codePage.getByLabel('Email').fill(email);
        await codePage.getByLabel('Code').fill(await generate({ secret: totpSecret, epoch: Math.floor(Date.now() / 1000) + 30 }));
        const [refused] = await Promise.all([
          codePage.waitForResponse((r) => r.url() === `${origin}/login` && r.request().method() === 'POST'),
          codePage.getByRole('button', { name: 'Sign in', exact: true }).click(),
        ]);
        expect(refused.status()).toBe(401);
        expect(await codePage.getByRole('alert').first().textContent()).toBe('Invalid email or code.');
        await plain.close();

        // Removed: the same passkey is refused at once.
        const [key] = (await sidecar.cli(['passkey', 'list', '--email', email])) as unknown as Array<{ id: number }>;
        await sidecar.cli(['user', 'set', '--email', email, '--passkey-only', 'false']);
        await sidecar.cli(['passkey', 'remove', '--id', String(key?.id), '--yes']);
        await signOutByForm(page);
        await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
        await expect.poll(() => page.locator('#passkey-status').textContent()).toBe('That passkey was not accepted. Please try again.');
        expect(new URL(page.url()).pathname).toBe('/login');
        await context.close();
      }, 60_000);
    }
  });
}
