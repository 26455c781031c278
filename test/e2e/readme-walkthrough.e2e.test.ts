// README.md's "First steps", performed literally, as someone who just cloned the repository: its commands are read
// out of the README and run as written (`npm install && npm start` in a fresh copy with a fresh data directory,
// no configuration, no extra environment), then Chromium opens the one-time link `user invite` printed, sets up an
// authenticator app there (the key under the QR code, then its first code) and is signed in; later sign-ins at the
// README's login URL work with a code from that app; and the README's curl, with the printed service token and the
// browser's cookies, must answer exactly the JSON the README shows (the token's value aside).
//
// `npm start` listens on the README's port (8080). If that is taken, the test waits a while, then fails under CI
// and skips locally, saying why.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCALHOST_ONLY, launchChromium } from './support/browser.js';
import { binary, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { totpCode } from './support/sidecar.js';
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
} from './support/walkthrough.js';

const README = 'README.md';

interface FirstSteps {
  readonly start: string;
  readonly baseUrl: string;
  readonly loginUrl: string;
  readonly userInvite: string;
  readonly email: string;
  readonly serviceAdd: string;
  readonly grant: string;
  readonly curl: string;
  readonly documentedAnswer: string;
}

/** The walk-through as the README writes it; throws WalkthroughShapeError when the README changed shape. */
function firstSteps(): FirstSteps {
  const section = markdownSection(readDocument(README), README, '## First steps');
  const shapeError = (problem: string) => new WalkthroughShapeError(`${README} "First steps"`, problem);
  const blocks = shellBlocks(section);
  if (blocks.length !== 3) throw shapeError(`expected 3 sh blocks (start, cli, curl), found ${blocks.length}`);
  const [startBlock, cliBlock, curlBlock] = blocks as [string, string, string];

  const startCommands = commandsOf(startBlock);
  if (startCommands.length !== 1 || !/\bnpm start$/.test(startCommands[0] as string)) {
    throw shapeError(`the first block should be one command ending in "npm start": ${JSON.stringify(startCommands)}`);
  }
  const baseUrl = /serves on `(http:\/\/[^`]+)`/.exec(section)?.[1];
  if (baseUrl === undefined) throw shapeError('no "serves on `http://...`"');
  if (!section.includes(`Open the link \`user invite\` printed (\`${baseUrl}/login/enroll/…\`)`)) {
    throw shapeError(`no "Open the link \`user invite\` printed (\`${baseUrl}/login/enroll/…\`)"`);
  }
  if (!/scan the QR code with an authenticator app and enter its first code: you are signed in/.test(section)) {
    throw shapeError('no "scan the QR code with an authenticator app and enter its first code: you are signed in"');
  }
  const loginUrl = /sign in at <(http:\/\/[^>]+)>/.exec(section)?.[1];
  if (loginUrl !== `${baseUrl}/login`) throw shapeError(`"sign in at <...>" should be ${baseUrl}/login, is ${loginUrl}`);

  const cli = commandsOf(cliBlock);
  const [userInvite, serviceAdd, grant] = cli;
  const user = /^npm run --silent cli -- user invite --email (\S+) --username \S+/.exec(userInvite ?? '');
  if (
    cli.length !== 3 ||
    !user ||
    !/^npm run --silent cli -- service add \S+/.test(serviceAdd ?? '') ||
    !/^npm run --silent cli -- grant /.test(grant ?? '')
  ) {
    throw shapeError(`the second block should be user invite, service add, grant: ${JSON.stringify(cli)}`);
  }

  const [curl, ...more] = commandsOf(curlBlock);
  const documentedAnswer = commentsOf(curlBlock).find((line) => line.startsWith('{'));
  if (!curl?.startsWith('curl ') || more.length > 0 || documentedAnswer === undefined) {
    throw shapeError('the third block should be one curl command followed by its answer as a # {...} comment');
  }
  return {
    start: startCommands[0] as string,
    baseUrl,
    loginUrl,
    userInvite: userInvite as string,
    email: user[1] as string,
    serviceAdd: serviceAdd as string,
    grant: grant as string,
    curl,
    documentedAnswer,
  };
}

const chromium = chromiumBinary();
const curl = binary('curl');
const git = binary('git');

describe.skipIf(requirementsGate('README walk-through', [chromium, curl, git]))('README.md "First steps", as a newcomer does them', () => {
  let checkout: Checkout | undefined;
  let server: Terminal | undefined;
  afterAll(async () => {
    await server?.stop();
    checkout?.remove();
  });

  it('starts with no configuration, signs in with Chromium, and the curl answers what the README shows', async (ctx) => {
    const steps = firstSteps();
    const port = Number(new URL(steps.baseUrl).port || 80);
    const busy = await waitForPorts('the README walk-through', [port]);
    if (busy !== undefined) {
      ctx.skip(busy);
      return;
    }

    checkout = await freshCheckout();
    const shell = { cwd: checkout.path, env: newcomerEnv() };

    // 1. npm install && npm start, in its own terminal.
    server = await startInTerminal(steps.start, {
      ...shell,
      ready: () => answersHttp(`${steps.baseUrl}/healthz`),
      port,
      what: `serving on ${steps.baseUrl}`,
      timeoutInMs: 180_000,
    });
    // "keeps its data in ./data/auth.db and creates ./data/encryption.key (mode 0600) once and says so"
    expect(existsSync(join(checkout.path, 'data/auth.db'))).toBe(true);
    expect(statSync(join(checkout.path, 'data/encryption.key')).mode & 0o777).toBe(0o600);
    expect(server.output()).toContain('data/encryption.key');

    // 2. In another terminal: the user (an invite link, and no secret on the terminal), the service, the grant.
    const userOutput = await runOk(steps.userInvite, shell);
    const link = new RegExp(`${steps.baseUrl}/login/enroll/[A-Za-z0-9_-]{43}`).exec(userOutput)?.[0];
    expect(link, `user invite printed no link:\n${userOutput}`).toBeDefined();
    expect(userOutput).not.toMatch(/secret|otpauth:/i);
    const serviceOutput = await runOk(steps.serviceAdd, shell);
    const serviceToken = /token[^:\n]*:\s*(\S+)/i.exec(serviceOutput)?.[1];
    expect(serviceToken, `service add printed no token:\n${serviceOutput}`).toBeDefined();
    await runOk(steps.grant, shell);

    // 3. Open the link; set up an authenticator app with the key under the QR code, and enter its first code.
    const browser = await launchChromium(pathOf(chromium), LOCALHOST_ONLY);
    let cookies: Record<string, string>;
    try {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(link as string);
      expect(await page.getByRole('img', { name: 'QR code for your authenticator app' }).count()).toBe(1);
      const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      await page.getByLabel('First code from the app').fill(await totpCode(secret));
      const [posted] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.startsWith('/login/enroll/')),
        page.getByRole('button', { name: 'Confirm and sign in' }).click(),
      ]);
      expect(posted.status(), `the enrolment POST answered ${posted.status()}: ${await posted.text().catch(() => '')}`).toBe(303);
      // "you are signed in (the page at / says so)"
      await page.waitForURL(`${steps.baseUrl}/`);
      await expect.poll(() => page.getByRole('heading', { name: 'Signed in' }).count()).toBe(1);
      expect(await page.locator('body').textContent()).toContain(`You are signed in as ${steps.email}`);
      cookies = Object.fromEntries((await context.cookies(steps.baseUrl)).map((cookie) => [cookie.name, cookie.value]));

      // "Later you sign in at <…/login> with … a code from the app": in another browser, with the next code.
      const later = await (await browser.newContext()).newPage();
      await later.goto(steps.loginUrl);
      await later.getByLabel('Email').fill(steps.email);
      await later.getByLabel('Code').fill(await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }));
      await Promise.all([later.waitForURL(`${steps.baseUrl}/`), later.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      expect(await later.locator('body').textContent()).toContain(`You are signed in as ${steps.email}`);
    } finally {
      await browser.close();
    }
    expect(cookies.device_id).toMatch(/^[0-9a-f]{32}$/);
    expect(cookies.hmac_secret).toMatch(/^[0-9a-f]{32}$/);

    // 4. The README's curl with the printed token and the browser's cookies answers the documented JSON.
    const command = fillIn(README, steps.curl, [
      ['<service token>', serviceToken as string],
      ['device_id=<from your browser>', `device_id=${cookies.device_id}`],
      ['hmac_secret=<from your browser>', `hmac_secret=${cookies.hmac_secret}`],
    ]);
    const answer = (await runOk(command, shell)).trim();
    const userServiceToken = (JSON.parse(answer) as { data?: { UserServiceToken?: unknown } }).data?.UserServiceToken;
    expect(userServiceToken).toMatch(/^\S{8,}$/);
    const documentedToken = (JSON.parse(steps.documentedAnswer) as { data: { UserServiceToken: string } }).data.UserServiceToken;
    expect(answer.replace(JSON.stringify(userServiceToken), JSON.stringify(documentedToken))).toBe(steps.documentedAnswer);

    // Ctrl-C in the server's terminal: the whole process group ends and the port is free again.
    await server.stop();
    expect(server.exited()).toBe(true);
    expect(await waitForPorts('the stopped README server', [port], 5_000)).toBeUndefined();
  }, 420_000);
});
