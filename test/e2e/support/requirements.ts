// What an e2e file needs from the machine (nginx, caddy, traefik, chromium, a built sidecar), and the one rule for
// when it is missing: skip with a message on a developer's machine, fail in CI (process.env.CI set).
import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { it } from 'vitest';
import { REPO_ROOT } from './paths.js';

export interface Requirement {
  readonly name: string;
  /** Absolute path when present. */
  readonly path: string | undefined;
  /** What to do about it when missing. */
  readonly hint: string;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function binary(name: string, hint = `apt-get install ${name}`): Requirement {
  const dirs = (process.env.PATH ?? '').split(delimiter).concat(['/usr/sbin', '/usr/bin', '/usr/local/bin']);
  const found = dirs.map((dir) => join(dir, name)).find(isExecutable);
  return { name, path: found, hint };
}

export const chromiumBinary = (): Requirement => {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return { name: 'chromium', path: isExecutable(fromEnv) ? fromEnv : undefined, hint: 'CHROMIUM_PATH' };
  return binary('chromium');
};

/**
 * Traefik is not packaged for Debian: `.ci/traefik` builds it from its Go module into .cache/traefik/<version>/
 * (several minutes; `.ci/run` does it before the tests and sets TRAEFIK_BIN). The tests only look for it.
 */
export function traefikBinary(): Requirement {
  const hint = 'build it with .ci/traefik (needs Go, takes minutes) or set TRAEFIK_BIN';
  const fromEnv = process.env.TRAEFIK_BIN;
  if (fromEnv)
    return { name: 'traefik', path: isExecutable(fromEnv) ? fromEnv : undefined, hint: `TRAEFIK_BIN=${fromEnv} is not executable` };
  try {
    // --cached: the path of an already-built binary, or exit 1 without building.
    const path = execFileSync(join(REPO_ROOT, '.ci/traefik'), ['--cached'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return { name: 'traefik', path: isExecutable(path) ? path : undefined, hint };
  } catch {
    return { name: 'traefik', path: undefined, hint };
  }
}

export function builtSidecar(): Requirement {
  const main = join(REPO_ROOT, 'dist/main.js');
  const cli = join(REPO_ROOT, 'dist/cli.js');
  return {
    name: 'dist/main.js and dist/cli.js',
    path: existsSync(main) && existsSync(cli) ? main : undefined,
    hint: 'npm run build',
  };
}

/** The path of a requirement the caller has checked is present (runs inside tests that were not skipped). */
export function pathOf(requirement: Requirement): string {
  if (requirement.path === undefined) throw new Error(`${requirement.name} is missing (${requirement.hint})`);
  return requirement.path;
}

/**
 * Registers a test that fails in CI when something is missing, and returns whether the caller should skip.
 * Use as `const skip = requirementsGate('nginx', [...]); describe.skipIf(skip)(...)`.
 */
export function requirementsGate(label: string, requirements: readonly Requirement[]): boolean {
  const missing = requirements.filter((requirement) => requirement.path === undefined);
  const inCi = Boolean(process.env.CI);
  if (missing.length > 0) {
    const list = missing.map((requirement) => `${requirement.name} (${requirement.hint})`).join(', ');
    if (inCi) {
      it(`${label}: everything it needs is installed`, () => {
        throw new Error(`CI must not skip ${label}; missing: ${list}`);
      });
    } else {
      console.warn(`[e2e] skipping ${label}: missing ${list}`);
    }
  }
  return missing.length > 0;
}
