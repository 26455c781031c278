// Headless Debian Chromium through playwright-core. *.example.test resolves to 127.0.0.1 inside the browser,
// so cookies can carry a real Domain attribute while every packet stays on loopback.
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const TEST_DOMAIN = 'example.test';
export const APP_HOST = `app.${TEST_DOMAIN}`;

/** For walk-throughs: `localhost` and `*.localhost` (which Chromium itself resolves to loopback), nothing else. */
export const LOCALHOST_ONLY = 'MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE *.localhost';

export async function launchChromium(
  executablePath: string,
  hostResolverRules = `MAP *.${TEST_DOMAIN} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE localhost`,
  secureOrigins: string[] = [],
): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Only the test's own host names exist, and all of them are this machine; every other name fails.
      `--host-resolver-rules=${hostResolverRules}`,
      // Plain-http origins to treat as HTTPS would be (passkeys need a secure context; localhost always is one).
      ...(secureOrigins.length > 0 ? [`--unsafely-treat-insecure-origin-as-secure=${secureOrigins.join(',')}`] : []),
    ],
  });
}

/** What a "Sign out" button in an app does: a plain form POST to /logout; resolves once the login page is shown. */
export async function signOutByForm(page: Page): Promise<void> {
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
}

/**
 * A page in a fresh browser context with a virtual platform authenticator attached. The virtual authenticator
 * answers every request at once, including the login page's passkey autofill (a real browser waits until the person
 * picks the passkey there): `removeAuthenticator` takes it away before a step that must stay signed out.
 */
export async function pageWithAuthenticator(
  browser: Browser,
): Promise<{ context: BrowserContext; page: Page; removeAuthenticator: () => Promise<void> }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const removeAuthenticator = async () => {
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId });
  };
  return { context, page, removeAuthenticator };
}
