#!/usr/bin/env node
// Builds dist/ from src/ with tsc, only when it is missing or older than src/ (or tsconfig.json): `npm install`
// builds it once (the prepare script), and `npm start`, `npm run cli` and `npm test` start at once after that,
// rebuilding only after a change. `--force` builds regardless (`npm run build`). Without src/ (an installed
// package, or a Docker layer before the sources are copied) there is nothing to build and nothing is done.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
// Written after a successful build only: a build that failed its type check is built (and reported) again.
const stamp = join(root, 'dist/.built');

/** The newest modification time (ms) of the files under `dir`. */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

if (!existsSync(src)) process.exit(0);
const force = process.argv.includes('--force');
const complete = ['dist/main.js', 'dist/cli.js'].every((file) => existsSync(join(root, file)));
const built = complete && existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(newest(src), statSync(join(root, 'tsconfig.json')).mtimeMs);
if (!force && built >= changed) process.exit(0);

const tsc = join(root, 'node_modules/typescript/bin/tsc');
if (!existsSync(tsc)) {
  process.stderr.write('passwordless-auth: dist/ needs building and TypeScript is not installed: run `npm install` first.\n');
  process.exit(1);
}
if (!force)
  process.stderr.write(`passwordless-auth: building dist/ (${built === 0 ? 'first run' : 'src/ changed since the last build'})…\n`);
const started = Date.now();
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
if (result.status !== 0) process.exit(result.status ?? 1);
// Dated when the build began: a source saved while tsc ran is newer, and the next run builds again.
writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
utimesSync(stamp, started / 1000, started / 1000);
