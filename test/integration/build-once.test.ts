// Rule: `npm start` and `npm run cli` compile only when dist/ is missing or older than src/, not on every run
// (`npm install` builds it first, as npm's prepare step). Run with npm in a copy of the sources, so the
// repository's own dist/ is never touched while other suites use it.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from '../e2e/support/paths.js';

const run = promisify(execFile);

describe('dist/ is built once, then again only after a change', () => {
  let copy: { path: string; remove(): void };
  beforeAll(() => {
    copy = tempDir('build-once');
    for (const entry of ['src', 'scripts', 'tsconfig.json', 'package.json'])
      cpSync(join(REPO_ROOT, entry), join(copy.path, entry), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(copy.path, 'node_modules'));
  });
  afterAll(() => copy?.remove());

  const npm = async (...args: string[]) => {
    const { stdout, stderr } = await run('npm', args, { cwd: copy.path, env: { PATH: process.env.PATH ?? '', HOME: copy.path } });
    return { stdout, stderr };
  };
  const builtAt = () => statSync(join(copy.path, 'dist/cli.js')).mtimeMs;

  it('prepare (npm install) builds; the CLI then runs without compiling, until a source changes', async () => {
    expect(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).scripts.prepare).toBe('node scripts/build.mjs');
    await npm('run', '--silent', 'prepare');
    expect(existsSync(join(copy.path, 'dist/main.js'))).toBe(true);
    const first = builtAt();

    const again = await npm('run', '--silent', 'cli', '--', '--help');
    expect(again.stdout).toContain('Usage: passwordless-auth <command>');
    expect(again.stderr).toBe('');
    expect(builtAt()).toBe(first);

    // A changed source (saved a little later than the build) is built before the command runs.
    const later = Date.now() / 1000 + 5;
    utimesSync(join(copy.path, 'src/cli.ts'), later, later);
    const rebuilt = await npm('run', '--silent', 'cli', '--', '--help');
    expect(rebuilt.stderr).toContain('building dist/ (src/ changed since the last build)');
    expect(builtAt()).toBeGreaterThan(first);
    // The installed command is the same program: npx finds the package's own bin.
    const bin = await npm('exec', '--no', '--', 'passwordless-auth', 'user', 'add', '--help');
    expect(bin.stdout).toContain('Usage: passwordless-auth user add');
    // Two builds with tsc and five npm runs: 20–50 s on a busy 2-core machine.
  }, 180_000);
});
