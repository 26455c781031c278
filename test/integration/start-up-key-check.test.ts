// Rule: the server does not start with encryption keys that cannot open the stored secrets. Before, it started,
// /readyz said ready and every sign-in and /verify answered 503. Now it names the missing key id and exits 1; a
// rotation (new key first, old key kept) starts, and so does an empty database. The built server, as a process.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../e2e/support/processes.js';
import { TEST_KEY } from '../support/app.js';
import { runCliInProcess } from '../support/cli.js';
import { createTestDatabase } from '../support/databases.js';

const MAIN = new URL('../../dist/main.js', import.meta.url).pathname;
const OTHER_KEY = `other:${Buffer.alloc(32, 5).toString('base64')}`;

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGTERM');
});

/** Starts the server; resolves with its exit code if it exits, or `'listening'` once /healthz answers. */
async function start(
  env: Record<string, string | undefined>,
  cwd?: string,
): Promise<{ outcome: number | 'listening'; stderr: () => string; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd,
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const listening = (async () => {
    for (let i = 0; i < 200; i++) {
      if (
        await fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        )
      )
        return 'listening' as const;
      await new Promise((r) => setTimeout(r, 100));
    }
    return -2;
  })();
  return { outcome: await Promise.race([exited, listening]), stderr: () => stderr, port };
}

describe('start-up key check', () => {
  beforeAll(() => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does it first)`);
  });

  it('refuses to start, naming the missing key id, when the keys open none of the stored secrets; starts after a rotation', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      const env = { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY };
      for (const args of [
        ['user', 'add', '--email', 'ann@example.com'],
        ['service', 'add', 'app'],
        ['grant', '--email', 'ann@example.com', '--service', 'app'],
      ]) {
        expect((await runCliInProcess(args, { ...process.env, ...env })).code, args.join(' ')).toBe(0);
      }

      const wrong = await start({ ...env, ENCRYPTION_KEYS: OTHER_KEY });
      expect(wrong.outcome).toBe(1);
      expect(wrong.stderr()).toContain('refusing to start');
      expect(wrong.stderr()).toMatch(/missing key id\(s\) "test1" \(2 values\)/);
      expect(wrong.stderr()).not.toContain(TEST_KEY.split(':')[1]);
      expect(wrong.stderr()).not.toContain(OTHER_KEY.split(':')[1]);
      expect(wrong.stderr()).toContain('The keys were read from ENCRYPTION_KEYS.');

      // A key file: its path is named.
      const keyFile = join(dirname(tdb.target.dialect === 'sqlite' ? tdb.target.path : ''), 'other.key');
      writeFileSync(keyFile, `${OTHER_KEY}\n`);
      const fromFile = await start({ DATABASE_URL: tdb.url, ENCRYPTION_KEYS: undefined, ENCRYPTION_KEY_FILE: keyFile });
      expect(fromFile.outcome).toBe(1);
      expect(fromFile.stderr()).toContain(`The keys were read from ENCRYPTION_KEY_FILE (${keyFile}).`);

      const rotated = await start({ ...env, ENCRYPTION_KEYS: `${OTHER_KEY},${TEST_KEY}` });
      expect(rotated.outcome).toBe('listening');
      expect((await fetch(`http://127.0.0.1:${rotated.port}/readyz`)).status).toBe(200);
    } finally {
      await tdb.drop();
    }
    // Three server starts: up to 20 s on a busy 2-core machine.
  }, 90_000);

  it('starts on an empty database with any key', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      expect((await start({ DATABASE_URL: tdb.url, ENCRYPTION_KEYS: OTHER_KEY })).outcome).toBe('listening');
    } finally {
      await tdb.drop();
    }
  });
});

describe('the local key file sits next to the SQLite database', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const directory = () => {
    const d = mkdtempSync(join(tmpdir(), 'pa-key-'));
    dirs.push(d);
    return d;
  };
  const noKeys = () => {
    const { ENCRYPTION_KEYS: _, ENCRYPTION_KEY_FILE: __, DATABASE_URL: ___, ...env } = process.env;
    return env;
  };

  it('so the CLI and the server run from another directory use the key the first run made, and make none', async () => {
    const home = directory();
    const elsewhere = directory();
    // The first run, from the checkout: the default database and its key in ./data/.
    const first = await runCliInProcess(['user', 'add', '--email', 'ann@example.com'], noKeys(), home);
    expect(first.code, first.err).toBe(0);
    expect(first.err).toContain(`created a local key file ${join(home, 'data/encryption.key')}`);
    // The same database named from elsewhere: the same key is found, nothing is made there.
    const url = `sqlite:${join(home, 'data/auth.db')}`;
    const again = await runCliInProcess(['service', 'add', 'app'], { ...noKeys(), DATABASE_URL: url }, elsewhere);
    expect(again.code, again.err).toBe(0);
    expect(
      (await runCliInProcess(['grant', '--email', 'ann@example.com', '--service', 'app'], { ...noKeys(), DATABASE_URL: url }, elsewhere))
        .code,
    ).toBe(0);
    expect(existsSync(join(elsewhere, 'data'))).toBe(false);
    expect((await start({ ...noKeys(), DATABASE_URL: url }, elsewhere)).outcome).toBe('listening');
    expect(existsSync(join(elsewhere, 'data'))).toBe(false);
  });

  it('never seals with a key made just now next to secrets sealed with another: refused, the new file removed, its path named', async () => {
    const dir = directory();
    const url = `sqlite:${join(dir, 'auth.db')}`;
    expect(
      (await runCliInProcess(['user', 'add', '--email', 'bo@example.com'], { ...noKeys(), DATABASE_URL: url, ENCRYPTION_KEYS: TEST_KEY }))
        .code,
    ).toBe(0);
    const keyFile = join(dir, 'encryption.key');
    const cli = await runCliInProcess(['user', 'add', '--email', 'cy@example.com'], { ...noKeys(), DATABASE_URL: url }, directory());
    expect(cli.code).toBe(1);
    expect(cli.err).toContain(`refusing to run: 1 of 1 stored secret(s) do not decrypt`);
    expect(cli.err).toContain(`There was no key file at ${keyFile} (one was made and removed again)`);
    expect(existsSync(keyFile)).toBe(false);
    const server = await start({ ...noKeys(), DATABASE_URL: url }, directory());
    expect(server.outcome).toBe(1);
    expect(server.stderr()).toContain(`There was no key file at ${keyFile}`);
    expect(existsSync(keyFile)).toBe(false);
  });
});
