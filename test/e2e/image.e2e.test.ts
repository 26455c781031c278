// The container image, built from the Dockerfile by .ci/image and run as a user runs it, without a Docker engine:
// the image's own entry point under `buildah run` (chroot isolation, the host's network), with the environment
// of the README's Docker section and a data volume, then compose.yaml's `auth` service against MariaDB. Rules:
// the image runs as a non-root user and ships no compiler, npm cache, dev dependency, test file or .env; in
// production it refuses to start without real keys, with the message it gives outside a container; a read-only
// data volume stops it with a clear message, not a stack trace.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';
import { buildahBinary, buildImage, type Container, createContainer, type ImageConfig, imageConfig, rootUser } from './support/image.js';
import { REPO_ROOT, tempDir } from './support/paths.js';
import { freePort, type ManagedProcess, waitUntilReady } from './support/processes.js';
import { builtSidecar, requirementsGate } from './support/requirements.js';
import { totpCode } from './support/sidecar.js';
import { commandsOf, fillIn, markdownSection, shellBlocks, WalkthroughShapeError } from './support/walkthrough.js';

const run = promisify(execFile);
const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const freshKey = () => `k1:${randomBytes(32).toString('base64')}`;
const NODE_UID = 1000;

/** The README's Docker section as commands: `docker run` (flags, environment, image) and the `docker exec`s. */
function readmeDocker() {
  const block = shellBlocks(markdownSection(README, 'README.md', '## Docker'))[0];
  if (block === undefined) throw new WalkthroughShapeError('README.md', 'no ```sh block in "## Docker"');
  const commands = commandsOf(block).map((command) => command.replace(/\\\n/g, ' ').trim());
  const runCommand = commands.find((command) => command.startsWith('docker run '));
  if (!runCommand) throw new WalkthroughShapeError('README.md', 'no `docker run` in "## Docker"');
  const words = fillIn('README.md', runCommand, [
    ['<key>', freshKey()],
    ['<proxy address>', '127.0.0.1'],
  ])
    .split(/\s+/)
    .slice(2);
  const env: Record<string, string> = {};
  const volumes: string[] = [];
  const ports: string[] = [];
  let name = '';
  while (words.length > 1) {
    const flag = words.shift() as string;
    if (flag === '-d') continue;
    const value = words.shift() as string;
    if (flag === '-e') env[value.slice(0, value.indexOf('='))] = value.slice(value.indexOf('=') + 1);
    else if (flag === '-v') volumes.push(value);
    else if (flag === '-p') ports.push(value);
    else if (flag === '--name') name = value;
    else throw new WalkthroughShapeError('README.md', `a docker run flag the test does not know: ${flag}`);
  }
  const execs = commands
    .filter((command) => command.startsWith(`docker exec ${name} `))
    .map((command) => command.slice(`docker exec ${name} `.length).split(/\s+/));
  return { image: words[0] ?? '', env, volumes, ports, execs, build: commands[0] ?? '' };
}

/** A host directory for /app/data, owned by the image's user as a fresh Docker volume would be. */
function dataVolume() {
  const dir = tempDir('image-data');
  chownSync(dir.path, NODE_UID, NODE_UID);
  chmodSync(dir.path, 0o755);
  return dir;
}

/** Every file below `dir` (relative paths), without descending into the directories `skip` names. */
function walk(dir: string, skip: (path: string) => boolean = () => false, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (skip(relative(base, path))) return [];
    return entry.isDirectory() ? walk(path, skip, base) : [relative(base, path)];
  });
}

/** The sign-in form with a computed code: the two device cookies as a Cookie header. */
async function signIn(base: string, origin: string, email: string, secret: string): Promise<string> {
  const response = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Origin: origin },
    body: new URLSearchParams({ email, code: await totpCode(secret) }),
  });
  expect(response.status).toBe(303);
  const cookies = response.headers.getSetCookie().map((cookie) => cookie.split(';')[0] as string);
  expect(cookies.map((cookie) => cookie.slice(0, cookie.indexOf('='))).sort()).toEqual(['device_id', 'hmac_secret']);
  return cookies.join('; ');
}

/** What buildah itself adds to stderr when the command fails, so only the command's own lines are compared. */
const ownLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter(
      (line) =>
        line.trim() !== '' &&
        !/^(subprocess exited (with status \d+|on \w+)|error while running runtime: .*|Error: .*exit status \d+)$/.test(line),
    );

const skip = requirementsGate('the container image', [buildahBinary, rootUser(), builtSidecar()]);

// Each run in the container starts a process through buildah: seconds each, tens of seconds on a loaded machine.
describe.skipIf(skip)('the container image', { timeout: 120_000 }, () => {
  let image: string;
  let config: ImageConfig;
  const readme = readmeDocker();
  // One working container for every run below (each one is a full copy of the image with the vfs driver); `mysql`
  // names the MariaDB server the compose run uses. Its root file system is checked after all of them.
  let container: Container;
  let root: string;
  let startedAt: number;
  const mysqlUrl = inject('mysqlUrl');

  beforeAll(async () => {
    image = await buildImage();
    config = await imageConfig(image);
    const mysqlHost = mysqlUrl ? new URL(mysqlUrl).hostname : '127.0.0.1';
    container = await createContainer(image, { addHosts: [`mysql:${mysqlHost}`] });
    root = await container.mount();
    startedAt = Date.now() - 1_000;
  }, 30 * 60_000);
  afterAll(async () => container?.remove());

  it('is the image the README builds and compose.yaml runs', () => {
    expect(readme.build).toBe(`docker build -t ${image} .`);
    expect(readme.image).toBe(image);
    const compose = parse(readFileSync(join(REPO_ROOT, 'compose.yaml'), 'utf8')) as { services: { auth: { image: string } } };
    expect(compose.services.auth.image).toBe(image);
    expect(config.user).toBe('node');
    expect(config.volumes).toEqual(['/app/data']);
    expect(config.exposedPorts).toEqual(['8080/tcp']);
    expect(config.env).toMatchObject({ NODE_ENV: 'production', PORT: '8080' });
  });

  describe("with the README's docker run environment and a data volume (SQLite)", () => {
    let server: ManagedProcess;
    let base: string;
    let port: number;
    let data: ReturnType<typeof dataVolume>;
    let env: Record<string, string>;
    let volumes: string[];

    beforeAll(async () => {
      data = dataVolume();
      port = await freePort();
      // The host's network: a free port instead of the published 8080, and only on the loopback interface.
      expect(readme.ports).toEqual([`8080:${config.env.PORT}`]);
      env = { ...readme.env, PORT: String(port), HOST: '127.0.0.1' };
      volumes = readme.volumes.map((volume) => `${data.path}:${volume.slice(volume.indexOf(':') + 1)}`);
      expect(volumes).toEqual([`${data.path}:/app/data`]);
      server = container.start([...config.entrypoint, ...config.cmd], { env, volumes });
      base = `http://127.0.0.1:${port}`;
      await waitUntilReady(server, async () => (await fetch(`${base}/healthz`)).ok, { what: 'healthy on /healthz', timeoutInMs: 60_000 });
    }, 180_000);
    afterAll(async () => {
      await server?.stop();
      data?.remove();
    });

    it('runs the migrations into the volume, as the non-root user, and is ready', async () => {
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(server.output()).toContain('"database migrated"');
      // Written by the server process: its owner is the user the process ran as.
      const db = statSync(join(data.path, 'auth.db'));
      expect(db.uid).toBe(NODE_UID);
      expect((await container.exec(['id', '-u'])).stdout.trim()).toBe(String(NODE_UID));
    });

    it('takes the README docker exec commands, signs in with a computed code, and /verify names the user', async () => {
      const outputs: string[] = [];
      for (const command of readme.execs) {
        const result = await container.exec(command, { env, volumes });
        expect(result.code, `${command.join(' ')}\n${result.stderr}`).toBe(0);
        outputs.push(result.stdout);
      }
      expect(readme.execs.map((command) => command.slice(2, 4).join(' '))).toEqual(['user add', 'service add', 'grant --email']);
      const secret = /secret: (\S+)/.exec(outputs[0] ?? '')?.[1] ?? '';
      const token = /token \(shown only now\): (\S+)/.exec(outputs[1] ?? '')?.[1] ?? '';
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      expect(token.length).toBeGreaterThan(20);
      const cookies = await signIn(base, new URL(env.PUBLIC_URL as string).origin, 'you@example.com', secret);

      const verified = await fetch(`${base}/verify/whoami`, { headers: { Authorization: `Bearer ${token}`, Cookie: cookies } });
      expect(verified.status).toBe(200);
      expect(verified.headers.get('remote-user')).toMatch(/^[0-9a-f-]{36}$/);
      expect(verified.headers.get('remote-email')).toBe('you@example.com');
      expect(verified.headers.get('remote-name')).toBe('');
      const denied = await fetch(`${base}/verify/whoami`, { headers: { Authorization: `Bearer ${token}` } });
      expect(denied.status).toBe(404);
    });

    it("passes the image's HEALTHCHECK command while it serves", async () => {
      expect(config.healthcheck[0]).toBe('CMD');
      const result = await container.exec(config.healthcheck.slice(1), { env });
      expect(result.code, result.stderr).toBe(0);
      // The same command against a port nobody listens on fails: it does check.
      expect((await container.exec(config.healthcheck.slice(1), { env: { ...env, PORT: String(await freePort()) } })).code).not.toBe(0);
    });
  });

  describe('what the image contains', () => {
    it('/app holds the built code, the production dependencies, the migrations and an empty data directory', () => {
      expect(readdirSync(join(root, 'app')).sort()).toEqual(['data', 'dist', 'node_modules', 'package.json', 'sql']);
      expect(readdirSync(join(root, 'app/data'))).toEqual([]);
      expect(statSync(join(root, 'app/data')).uid).toBe(NODE_UID);
      // Code and dependencies belong to root: the service user cannot change them.
      for (const path of ['app/dist/main.js', 'app/node_modules', 'app/sql']) expect(statSync(join(root, path)).uid, path).toBe(0);
    });

    it('has no compiler, no npm cache, no dev dependency, no test file and no .env', () => {
      const bin = readdirSync(join(root, 'usr/bin'));
      expect(bin.filter((name) => /^(?:x86_64-linux-gnu-)?(?:gcc|g\+\+|cc|c\+\+|cpp|make|as|ld|python3)(?:-[\d.]+)?$/.test(name))).toEqual(
        [],
      );
      expect(existsSync(join(root, 'usr/lib/gcc'))).toBe(false);
      for (const cache of ['root/.npm', 'home/node/.npm', 'root/.cache', 'home/node/.cache'])
        expect(existsSync(join(root, cache)), cache).toBe(false);
      // Every package the lockfile marks as needed only for development (dev, or dev and optional).
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
      };
      const devOnly = Object.entries(lock.packages).filter(([path, entry]) => path !== '' && (entry.dev || entry.devOptional));
      expect(devOnly.length).toBeGreaterThan(100);
      const devInImage = devOnly.map(([path]) => path).filter((path) => existsSync(join(root, 'app', path)));
      expect(devInImage).toEqual([]);
      const ours = walk(join(root, 'app'), (path) => path === 'node_modules');
      expect(ours.filter((path) => /(^|\/)test\/|\.(test|spec)\.[cm]?[jt]s$/.test(path))).toEqual([]);
      expect(ours.filter((path) => path.endsWith('.js')).length).toBeGreaterThan(20);
      const everywhere = walk(join(root, 'app')).concat(walk(join(root, 'home')), walk(join(root, 'root')));
      expect(everywhere.filter((path) => /(^|\/)\.env(\.|$)/.test(path))).toEqual([]);
      // The build-time npm settings and CA bundle (.ci/image bind-mounts them for RUN steps) are not in the image;
      // buildah leaves an empty file where each was mounted.
      for (const path of ['usr/local/etc/npmrc', 'usr/local/etc/build-ca.crt']) {
        expect(statSync(join(root, path), { throwIfNoEntry: false })?.size ?? 0, path).toBe(0);
      }
    });

    it('is no bigger than the README says', async () => {
      const { stdout } = await run('du', ['-s', '--block-size=1', '--apparent-size', root]);
      const sizeInMb = Number(stdout.split('\t')[0]) / 1e6;
      const stated = /The image is (\d+) MB unpacked/.exec(README)?.[1];
      expect(stated, 'the README states the size').toBeDefined();
      // 10 % over what the README states fails: the README is then out of date (or the image grew by mistake).
      expect(sizeInMb).toBeLessThan(Number(stated) * 1.1);
      expect(sizeInMb).toBeGreaterThan(Number(stated) * 0.8);
    });
  });

  describe('bad input', () => {
    it('refuses to start in production without real keys: exit 1, the message it gives outside', async () => {
      const { ENCRYPTION_KEYS: _key, ...withoutKey } = readme.env;
      const data = dataVolume();
      try {
        const inside = await container.exec([...config.entrypoint, ...config.cmd], {
          env: { ...withoutKey, PORT: String(await freePort()) },
          volumes: [`${data.path}:/app/data`],
        });
        expect(inside.code).not.toBe(0);
        const lines = ownLines(inside.stderr);
        // The configuration error: one heading line and one line per problem, here the one missing key.
        expect(lines).toHaveLength(2);
        expect(lines[0]).toMatch(/^passwordless-auth: /);
        expect(lines[1]).toMatch(/ENCRYPTION_KEYS: required in production/);
        expect(inside.stderr).not.toMatch(/^\s+at /m);

        const cwd = tempDir('outside');
        try {
          const outside = await run(process.execPath, [join(REPO_ROOT, 'dist/main.js')], {
            cwd: cwd.path,
            env: { PATH: process.env.PATH, ...withoutKey, NODE_ENV: 'production' },
          }).then(
            () => ({ code: 0, stderr: '' }),
            (error: { code: number; stderr: string }) => error,
          );
          expect(outside.code).toBe(1);
          expect(ownLines(outside.stderr)).toEqual(lines);
        } finally {
          cwd.remove();
        }
      } finally {
        data.remove();
      }
    });

    it('a read-only data volume: the cause and the fix in two lines, no stack trace, exit 1', async () => {
      const data = dataVolume();
      try {
        const result = await container.exec([...config.entrypoint, ...config.cmd], {
          env: { ...readme.env, PORT: String(await freePort()) },
          volumes: [`${data.path}:/app/data:ro`],
        });
        expect(result.code).not.toBe(0);
        const lines = ownLines(result.stderr);
        expect(lines, result.stderr).toHaveLength(2);
        expect(lines[0]).toMatch(/^passwordless-auth: could not start: the SQLite database \S*auth\.db cannot be opened: .*writable/);
        expect(lines[1]).toMatch(/^\s+\S/);
        expect(result.stderr).not.toMatch(/^\s+at /m);
      } finally {
        data.remove();
      }
    });
  });

  const mysqlReason = inject('mysqlSkipReason');
  if (mysqlReason && !process.env.CI) console.warn(`[e2e] skipping compose.yaml's auth service in the image: ${mysqlReason}`);
  describe.skipIf(Boolean(mysqlReason) && !process.env.CI)("compose.yaml's auth service, with MariaDB as `mysql`", () => {
    const composeText = readFileSync(join(REPO_ROOT, 'compose.yaml'), 'utf8');
    const compose = parse(composeText) as {
      services: { auth: { environment: Record<string, string>; tmpfs?: string[]; read_only?: boolean; healthcheck?: unknown } };
    };
    let server: ManagedProcess;
    let database: TestDatabase;
    let env: Record<string, string>;
    let base: string;
    const user = `pwl_${randomBytes(4).toString('hex')}`;

    /** compose's ${NAME}, ${NAME:-default} and ${NAME:?error} against a .env, innermost first. */
    function interpolate(value: string, dotenv: Record<string, string>): string {
      let text = value;
      for (;;) {
        const next = text.replace(/\$\{([A-Z_]+)(?:(:-|:\?)([^{}]*))?\}/, (_, name: string, op?: string, arg?: string) => {
          const set = dotenv[name];
          if (set !== undefined && set !== '') return set;
          if (op === ':?') throw new Error(`compose would stop: ${arg}`);
          return op === ':-' ? (arg ?? '') : '';
        });
        if (next === text) return text;
        text = next;
      }
    }

    beforeAll(async () => {
      if (mysqlReason) throw new Error(`CI must not skip the compose run: ${mysqlReason}`);
      database = await createTestDatabase('mysql');
      const target = database.target as { host: string; port: number; user: string; password?: string; database: string };
      const password = randomBytes(12).toString('hex');
      const admin = await createConnection({ host: target.host, port: target.port, user: target.user, password: target.password });
      // What the mysql image does with MYSQL_USER and MYSQL_PASSWORD: a user with every privilege on MYSQL_DATABASE.
      await admin.query(`CREATE USER '${user}'@'%' IDENTIFIED BY '${password}'`);
      await admin.query(`GRANT ALL ON \`${target.database}\`.* TO '${user}'@'%'`);
      await admin.end();

      // examples/compose.env.example filled in as its comments ask, plus the optional database names.
      const dotenv: Record<string, string> = {};
      for (const line of readFileSync(join(REPO_ROOT, 'examples/compose.env.example'), 'utf8').split('\n')) {
        const match = /^([A-Z_]+)=(.*)$/.exec(line);
        if (match?.[1]) dotenv[match[1]] = match[2] ?? '';
      }
      Object.assign(dotenv, {
        ENCRYPTION_KEYS: freshKey(),
        DB_PASSWORD: password,
        MYSQL_ROOT_PASSWORD: 'unused',
        DB_USER: user,
        MYSQL_DATABASE: target.database,
      });
      env = Object.fromEntries(
        Object.entries(compose.services.auth.environment).map(([name, value]) => [name, interpolate(String(value), dotenv)]),
      );
      expect(env).toMatchObject({ NODE_ENV: 'production', PORT: '8080', DB_HOST: 'mysql', DB_PORT: '3306', DB_USER: user });
      expect(env.MYSQL_ROOT_PASSWORD).toBeUndefined();
      // The host's network: a free port instead of 8080; `mysql` is MariaDB on this machine.
      const port = await freePort();
      env = { ...env, PORT: String(port), HOST: '127.0.0.1', DB_PORT: String(target.port) };
      expect(target.host).toBe(mysqlUrl ? new URL(mysqlUrl).hostname : '');
      expect(compose.services.auth.read_only).toBe(true);
      expect(compose.services.auth.tmpfs).toEqual(['/tmp']);
      server = container.start([...config.entrypoint, ...config.cmd], { env });
      base = `http://127.0.0.1:${port}`;
      await waitUntilReady(server, async () => (await fetch(`${base}/healthz`)).ok, { what: 'healthy on /healthz', timeoutInMs: 60_000 });
    }, 180_000);
    afterAll(async () => {
      await server?.stop();
      if (database) {
        const target = database.target as { host: string; port: number; user: string; password?: string };
        const admin = await createConnection({ host: target.host, port: target.port, user: target.user, password: target.password });
        await admin.query(`DROP USER IF EXISTS '${user}'@'%'`);
        await admin.end();
        await database.drop();
      }
    });

    it('migrates MySQL, is ready, and passes the HEALTHCHECK compose waits for', async () => {
      expect(server.output()).toContain('"database migrated"');
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      expect(compose.services.auth.healthcheck).toBeUndefined(); // the image's own
      expect((await container.exec(config.healthcheck.slice(1), { env })).code).toBe(0);
    });

    it("runs the CLI commands of the file's header; the proxy token then verifies a signed-in user", async () => {
      const header = composeText.split('\n').filter((line) => line.startsWith('#'));
      const commands = commandsOf(header.map((line) => line.replace(/^#\s?/, '')).join('\n'))
        .map((command) =>
          command
            .replace(/\\\n/g, ' ')
            .replace(/\s+#.*$/, '')
            .trim(),
        )
        .filter((command) => command.startsWith('docker compose exec auth '))
        .map((command) => command.slice('docker compose exec auth '.length).split(/\s+/));
      expect(commands.map((command) => command.slice(2, 4).join(' '))).toEqual([
        'service add',
        'proxy-token add',
        'user add',
        'grant --email',
      ]);
      const outputs: string[] = [];
      for (const command of commands) {
        const result = await container.exec(command, { env });
        expect(result.code, `${command.join(' ')}\n${result.stderr}`).toBe(0);
        outputs.push(result.stdout);
      }
      const proxyToken = /token[^:\n]*: (\S+)/i.exec(outputs[1] ?? '')?.[1] ?? '';
      const secret = /secret: (\S+)/.exec(outputs[2] ?? '')?.[1] ?? '';
      const cookies = await signIn(base, new URL(env.PUBLIC_URL as string).origin, 'you@example.com', secret);
      const verified = await fetch(`${base}/verify/protected-app?proxy=nginx`, {
        headers: { Authorization: `Bearer ${proxyToken}`, Cookie: cookies },
      });
      expect(verified.status).toBe(200);
      expect(verified.headers.get('remote-email')).toBe('you@example.com');
      expect(verified.headers.get('remote-name')).toBe('');
      expect(verified.headers.get('remote-role')).toBe('user');
    });

    it('writes nothing outside /tmp (compose runs it with a read-only root file system)', async () => {
      const skipped = new Set(['proc', 'sys', 'dev', 'tmp', 'run', 'etc/hosts', 'etc/resolv.conf', 'etc/hostname']);
      const changed = walk(root, (path) => skipped.has(path)).filter((path) => {
        const stat = statSync(join(root, path), { throwIfNoEntry: false });
        return stat !== undefined && stat.mtimeMs >= startedAt;
      });
      expect(changed).toEqual([]);
    });
  });
});
