// The self-service account page in a real browser: a user signed in on two devices signs one of them out from
// the other, that device is refused, and "sign out everywhere" ends the rest.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from './support/browser.js';
import { builtSidecar, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

const chromium = chromiumBinary();
const sidecarBuild = builtSidecar();

describe.skipIf(requirementsGate('account page in the browser', [chromium, sidecarBuild]))('account page in Chromium', () => {
  let sidecar: RunningSidecar;
  let browser: Browser;
  let base: string;
  let serviceToken: string;
  let secret: string;

  beforeAll(async () => {
    // The browser talks to the sidecar directly, as on a single-host setup: PUBLIC_URL is its own origin (the
    // login CSRF guard and the redirect allow-list compare scheme, host and port). LANDING_URL points nowhere
    // useful: the test navigates by itself after signing in.
    sidecar = await startSidecar({
      publicUrl: (port) => `http://auth.example.test:${port}`,
      landingUrl: 'http://auth.example.test:9/',
      cookieDomain: 'example.test',
      extraEnv: { VERIFY_CACHE_TTL_SECONDS: '0' },
    });
    base = `http://auth.example.test:${sidecar.port}`;
    secret = (await sidecar.addUser('browser@example.test')).totpSecret;
    serviceToken = String((await sidecar.cli(['service', 'add', 'svc'])).token);
    await sidecar.cli(['grant', '--email', 'browser@example.test', '--service', 'svc']);
    browser = await launchChromium(pathOf(chromium));
  });
  afterAll(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  async function signIn() {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/login`);
    await page.getByLabel('Email').fill('browser@example.test');
    // Each login needs an unused TOTP step: wait for the next one if this one was used.
    await page.getByLabel('Code').fill(await totpCode(secret));
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url() === `${base}/login` && r.request().method() === 'POST'),
      page.getByRole('button', { name: 'Sign in', exact: true }).click(),
    ]);
    expect(answer.status()).toBe(303);
    // The 303 goes to LANDING_URL, which points nowhere here; carry on in a fresh tab of the same browser profile.
    await page.close();
    const home = await context.newPage();
    await home.goto(`${base}/`);
    const cookies = await context.cookies();
    const header = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    return { context, page: home, header };
  }

  const verify = (cookie: string) =>
    fetch(`http://127.0.0.1:${sidecar.port}/verify/svc`, { headers: { Cookie: cookie, Authorization: `Bearer ${serviceToken}` } });

  it('signs one device out from another, then everything out', async () => {
    const laptop = await signIn();
    await new Promise((r) => setTimeout(r, (30 - (Math.floor(Date.now() / 1000) % 30) + 1) * 1000)); // next TOTP step
    const phone = await signIn();
    expect((await verify(phone.header)).status).toBe(200);

    await laptop.page.getByRole('link', { name: 'Your devices' }).click();
    await laptop.page.waitForURL(`${base}/login/account`);
    const rows = laptop.page.getByRole('row');
    expect(await rows.count()).toBe(3); // header + two devices
    const otherRow = rows.filter({ hasNotText: 'this device' }).filter({ has: laptop.page.getByRole('button') });
    await otherRow.getByRole('button', { name: /Sign out/ }).click();
    await expect.poll(() => laptop.page.getByRole('status').textContent()).toContain('The device was signed out.');
    expect(await laptop.page.getByRole('row').count()).toBe(2);
    expect((await verify(phone.header)).status).toBe(404);
    expect((await verify(laptop.header)).status).toBe(200);

    await laptop.page.getByRole('button', { name: 'Sign out everywhere' }).click();
    await laptop.page.waitForURL(`${base}/login?signed_out=1`);
    expect((await verify(laptop.header)).status).toBe(404);
    expect(await laptop.context.cookies()).toEqual([]);
    await laptop.context.close();
    await phone.context.close();
  }, 90_000);
});
