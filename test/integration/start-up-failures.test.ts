// Rule: a server that cannot start says why and what to do in one or two lines, exits 1, and shows no stack trace
// (unless LOG_LEVEL=debug): a busy port, a data directory or database file it may not write, a database that
// refuses the connection, a key file that cannot be read. The built server (and CLI), as processes.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../e2e/support/processes.js';
import { TEST_KEY } from '../support/app.js';
import { runCliInProcess } from '../support/cli.js';

const REPO = new URL('../..', import.meta.url).pathname;
const MAIN = join(REPO, 'dist/main.js');
const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;
const STACK = /\n\s+at /;

/** Root may write anywhere: file permissions are only tested as someone else (nobody), where the test runs as root. */
const asRoot = process.getuid?.() === 0;
const asSomeoneElse = asRoot ? { uid: 65534, gid: 65534 } : {};

/**
 * Where nobody can run the server from: the checkout may sit in a directory only root may enter (a fresh clone in
 * a `mktemp -d` folder, with Node itself inside it on CI's Node 24 run). So, as root, the built server, its modules
 * and Node are linked (or copied) into a folder anyone may read; else the checkout as it is.
 */
function unprivilegedCopy(into: string): { node: string; main: string } {
  if (!asRoot) return { node: process.execPath, main: MAIN };
  const root = join(into, 'app');
  mkdirSync(root, { mode: 0o755 });
  for (const part of ['dist', 'sql', 'node_modules', 'package.json']) {
    try {
      execFileSync('cp', ['-al', join(REPO, part), root]);
    } catch {
      execFileSync('cp', ['-a', join(REPO, part), root]);
    }
  }
  const node = join(into, 'node');
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  return { node, main: join(root, 'dist/main.js') };
}
let unprivileged: { node: string; main: string };

/** Runs a built entry point until it exits (it must, within the test's time); its exit code and stderr. */
function runToExit(script: string, args: readonly string[], env: Record<string, string>, options: { unprivileged?: boolean } = {}) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const run = options.unprivileged && script === MAIN ? unprivileged : { node: process.execPath, main: script };
    const child = spawn(run.node, [run.main, ...args], {
      env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
      ...(options.unprivileged ? asSomeoneElse : {}),
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += String(chunk);
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

let dir: string;
let holder: Server;
let busyPort: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pa-start-up-'));
  chmodSync(dir, 0o755);
  unprivileged = unprivilegedCopy(dir);
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  busyPort = (holder.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('start-up failures name the cause and the fix', () => {
  it('a busy port: which address, which variable; the stack only at LOG_LEVEL=debug', async () => {
    const env = { DATABASE_URL: 'sqlite::memory:', ENCRYPTION_KEYS: TEST_KEY, PORT: String(busyPort) };
    const busy = await runToExit(MAIN, [], env);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`passwordless-auth: could not start: 127.0.0.1:${busyPort} is already in use`);
    expect(busy.stderr).toMatch(/set PORT \(and HOST\) to listen elsewhere/);
    expect(busy.stderr).not.toMatch(STACK);
    expect(busy.stderr.trim().split('\n')).toHaveLength(2);
    const debug = await runToExit(MAIN, [], { ...env, LOG_LEVEL: 'debug' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toContain('is already in use');
    expect(debug.stderr).toMatch(STACK);
  });

  it('a database that refuses the connection, for the server and the CLI', async () => {
    const url = `mysql://root@127.0.0.1:${await freePort()}/nothing`;
    const server = await runToExit(MAIN, [], { DATABASE_URL: url, ENCRYPTION_KEYS: TEST_KEY, PORT: String(await freePort()) });
    expect(server.code).toBe(1);
    expect(server.stderr).toMatch(/could not start: the database at mysql:\/\/root@127\.0\.0\.1:\d+\/nothing refused the connection/);
    expect(server.stderr).toContain('Start the database, or check the host and port in DATABASE_URL.');
    expect(server.stderr).not.toMatch(STACK);
    const cli = await runToExit(CLI, ['user', 'list'], { DATABASE_URL: url, ENCRYPTION_KEYS: TEST_KEY });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/could not open the database: the database at .* refused the connection/);
    expect(cli.stderr).not.toMatch(STACK);
  });

  it('a data directory it may not write, and a database file that is read-only', async () => {
    const readOnlyDir = join(dir, 'read-only-dir');
    mkdirSync(readOnlyDir, { mode: 0o555 });
    const unwritable = await runToExit(
      MAIN,
      [],
      { DATABASE_URL: `sqlite:${join(readOnlyDir, 'data/auth.db')}`, ENCRYPTION_KEYS: TEST_KEY, PORT: String(await freePort()) },
      { unprivileged: true },
    );
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toContain(`could not start: cannot write ${join(readOnlyDir, 'data')} (permission denied)`);
    expect(unwritable.stderr).not.toMatch(STACK);

    // A database made by its owner, then opened by someone who may only read it.
    const owned = join(dir, 'owned');
    mkdirSync(owned);
    const file = join(owned, 'auth.db');
    expect((await runCliInProcess(['migrate'], { DATABASE_URL: `sqlite:${file}`, ENCRYPTION_KEYS: TEST_KEY })).code).toBe(0);
    chmodSync(file, 0o444);
    chmodSync(owned, 0o555);
    const readOnly = await runToExit(
      MAIN,
      [],
      { DATABASE_URL: `sqlite:${file}`, ENCRYPTION_KEYS: TEST_KEY, PORT: String(await freePort()) },
      { unprivileged: true },
    );
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(new RegExp(`could not start: the SQLite database ${file} (is read-only|cannot be opened)`));
    expect(readOnly.stderr).toContain('DATABASE_URL');
    expect(readOnly.stderr).not.toMatch(STACK);
  });

  it('a key file that cannot be read', async () => {
    const keyDir = join(dir, 'keys');
    mkdirSync(keyDir);
    const r = await runToExit(MAIN, [], { DATABASE_URL: 'sqlite::memory:', ENCRYPTION_KEY_FILE: keyDir, PORT: String(await freePort()) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`ENCRYPTION_KEY_FILE: ${keyDir} is a directory; name the key file itself`);
    expect(r.stderr).not.toMatch(STACK);
  });
});
