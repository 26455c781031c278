// The real sidecar as a black box: `node dist/main.js` with a fresh SQLite file, and its admin CLI (in this process).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import { runCli } from '../../../src/cli.js';
import { REPO_ROOT, tempDir } from './paths.js';
import { freePort, type ManagedProcess, retryOnPortClash, startProcess, waitUntilReady } from './processes.js';

/** ENCRYPTION_KEYS and friends from the repository's public test keys. */
function testingEnv(): Record<string, string> {
  // One process: the suites through real proxies are not about workers (the hardening suites are).
  const env: Record<string, string> = { WORKERS: '1' };
  for (const line of readFileSync(join(REPO_ROOT, '.env.testing'), 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1] && match[2] !== undefined) env[match[1]] = match[2].trim();
  }
  return env;
}

export interface SidecarOptions {
  /** Absolute base URL of the login pages as the browser sees them, e.g. http://app.example.test:18080 */
  /** A URL, or one made from the port the sidecar gets (a single-host setup, where the browser talks to it directly). */
  readonly publicUrl: string | ((port: number) => string);
  readonly landingUrl: string | ((port: number) => string);
  readonly cookieDomain: string;
  readonly extraEnv?: Record<string, string>;
}

export interface CreatedUser {
  readonly id: string | number;
  readonly email: string;
  readonly totpSecret: string;
}

export interface RunningSidecar {
  readonly port: number;
  readonly process: ManagedProcess;
  /** Runs `passwordless-auth <args> --json` against the same database; returns its JSON answer. */
  cli(args: readonly string[]): Promise<Record<string, unknown>>;
  addUser(email: string, options?: { username?: string; admin?: boolean }): Promise<CreatedUser>;
  /** `policy apply` of this policy (groups, grants, rules; written as JSON, which is YAML): one CLI run. */
  applyPolicy(policy: unknown): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startSidecar(options: SidecarOptions): Promise<RunningSidecar> {
  return retryOnPortClash(() => startSidecarOnce(options));
}

async function startSidecarOnce(options: SidecarOptions): Promise<RunningSidecar> {
  const dir = tempDir('sidecar');
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_ENV: 'test',
    ...testingEnv(),
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: `sqlite:${join(dir.path, 'auth.db')}`,
    PUBLIC_URL: typeof options.publicUrl === 'function' ? options.publicUrl(port) : options.publicUrl,
    LANDING_URL: typeof options.landingUrl === 'function' ? options.landingUrl(port) : options.landingUrl,
    COOKIE_DOMAIN: options.cookieDomain,
    INSECURE_HTTP: 'true',
    TRUSTED_PROXIES: '127.0.0.1,::1',
    LOG_LEVEL: 'warn',
    ...options.extraEnv,
  };
  // cwd is the temp dir: the sidecar also reads a `.env` from its cwd, and a developer's own must not leak in.
  const proc = startProcess('sidecar', process.execPath, [join(REPO_ROOT, 'dist/main.js')], { env, cwd: dir.path });
  await waitUntilReady(proc, async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok, {
    what: 'healthy on /healthz',
    cleanup: dir.remove,
    timeoutInMs: 30_000,
  });

  // The CLI in this process, with the sidecar's environment and directory: these tests are about the proxies, and
  // the CLI as a process is tested in test/integration/cli.test.ts.
  const cli = async (args: readonly string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(
      [...args, '--json'],
      { stdout: { write: (text: string) => (stdout += text) }, stderr: { write: (text: string) => (stderr += text) } },
      { env, cwd: dir.path, terminal: false },
    );
    if (code !== 0) throw new Error(`cli ${args.join(' ')} failed with exit code ${code}:\n${stdout}\n${stderr}`);
    const line = stdout.trim().split('\n').filter(Boolean).at(-1) ?? '';
    return JSON.parse(line) as Record<string, unknown>;
  };

  return {
    port,
    process: proc,
    cli,
    async addUser(email, { username, admin } = {}) {
      const args = ['user', 'add', '--email', email];
      if (username) args.push('--username', username);
      if (admin) args.push('--admin');
      const created = await cli(args);
      if (typeof created.totpSecret !== 'string') throw new Error(`user add printed no totpSecret: ${JSON.stringify(created)}`);
      return { id: created.id as string | number, email, totpSecret: created.totpSecret };
    },
    async applyPolicy(policy) {
      const file = join(dir.path, `policy-${Date.now()}.yaml`);
      writeFileSync(file, JSON.stringify(policy, null, 2));
      return cli(['policy', 'apply', file]);
    },
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

/** The current TOTP code for a base32 secret (SHA-1, 6 digits, 30 s), as an authenticator app shows it. */
export async function totpCode(secret: string): Promise<string> {
  return generate({ secret });
}
