// Rule: a person's mistakes get answers they can act on, in real Chromium against the real sidecar, set up as
// `npm start` is (PUBLIC_URL http://localhost:<port>, no cookie domain; issue 19):
//  - the login page opened on http://127.0.0.1:<port> moves to PUBLIC_URL, keeping rd, and the passkey button is
//    only ever offered there, where it works (points 4 and 5)
//  - an account enrolled with a passkey is told it has no authenticator app, adds one from the account page (QR
//    code, key, phone link, first code) and removes it again (point 3)
//  - the small things: no 404 in the page loads (favicon), the device in use seen "now", a link back to the app,
//    destructive buttons red, "You have signed out.", the enrolment card clear of the top edge on a phone and its
//    otpauth:// link (point 12)
//  - a page load that meets a proxy without a usable token gets a page for the operator (point 7)
// Screenshots of each page go to MISTAKES_SCREENSHOTS (a directory) when it is set, to look at.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCALHOST_ONLY, launchChromium, pageWithAuthenticator } from './support/browser.js';
import { builtSidecar, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { type RunningSidecar, startSidecar } from './support/sidecar.js';

const chromium = chromiumBinary();
const sidecarBuilt = builtSidecar();

async function screenshot(page: Page, name: string): Promise<void> {
  await page.waitForLoadState('load');
  const shot = await page.screenshot({ fullPage: true });
  expect(shot.subarray(1, 4).toString('latin1')).toBe('PNG');
  const dir = process.env.MISTAKES_SCREENSHOTS;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.png`), shot);
  }
}

/** Every answer of 400 or more the page received (a missing favicon shows up here). */
function failures(page: Page): string[] {
  const failed: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  return failed;
}

describe.skipIf(requirementsGate('mistakes in Chromium', [chromium, sidecarBuilt]))('mistakes in Chromium', () => {
  let sidecar: RunningSidecar;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    sidecar = await startSidecar({
      publicUrl: (port) => `http://localhost:${port}`,
      landingUrl: (port) => `http://localhost:${port}/`,
      cookieDomain: '',
    });
    origin = `http://localhost:${sidecar.port}`;
    // 127.0.0.1 as well: the wrong host people type.
    browser = await launchChromium(pathOf(chromium), `${LOCALHOST_ONLY}, EXCLUDE 127.0.0.1`);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await sidecar?.stop();
  });

  it('moves the login page from 127.0.0.1 to PUBLIC_URL, keeping rd, and offers passkeys only there', async () => {
    const { context, page } = await pageWithAuthenticator(browser);
    const failed = failures(page);
    const seen: string[] = [];
    page.on('response', (r) => seen.push(new URL(r.url()).host));
    const rd = `${origin}/`;
    await page.goto(`http://127.0.0.1:${sidecar.port}/login?rd=${encodeURIComponent(rd)}`);
    expect(page.url()).toBe(`${origin}/login?rd=${encodeURIComponent(rd)}`);
    await expect.poll(() => page.getByRole('button', { name: 'Sign in with a passkey' }).isVisible()).toBe(true);
    // On 127.0.0.1 only the redirect was answered: no page, so no passkey button, was ever shown there.
    expect(seen.filter((h) => h.startsWith('127.0.0.1'))).toHaveLength(1);
    expect(await page.locator('input[name="rd"]').getAttribute('value')).toBe(rd);
    await screenshot(page, 'login');

    // Signed in with a code there; the account page, then "Sign out everywhere" says so.
    const user = await sidecar.addUser('lee@example.com');
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Code').fill(await generate({ secret: user.totpSecret }));
    await Promise.all([page.waitForURL(rd), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await page.goto(`${origin}/login/account`);
    expect(await page.getByRole('row').filter({ hasText: '(this device)' }).getByRole('cell').nth(2).textContent()).toBe('now');
    expect(await page.getByRole('link', { name: '← Back to the app' }).getAttribute('href')).toBe(`${origin}/`);
    // A string, not a function: the test tsconfig has no DOM types.
    const color = 'getComputedStyle(document.querySelector(\'form[action="/login/account/sign-out-everywhere"] button\')).backgroundColor';
    expect(await page.evaluate(color)).toBe('rgb(180, 35, 24)');
    await screenshot(page, 'account-codes');
    await Promise.all([page.waitForURL(`${origin}/login?signed_out=1`), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    expect(await page.getByRole('status').textContent()).toBe('You have signed out.');
    await screenshot(page, 'signed-out');
    expect(failed).toEqual([]);
    await context.close();
  });

  it('tells a passkey account it has no authenticator app; the user adds one from the account page and removes it', async () => {
    const email = 'pia@example.com';
    const { url } = await sidecar.cli(['user', 'invite', '--email', email]);
    const { context, page, removeAuthenticator } = await pageWithAuthenticator(browser);
    const failed = failures(page);
    // A phone: the enrolment card must clear the top edge.
    await page.setViewportSize({ width: 390, height: 700 });
    await page.goto(String(url));
    await expect.poll(() => page.getByRole('button', { name: 'Create a passkey' }).isVisible()).toBe(true);
    expect(await page.evaluate('document.querySelector("main").getBoundingClientRect().top')).toBeGreaterThanOrEqual(16);
    expect(await page.getByRole('link', { name: 'Open it in your authenticator app' }).getAttribute('href')).toMatch(/^otpauth:\/\/totp\//);
    await screenshot(page, 'enroll-phone');
    await page.setViewportSize({ width: 1000, height: 900 });
    await Promise.all([page.waitForURL(`${origin}/`), page.getByRole('button', { name: 'Create a passkey' }).click()]);

    await page.goto(`${origin}/login/account`);
    const main = page.locator('main');
    expect(await main.textContent()).toContain('No authenticator app is set up: this account signs in with its passkey only.');
    expect(await page.getByRole('button', { name: 'Sign in with passkeys only' }).count()).toBe(0);
    await screenshot(page, 'account-passkey-only');

    await page.getByRole('link', { name: 'Add an authenticator app' }).click();
    await page.waitForURL(`${origin}/login/account/authenticator`);
    expect(await page.getByRole('img', { name: 'QR code for your authenticator app' }).getAttribute('src')).toMatch(
      /^data:image\/svg\+xml;base64,/,
    );
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
    await screenshot(page, 'add-authenticator');
    await page.getByLabel('First code from the app').fill(await generate({ secret }));
    await page.getByRole('button', { name: 'Confirm the app' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('The authenticator app is set up');
    expect(await main.textContent()).toContain('This account signs in with codes from an authenticator app.');
    expect(await page.getByRole('button', { name: 'Sign in with passkeys only' }).count()).toBe(1);
    const remove = page.getByRole('button', { name: 'Remove the authenticator app' });
    // A string, not a function: the test tsconfig has no DOM types.
    const style = 'getComputedStyle(document.querySelector(\'form[action="/login/account/authenticator/remove"] button\')).backgroundColor';
    expect(await page.evaluate(style)).toBe('rgb(180, 35, 24)');
    await screenshot(page, 'account-with-app');

    await remove.click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('The authenticator app was removed');
    // The person signs out and does not pick the passkey the login page then offers in the email field's autofill
    // (the virtual authenticator would answer that offer at once, signing them straight back in).
    await removeAuthenticator();
    await Promise.all([page.waitForURL(`${origin}/login?signed_out=1`), page.getByRole('button', { name: 'Sign out everywhere' }).click()]);
    expect(await page.getByRole('status').textContent()).toBe('You have signed out.');
    await screenshot(page, 'signed-out');
    expect(failed).toEqual([]);
    await context.close();
  }, 60_000);

  it('shows a page for the operator when a proxy asks without a usable token', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const answer = await page.goto(`${origin}/verify/protected-app?proxy=caddy`);
    expect(answer?.status()).toBe(401);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Sign-in is not set up correctly');
    expect(await page.evaluate('getComputedStyle(document.querySelector("main")).borderTopStyle')).toBe('solid');
    await screenshot(page, 'proxy-not-set-up');
    await context.close();
  });
});
