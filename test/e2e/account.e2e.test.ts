// The self-service account page in a real browser: a user signed in on two devices signs one of them out from
// the other, that device is refused, and "sign out everywhere" ends the rest. Adding a passkey on a sign-in older
// than FRESH_SIGN_IN_MINUTES (1 here) takes the browser to "Sign in again" first, then back to the account page.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, pageWithAuthenticator } from './support/browser.js';
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
      extraEnv: { VERIFY_CACHE_TTL_SECONDS: '0', FRESH_SIGN_IN_MINUTES: '1' },
    });
    base = `http://auth.example.test:${sidecar.port}`;
    secret = (await sidecar.addUser('browser@example.test')).totpSecret;
    serviceToken = String((await sidecar.cli(['service', 'add', 'svc'])).token);
    await sidecar.cli(['grant', '--email', 'browser@example.test', '--service', 'svc']);
    browser = await launchChromium(pathOf(chromium), undefined, [base]);
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
    // The device cookies are gone; what is left is at most the login page's passkey-autofill challenge.
    expect((await laptop.context.cookies()).filter((c) => c.name !== 'webauthn_challenge')).toEqual([]);
    await laptop.context.close();
    await phone.context.close();
  }, 90_000);

  it('asks a sign-in older than FRESH_SIGN_IN_MINUTES to sign in again before adding a passkey, then adds it', async () => {
    const email = 'fresh@example.test';
    const { totpSecret } = await sidecar.addUser(email);
    const { context, page } = await pageWithAuthenticator(browser);
    await page.goto(`${base}/login?rd=${encodeURIComponent(`${base}/login/account`)}`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Code').fill(await totpCode(totpSecret));
    await Promise.all([page.waitForURL(`${base}/login/account`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    const signedInAt = Date.now();

    // Past the minute (with a margin for a clock that ticks at whole seconds), the page is still there to read...
    await new Promise((r) => setTimeout(r, Math.max(0, signedInAt + 62_000 - Date.now())));
    await page.reload();
    // ...but adding a passkey goes to "Sign in again" first, with nothing added.
    await page.getByLabel('Name of the new passkey').fill('Virtual key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.waitForURL(/\/login\?fresh=1&rd=/);
    await page.getByRole('heading', { name: 'Sign in again' }).waitFor();
    expect(await page.getByText('This page needs a recent sign-in.').count()).toBe(1);
    expect((await sidecar.cli(['passkey', 'list', '--email', email])) as unknown as unknown[]).toHaveLength(0);

    await page.getByLabel('Code').fill(await totpCode(totpSecret));
    await Promise.all([page.waitForURL(`${base}/login/account`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await page.getByLabel('Name of the new passkey').fill('Virtual key');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByRole('textbox', { name: 'Name of passkey Virtual key' }).waitFor();
    expect((await sidecar.cli(['passkey', 'list', '--email', email])) as unknown as unknown[]).toHaveLength(1);
    // Still the one device: the fresh sign-in renewed it.
    const devices = page.getByRole('table', { name: 'Devices signed in to your account' });
    expect(await devices.getByRole('row').count()).toBe(2); // header + this device
    await context.close();
  }, 300_000);
});
