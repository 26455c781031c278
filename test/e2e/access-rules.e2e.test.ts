// Access rules in real Chromium through each shipped proxy config (nginx, Caddy, Traefik) and the real sidecar
// (issue 15, point 7). The app host is app.localhost: a secure context over plain http, which passkeys need.
// One service, these rules in this order (first match wins):
//   /health                                   public
//   /lan/** from 127.0.0.0/8 or ::1           public
//   /office/** from 10.0.0.0/8                public
//   /staff/** for the group staff             signed-in
//   /admin/**, /staff/**, /lan/**, /office/** deny       (so /staff is for the group only, /lan and /office
//                                                          for their networks only)
//   /secure/**                                passkey
//   /fresh/**                                 recent:1
// Rules (each test is named after one):
//  - a public path is served without signing in, with no identity;
//  - a deny path shows the no-access page, and the app sees nothing;
//  - a group-only path is served to a member and refused (the no-access page) to a signed-in non-member;
//  - a passkey path sends a device signed in with a code to the step-up page, which signs in with the passkey
//    (virtual authenticator) and lands back on the page;
//  - a network rule is decided by the address the proxy saw: a client's own X-Forwarded-For changes nothing,
//    while the same header from a trusted proxy straight to /verify does;
//  - a recent:1 path is served right after signing in and asks for a fresh sign-in once the minute is over; the
//    fresh code lands back on the page and the device keeps its cookies. The minute is waited out once, for all
//    three proxies, while the other tests run.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCALHOST_ONLY, launchChromium, pageWithAuthenticator } from './support/browser.js';
import { type ProxyKind, startProxy } from './support/config-contract.js';
import { reservePort } from './support/processes.js';
import type { RunningProxy } from './support/proxies.js';
import { rawRequest } from './support/raw-http.js';
import { binary, builtSidecar, chromiumBinary, pathOf, requirementsGate, traefikBinary } from './support/requirements.js';
import { type EchoUpstream, headerValues, startEchoUpstream } from './support/servers.js';
import { type CreatedUser, type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

const SERVICE = 'protected-app';
const HOST = 'app.localhost';
const KINDS = ['nginx', 'caddy', 'traefik'] as const satisfies readonly ProxyKind[];
const binaries = { nginx: binary('nginx'), caddy: binary('caddy'), traefik: traefikBinary() } as const;
const chromium = chromiumBinary();
const sidecarBuilt = builtSidecar();

const RULES = [
  { paths: ['/health'], policy: 'public' },
  { paths: ['/lan/**'], networks: ['127.0.0.0/8', '::1/128'], policy: 'public' },
  { paths: ['/office/**'], networks: ['10.0.0.0/8'], policy: 'public' },
  { paths: ['/staff/**'], groups: ['staff'], policy: 'signed-in' },
  { paths: ['/admin/**', '/staff/**', '/lan/**', '/office/**'], policy: 'deny' },
  { paths: ['/secure/**'], policy: 'passkey' },
  { paths: ['/fresh/**'], policy: 'recent:1' },
];

/** Past the recent:1 rule's minute, with a margin for a clock that ticks at whole seconds. */
const RECENT_WAIT_IN_MS = 62_000;

interface Stack {
  readonly kind: ProxyKind;
  readonly origin: string;
  readonly upstream: EchoUpstream;
  readonly sidecar: RunningSidecar;
  readonly proxy: RunningProxy;
  readonly proxyToken: string;
  /** alice: in the group staff; bob: granted, in no group; carol: in the group staff, gets a passkey. */
  readonly users: Readonly<Record<'alice' | 'bob' | 'carol', CreatedUser>>;
  /** alice's browser, signed in with a code through a recent:1 page when the stack started. */
  alice?: BrowserContext;
  aliceSignedInAt?: number;
}

async function startStack(kind: ProxyKind): Promise<Stack> {
  const reserved = await reservePort();
  const origin = `http://${HOST}:${reserved.port}`;
  const upstream = await startEchoUpstream();
  let sidecar: RunningSidecar | undefined;
  try {
    sidecar = await startSidecar({ publicUrl: origin, landingUrl: `${origin}/welcome`, cookieDomain: '' });
    const cli = sidecar.cli;
    await cli(['service', 'add', SERVICE]);
    const proxyToken = String((await cli(['proxy-token', 'add', `${kind}-rules`])).token);
    const users = {
      alice: await sidecar.addUser(`alice.${kind}@example.com`),
      bob: await sidecar.addUser(`bob.${kind}@example.com`),
      carol: await sidecar.addUser(`carol.${kind}@example.com`),
    };
    // The group is granted the service; bob, outside it, has a grant of his own.
    await sidecar.applyPolicy({
      groups: { staff: { members: [users.alice.email, users.carol.email], grants: { [SERVICE]: 'read:email' } } },
      services: { [SERVICE]: { grants: { [users.bob.email]: 'read:email' }, rules: RULES } },
    });
    await reserved.release();
    const proxy = await startProxy(kind)(pathOf(binaries[kind]), {
      sidecarPort: sidecar.port,
      upstreamPort: upstream.port,
      proxyToken,
      hostName: HOST,
      port: reserved.port,
    });
    return { kind, origin, upstream, sidecar, proxy, proxyToken, users };
  } catch (error) {
    await reserved.release().catch(() => {});
    await sidecar?.stop();
    await upstream.close();
    throw error;
  }
}

/** Fills the login form the browser is on and waits until it is back on `target`. */
async function signInWithCode(page: Page, user: CreatedUser, target: string): Promise<void> {
  await page.getByLabel('Email').fill(user.email);
  await page.getByLabel('Code').fill(await totpCode(user.totpSecret));
  await Promise.all([page.waitForURL(target), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
}

/** The login page's URL for a browser sent there from `target`, as the sidecar builds it. */
function loginUrlFor(origin: string, target: string, extra = ''): string {
  return `${origin}/login?rd=${encodeURIComponent(target)}${extra}`;
}

describe.skipIf(requirementsGate('access rules in the browser', [...Object.values(binaries), chromium, sidecarBuilt]))(
  'access rules in the browser, through each proxy',
  () => {
    let browser: Browser;
    const stacks = new Map<ProxyKind, Stack>();

    beforeAll(async () => {
      browser = await launchChromium(pathOf(chromium), LOCALHOST_ONLY);
      const started = await Promise.allSettled(KINDS.map((kind) => startStack(kind)));
      for (const result of started) if (result.status === 'fulfilled') stacks.set(result.value.kind, result.value);
      const failed = started.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      // The recent:1 clock starts here, for all three at once: alice signs in through a recent:1 page.
      await Promise.all(
        [...stacks.values()].map(async (stack) => {
          const context = await browser.newContext();
          const page = await context.newPage();
          const target = `${stack.origin}/fresh/start`;
          await page.goto(target);
          expect(page.url()).toBe(loginUrlFor(stack.origin, target));
          await signInWithCode(page, stack.users.alice, target);
          stack.aliceSignedInAt = Date.now();
          stack.alice = context;
          expect(stack.upstream.last('/fresh/start'), 'a recent:1 page right after signing in').toBeDefined();
          await page.close();
        }),
      );
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      for (const stack of stacks.values()) {
        await stack.proxy.stop();
        await stack.sidecar.stop();
        await stack.upstream.close();
      }
    });

    for (const kind of KINDS) {
      describe(`through ${kind}`, () => {
        const stack = () => stacks.get(kind) as Stack;

        it('serves a public path without signing in, with no identity', async () => {
          const { origin, upstream } = stack();
          const context = await browser.newContext();
          const page = await context.newPage();
          const response = await page.goto(`${origin}/health`);
          expect(response?.status()).toBe(200);
          expect(page.url()).toBe(`${origin}/health`);
          const seen = upstream.last('/health');
          expect(seen).toBeDefined();
          for (const name of ['Remote-User', 'Remote-Email']) expect(headerValues(seen, name).filter(Boolean), name).toEqual([]);
          await context.close();
        });

        it('answers a deny path with the no-access page, and the app sees nothing', async () => {
          const { origin, upstream, alice } = stack();
          const page = await (alice as BrowserContext).newPage();
          const response = await page.goto(`${origin}/admin/settings`);
          expect(response?.status()).toBe(403);
          expect(page.url()).toBe(`${origin}/admin/settings`);
          expect(await page.getByRole('heading', { name: 'No access' }).count()).toBe(1);
          // The page says an access rule closed the address (behind nginx too, which cannot pass /verify's page on).
          expect(await page.locator('main').textContent()).toContain('is closed');
          expect(upstream.last('/admin/settings')).toBeUndefined();
          await page.close();
        });

        it('serves a group-only path to a member and shows a non-member the no-access page', async () => {
          const { origin, upstream, alice, users } = stack();
          const member = await (alice as BrowserContext).newPage();
          const response = await member.goto(`${origin}/staff/rota`);
          expect(response?.status()).toBe(200);
          expect(headerValues(upstream.last('/staff/rota'), 'Remote-Email')).toEqual([users.alice.email]);
          await member.close();

          // bob signs in (the deny rule after the group's rule refuses /staff to anyone else, signed in or not).
          const context = await browser.newContext();
          const page = await context.newPage();
          const landing = `${origin}/welcome`;
          await page.goto(`${origin}/login`);
          await signInWithCode(page, users.bob, landing);
          expect((await page.goto(`${origin}/staff/payroll`))?.status()).toBe(403);
          expect(await page.getByRole('heading', { name: 'No access' }).count()).toBe(1);
          expect(upstream.last('/staff/payroll')).toBeUndefined();
          // The same browser is otherwise let in (bob's own grant): it is the group rule that refused him.
          expect((await page.goto(`${origin}/reports`))?.status()).toBe(200);
          await context.close();
        });

        it('steps a device signed in with a code up to its passkey on a passkey path, and lands back on the page', async () => {
          const { origin, upstream, users, sidecar } = stack();
          const { context, page } = await pageWithAuthenticator(browser);
          const target = `${origin}/secure/vault?tab=keys`;
          const stepUp = `${origin}/login/step-up?rd=${encodeURIComponent(target)}`;
          // Signed in with a code, no passkey yet: the step-up page says how to add one.
          await page.goto(target);
          expect(page.url()).toBe(loginUrlFor(origin, target));
          await signInWithCode(page, users.carol, stepUp);
          expect(await page.locator('#no-passkey').textContent()).toContain('Add a passkey');
          // A passkey added on the account page; the device stays signed in with a code.
          await page.goto(`${origin}/login/account`);
          await page.getByLabel('Name of the new passkey').fill('Virtual key');
          await page.getByRole('button', { name: 'Add a passkey' }).click();
          await page.getByRole('textbox', { name: 'Name of passkey Virtual key' }).waitFor();
          expect((await sidecar.cli(['passkey', 'list', '--email', users.carol.email])) as unknown as unknown[]).toHaveLength(1);

          await page.goto(target);
          expect(page.url()).toBe(stepUp);
          expect(upstream.last('/secure/vault?tab=keys')).toBeUndefined();
          await Promise.all([page.waitForURL(target), page.getByRole('button', { name: 'Continue with your passkey' }).click()]);
          expect(headerValues(upstream.last('/secure/vault?tab=keys'), 'Remote-Email')).toEqual([users.carol.email]);
          await context.close();
        });

        it('decides a network rule on the address the proxy saw, not on what the client claims', async () => {
          const { origin, upstream, sidecar, proxyToken } = stack();
          const context = await browser.newContext({ extraHTTPHeaders: { 'X-Forwarded-For': '10.1.2.3' } });
          const page = await context.newPage();
          // The proxy saw 127.0.0.1: the loopback rule serves /lan without signing in...
          expect((await page.goto(`${origin}/lan/printer`))?.status()).toBe(200);
          expect(upstream.last('/lan/printer')).toBeDefined();
          // ...and the office rule does not believe the client's own X-Forwarded-For.
          expect((await page.goto(`${origin}/office/intranet`))?.status()).toBe(403);
          expect(await page.getByRole('heading', { name: 'No access' }).count()).toBe(1);
          expect(upstream.last('/office/intranet')).toBeUndefined();
          await context.close();

          // The same claim from a trusted proxy (127.0.0.1 is in TRUSTED_PROXIES) is what the proxies' own
          // X-Forwarded-For is: the sidecar believes it, so /office is public from 10.1.2.3.
          const original: Array<[string, string]> =
            kind === 'nginx'
              ? [
                  ['X-Original-URL', `${origin}/office/intranet`],
                  ['X-Original-Method', 'GET'],
                ]
              : [
                  ['X-Forwarded-Proto', 'http'],
                  ['X-Forwarded-Host', new URL(origin).host],
                  ['X-Forwarded-Uri', '/office/intranet'],
                  ['X-Forwarded-Method', 'GET'],
                ];
          const verify = (forwardedFor: string) =>
            rawRequest({
              port: sidecar.port,
              host: `127.0.0.1:${sidecar.port}`,
              path: `/verify/${SERVICE}?proxy=${kind}`,
              headers: [['X-Service-Token', proxyToken], ['X-Forwarded-For', forwardedFor], ...original],
            });
          expect((await verify('10.1.2.3')).status).toBe(200);
          expect((await verify('192.0.2.7')).status).toBe(403);
        });
      });
    }

    it(
      'asks for a fresh sign-in on a recent:1 path once the minute is over, and lands back on the page (all three proxies)',
      async () => {
        const oldest = Math.min(...[...stacks.values()].map((stack) => stack.aliceSignedInAt ?? 0));
        const left = oldest + RECENT_WAIT_IN_MS - Date.now();
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
        for (const stack of stacks.values()) {
          const { origin, upstream, users } = stack;
          const context = stack.alice as BrowserContext;
          const before = (await context.cookies(origin)).find((cookie) => cookie.name === 'device_id')?.value;
          const page = await context.newPage();
          const target = `${origin}/fresh/report`;
          await page.goto(target);
          expect(page.url(), stack.kind).toBe(loginUrlFor(origin, target, '&fresh=1'));
          expect(upstream.last('/fresh/report'), stack.kind).toBeUndefined();
          await signInWithCode(page, users.alice, target);
          expect(headerValues(upstream.last('/fresh/report'), 'Remote-Email'), stack.kind).toEqual([users.alice.email]);
          // The same device, signed in again: its cookies stay.
          expect((await context.cookies(origin)).find((cookie) => cookie.name === 'device_id')?.value, stack.kind).toBe(before);
          await page.close();
        }
      },
      RECENT_WAIT_IN_MS + 90_000,
    );
  },
);
