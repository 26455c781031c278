// docs/proxies.md's "<proxy> on one machine, step by step", performed as written: every sh block is read out of
// the document and run in a fresh copy of the repository (the long-running ones each in a process group of its
// own, as in a terminal of its own), the proxy token the CLI printed goes where the document says
// `<proxy token>`, the curl must print what the document shows, and Chromium signs in through the proxy and sees
// the app greet the user with the identity headers it received.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCALHOST_ONLY, launchChromium } from './browser.js';
import { rawRequest } from './raw-http.js';
import { binary, chromiumBinary, pathOf, type Requirement, requirementsGate, traefikBinary } from './requirements.js';
import { totpCode } from './sidecar.js';
import {
  answersHttp,
  type Checkout,
  commandsOf,
  commentsOf,
  fillIn,
  freshCheckout,
  markdownSection,
  newcomerEnv,
  readDocument,
  runOk,
  shellBlocks,
  startInTerminal,
  type Terminal,
  WalkthroughShapeError,
  waitForPorts,
} from './walkthrough.js';

const DOC = 'docs/proxies.md';

export type WalkthroughProxy = 'nginx' | 'caddy' | 'traefik';

const HEADINGS: Record<WalkthroughProxy, string> = { nginx: 'nginx', caddy: 'Caddy', traefik: 'Traefik' };
const PROXY_STEPS: Record<WalkthroughProxy, RegExp> = {
  nginx: /^nginx /,
  caddy: /\bcaddy run --config proxy-configs\/caddy\/Caddyfile\.local$/,
  traefik: /\btraefik --configFile=data\/traefik\/traefik\.yml$/,
};

interface Walkthrough {
  readonly sidecar: string;
  readonly sidecarPort: number;
  readonly app: string;
  readonly appPort: number;
  readonly userAdd: string;
  readonly email: string;
  readonly setup: readonly string[];
  readonly proxyTokenAdd: string;
  /** nginx, Traefik: the block that writes their config (run as one script). */
  readonly render: string | undefined;
  readonly proxy: string;
  readonly origin: string;
  readonly check: string;
  readonly checkPrints: string;
}

/** The walk-through as the document writes it; throws WalkthroughShapeError when its shape changed. */
function walkthrough(kind: WalkthroughProxy): Walkthrough {
  const heading = `### ${HEADINGS[kind]} on one machine, step by step`;
  const section = markdownSection(readDocument(DOC), DOC, heading);
  const shape = (problem: string) => new WalkthroughShapeError(`${DOC} "${heading}"`, problem);
  const blocks = shellBlocks(section);
  // Caddy reads the shipped Caddyfile as it is; nginx and Traefik get a step that writes their config.
  const rendersConfig = kind !== 'caddy';
  const expected = rendersConfig ? 6 : 5;
  if (blocks.length !== expected) throw shape(`expected ${expected} sh blocks, found ${blocks.length}`);
  const [sidecarBlock, appBlock, cliBlock, ...rest] = blocks as [string, string, string, ...string[]];
  const render = rendersConfig ? rest.shift() : undefined;
  const [proxyBlock, checkBlock] = rest as [string, string];

  const one = (block: string, what: string, pattern: RegExp): [string, RegExpExecArray] => {
    const commands = commandsOf(block);
    const match = pattern.exec(commands[0] ?? '');
    if (commands.length !== 1 || !match)
      throw shape(`${what}: expected one command matching ${pattern}, found ${JSON.stringify(commands)}`);
    return [commands[0] as string, match];
  };
  const [sidecar, sidecarMatch] = one(sidecarBlock, 'the sidecar step', /^PORT=(\d+) .*\bnpm start$/);
  const [app, appMatch] = one(appBlock, 'the app step', /\bPORT=(\d+) node data\/upstream\/server\.js$/);
  const [proxy] = one(proxyBlock, 'the proxy step', PROXY_STEPS[kind]);
  const [check] = one(checkBlock, 'the curl step', /^curl /);
  const checkPrints = commentsOf(checkBlock);
  if (checkPrints.length !== 1) throw shape('the curl step should show what it prints as one # comment');

  const cli = commandsOf(cliBlock);
  const user = /^npm run --silent cli -- user add --email (\S+)/.exec(cli[0] ?? '');
  const tokenAdd = cli.at(-1) ?? '';
  if (
    !user ||
    !new RegExp(`^npm run --silent cli -- proxy-token add ${kind}\\b`).test(tokenAdd) ||
    !cli.every((c) => c.startsWith('npm run --silent cli -- '))
  ) {
    throw shape(`the cli step should be user add, …, proxy-token add ${kind}: ${JSON.stringify(cli)}`);
  }
  const origin = /Open <(http:\/\/[a-z.]+\.localhost:\d+)\/>/.exec(section)?.[1];
  if (origin === undefined) throw shape('no "Open <http://….localhost:PORT/>"');
  // What Caddy writes into the home directory is said where the steps are.
  if (kind === 'caddy' && !section.includes('`~/.config/caddy/autosave.json`'))
    throw shape('no word on what Caddy writes into `~/.config/caddy/autosave.json`');

  return {
    sidecar,
    sidecarPort: Number(sidecarMatch[1]),
    app,
    appPort: Number(appMatch[1]),
    userAdd: cli[0] as string,
    email: user[1] as string,
    setup: cli.slice(1, -1),
    proxyTokenAdd: tokenAdd,
    render,
    proxy,
    origin,
    check,
    checkPrints: checkPrints[0] as string,
  };
}

export function defineProxyWalkthrough(kind: WalkthroughProxy): void {
  const proxyBinary: Requirement = kind === 'traefik' ? traefikBinary() : binary(kind);
  const chromium = chromiumBinary();
  const needs = [proxyBinary, chromium, binary('curl'), binary('git')];

  describe.skipIf(requirementsGate(`${kind} walk-through in ${DOC}`, needs))(`${DOC}: ${kind} on one machine, step by step`, () => {
    let checkout: Checkout | undefined;
    const terminals: Terminal[] = [];
    let browser: Browser | undefined;
    afterAll(async () => {
      await browser?.close();
      for (const terminal of terminals.reverse()) await terminal.stop();
      checkout?.remove();
    });

    it('runs every step as written, then Chromium signs in through the proxy and the app sees who it is', async (ctx) => {
      const steps = walkthrough(kind);
      const proxyPort = Number(new URL(steps.origin).port);
      const busy = await waitForPorts(`the ${kind} walk-through`, [steps.sidecarPort, steps.appPort, proxyPort]);
      if (busy !== undefined) {
        ctx.skip(busy);
        return;
      }
      checkout = await freshCheckout();
      // Caddy keeps state under XDG_*_HOME; inside the copy, so the walk-through leaves nothing in $HOME.
      const env = newcomerEnv({ XDG_CONFIG_HOME: `${checkout.path}/data/xdg-config`, XDG_DATA_HOME: `${checkout.path}/data/xdg-data` });
      // Traefik is not packaged: the document has it on PATH (a release binary, or the one .ci/traefik builds).
      if (kind === 'traefik') env.PATH = `${dirname(pathOf(proxyBinary))}:${env.PATH}`;
      const shell = { cwd: checkout.path, env };
      // The copy has node_modules, as after the `npm install` the document asks for first.
      await runOk('npm install', shell);

      terminals.push(
        await startInTerminal(steps.sidecar, {
          ...shell,
          ready: () => answersHttp(`http://127.0.0.1:${steps.sidecarPort}/healthz`),
          port: steps.sidecarPort,
          what: `serving on 127.0.0.1:${steps.sidecarPort}`,
          timeoutInMs: 180_000,
        }),
      );
      terminals.push(
        await startInTerminal(steps.app, {
          ...shell,
          ready: () => answersHttp(`http://127.0.0.1:${steps.appPort}/`),
          port: steps.appPort,
          what: `serving on 127.0.0.1:${steps.appPort}`,
          timeoutInMs: 120_000,
        }),
      );

      const secret = /secret:\s*([A-Z2-7]{16,})/.exec(await runOk(steps.userAdd, shell))?.[1];
      expect(secret, 'user add printed a secret').toBeDefined();
      for (const command of steps.setup) await runOk(command, shell);
      const tokenOutput = await runOk(steps.proxyTokenAdd, shell);
      const proxyToken = /token[^:\n]*:\s*(\S+)/i.exec(tokenOutput)?.[1];
      expect(proxyToken, `proxy-token add printed no token:\n${tokenOutput}`).toBeDefined();
      const withToken = (text: string) =>
        fillIn(DOC, text, text.includes('<proxy token>') ? [['<proxy token>', proxyToken as string]] : []);

      if (steps.render !== undefined) await runOk(withToken(steps.render), shell);
      terminals.push(
        await startInTerminal(withToken(steps.proxy), {
          ...shell,
          ready: async () => (await rawRequest({ port: proxyPort, host: new URL(steps.origin).host, path: '/login' })).status === 200,
          port: proxyPort,
          what: `serving ${steps.origin}/login`,
        }),
      );

      // The document's curl prints what the document shows.
      expect((await runOk(fillIn(DOC, steps.check, []), shell)).trim()).toBe(steps.checkPrints);
      if (kind === 'caddy') {
        // Another host name on Caddy's port: a 404 that says what this is, not Caddy's empty 200.
        const stray = await rawRequest({ port: proxyPort, host: `elsewhere.localhost:${proxyPort}`, path: '/' });
        expect(stray.status).toBe(404);
        expect(stray.body).toContain('PASSWORDLESS_SITE_ADDRESS');
        // "Caddy writes … the configuration it last ran to ~/.config/caddy/autosave.json" (here XDG_CONFIG_HOME).
        expect(existsSync(join(env.XDG_CONFIG_HOME as string, 'caddy/autosave.json'))).toBe(true);
      }

      // "Open <origin/>, sign in with your email and the code, and the app greets you by name."
      browser = await launchChromium(pathOf(chromium), LOCALHOST_ONLY);
      const page = await browser.newPage();
      await page.goto(`${steps.origin}/`);
      const login = new URL(page.url());
      expect(`${login.origin}${login.pathname}`).toBe(`${steps.origin}/login`);
      await page.getByLabel('Email').fill(steps.email);
      await page.getByLabel('Code').fill(await totpCode(secret as string));
      await Promise.all([page.waitForURL(`${steps.origin}/`), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      const username = /--username (\S+)/.exec(steps.userAdd)?.[1];
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(`Hello, ${username}`);
      // Plain http on *.localhost, without INSECURE_HTTP: the browser keeps the device cookies, Secure as in production.
      const cookies = await page.context().cookies(steps.origin);
      expect(cookies.filter((c) => c.name === 'device_id' || c.name === 'hmac_secret').map((c) => [c.name, c.secure])).toEqual(
        expect.arrayContaining([
          ['device_id', true],
          ['hmac_secret', true],
        ]),
      );

      // "whoami.json shows what the identity headers told it": the grant's scopes, nothing more.
      await page.goto(`${steps.origin}/whoami.json`);
      const identity = JSON.parse((await page.locator('body').textContent()) ?? '') as Record<string, unknown>;
      expect(identity).toEqual({ userServiceToken: expect.stringMatching(/^\S{8,}$/), email: steps.email, name: username });
    }, 600_000);
  });
}
