// What the browser round trip runs against: the real sidecar (fresh SQLite) with users and grants, an app that
// echoes the headers it receives, the shipped proxy config in front of both, and headless Chromium.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { APP_HOST, launchChromium, TEST_DOMAIN } from './browser.js';
import { type ProxyKind, startProxy } from './config-contract.js';
import { reservePort } from './processes.js';
import type { RunningProxy } from './proxies.js';
import { type EchoUpstream, startEchoUpstream } from './servers.js';
import { type CreatedUser, type RunningSidecar, startSidecar, totpCode } from './sidecar.js';

export const SERVICE = 'protected-app';
const ALL_SCOPES = 'read:email,read:username,read:user-role';

/** alice: every scope; erin: email only; bob: no grant; frank: every scope, for the sidecar-down test. */
type UserName = 'alice' | 'erin' | 'bob' | 'frank';

export interface RoundTripStack {
  readonly upstream: EchoUpstream;
  readonly sidecar: RunningSidecar;
  readonly proxy: RunningProxy;
  readonly browser: Browser;
  /** The proxy token the proxy sends to /verify. */
  readonly proxyToken: string;
  /** e.g. http://app.example.test:18080 */
  readonly origin: string;
  readonly users: Readonly<Record<UserName, CreatedUser>>;
  stop(): Promise<void>;
}

export async function startRoundTripStack(kind: ProxyKind, binaryPath: string, chromiumPath: string): Promise<RoundTripStack> {
  // Held until the proxy starts: the sidecar must know the proxy's port (PUBLIC_URL) before either runs.
  const reserved = await reservePort();
  const port = reserved.port;
  const origin = `http://${APP_HOST}:${port}`;
  const parts: { upstream?: EchoUpstream; sidecar?: RunningSidecar; proxy?: RunningProxy; browser?: Browser } = {};
  const stop = async () => {
    await parts.browser?.close();
    await parts.proxy?.stop();
    await parts.sidecar?.stop();
    await parts.upstream?.close();
  };
  try {
    const upstream = await startEchoUpstream();
    parts.upstream = upstream;
    const sidecar = await startSidecar({ publicUrl: origin, landingUrl: `${origin}/welcome`, cookieDomain: TEST_DOMAIN });
    parts.sidecar = sidecar;
    await sidecar.cli(['service', 'add', SERVICE]);
    const proxyToken = String((await sidecar.cli(['proxy-token', 'add', `${kind}-e2e`])).token);
    // One user per login: the tests must not depend on whether a TOTP code may be used twice.
    const users = {} as Record<UserName, CreatedUser>;
    for (const name of ['alice', 'erin', 'bob', 'frank'] as const) {
      users[name] = await sidecar.addUser(`${name}.${kind}@${TEST_DOMAIN}`, { username: name });
    }
    for (const [name, scope] of [
      ['alice', ALL_SCOPES],
      ['erin', 'read:email'],
      ['frank', ALL_SCOPES],
    ] as const) {
      await sidecar.cli(['grant', '--email', users[name].email, '--service', SERVICE, '--scope', scope]);
    }
    await reserved.release();
    const proxy = await startProxy(kind)(binaryPath, {
      sidecarPort: sidecar.port,
      upstreamPort: upstream.port,
      proxyToken,
      hostName: APP_HOST,
      port,
    });
    parts.proxy = proxy;
    const browser = await launchChromium(chromiumPath);
    parts.browser = browser;
    return { upstream, sidecar, proxy, browser, proxyToken, origin, users, stop };
  } catch (error) {
    await reserved.release().catch(() => {});
    await stop();
    throw error;
  }
}

/** Opens `path` logged out, checks the login redirect, signs in, and returns the page back on `path`. */
export async function signInThrough(origin: string, context: BrowserContext, path: string, user: CreatedUser): Promise<Page> {
  const page = await context.newPage();
  const target = `${origin}${path}`;
  await page.goto(target);
  const login = new URL(page.url());
  expect(`${login.origin}${login.pathname}`).toBe(`${origin}/login`);
  expect(login.searchParams.getAll('rd')).toEqual([target]);
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Code').fill(await totpCode(user.totpSecret));
  await Promise.all([page.waitForURL(target), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  return page;
}

/** The browser's cookies for `origin` as one Cookie header. */
export async function cookieHeaderFor(context: BrowserContext, origin: string): Promise<string> {
  const cookies = await context.cookies(origin);
  return cookies.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
}
