// Rule: the server does not start with encryption keys that cannot open the stored secrets. Before, it started,
// /readyz said ready and every sign-in and /verify answered 503. Now it names the missing key id and exits 1; a
// rotation (new key first, old key kept) starts, and so does an empty database. The built server, as a process.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
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
async function start(env: Record<string, string>): Promise<{ outcome: number | 'listening'; stderr: () => string; port: number }> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, ...env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
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

      const rotated = await start({ ...env, ENCRYPTION_KEYS: `${OTHER_KEY},${TEST_KEY}` });
      expect(rotated.outcome).toBe('listening');
      expect((await fetch(`http://127.0.0.1:${rotated.port}/readyz`)).status).toBe(200);
    } finally {
      await tdb.drop();
    }
  });

  it('starts on an empty database with any key', async () => {
    const tdb = await createTestDatabase('sqlite');
    try {
      expect((await start({ DATABASE_URL: tdb.url, ENCRYPTION_KEYS: OTHER_KEY })).outcome).toBe('listening');
    } finally {
      await tdb.drop();
    }
  });
});
