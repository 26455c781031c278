// The built server as a real process (the CLI that sets it up runs in this one): start on a free port, wait until healthy, keep every line of
// their output (for the audit and secret scans), stop with a signal and report how they ended.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseEnv } from 'node:util';
import { runCli } from '../../../src/cli.js';
import { freePort } from '../../e2e/support/processes.js';

const MAIN = new URL('../../../dist/main.js', import.meta.url).pathname;

/** `ENCRYPTION_KEYS` from `.env.testing`: the public test keys, never used anywhere real. */
export const TEST_ENCRYPTION_KEYS: string = (() => {
  const file = new URL('../../../.env.testing', import.meta.url).pathname;
  const value = parseEnv(readFileSync(file, 'utf8')).ENCRYPTION_KEYS;
  if (!value) throw new Error(`${file} has no ENCRYPTION_KEYS`);
  return value;
})();

function requireBuild(): void {
  if (!existsSync(MAIN)) throw new Error('dist/ is missing: run `npm run build` (npm test does it first)');
}

/** A working directory with no `.env` in it, so only the environment we pass counts. */
const WORKDIR = mkdtempSync(join(tmpdir(), 'pa-hardening-cwd-'));
process.once('exit', () => rmSync(WORKDIR, { recursive: true, force: true }));

/** Every child still running; killed if the test worker exits early, so no server outlives its test file. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * The environment every spawned process gets: nothing inherited but PATH and the test keys; one process (no
 * workers) unless a test asks for WORKERS, so the suites that are not about workers cost what they did.
 */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '', ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS, WORKERS: '1', ...extra };
}

export interface Server {
  readonly name: string;
  readonly port: number;
  readonly base: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Output lines that parse as JSON objects (pino's log lines). */
  logLines(): Record<string, unknown>[];
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILL after `graceInMs`. */
  stop(signal?: NodeJS.Signals, graceInMs?: number): Promise<number | string>;
}

/** Every server output of this test file, for the scans that look at all of it. */
export const allServers: Server[] = [];

export async function startServer(name: string, env: Record<string, string>): Promise<Server> {
  requireBuild();
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    cwd: WORKDIR,
    env: baseEnv({ HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let text = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8'); // decodes characters split across chunks correctly
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
  }
  const exited = new Promise<number | string>((resolve) => {
    // 'close', not 'exit': by then stdout and stderr are drained, so output() is complete.
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  let ended: number | string | undefined;
  void exited.then((e) => {
    ended = e;
  });
  const server: Server = {
    name,
    port,
    base: `http://127.0.0.1:${port}`,
    pid: child.pid as number,
    child,
    output: () => text,
    logLines: () => parseLogLines(text),
    exited,
    async stop(signal = 'SIGTERM', graceInMs = 10_000) {
      if (ended !== undefined) return ended;
      child.kill(signal);
      const result = await Promise.race([exited, sleep(graceInMs).then(() => undefined)]);
      if (result !== undefined) return result;
      child.kill('SIGKILL');
      return exited;
    },
  };
  allServers.push(server);
  // Healthy means listening; ready (database reachable and migrated) is for the tests to check.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (ended !== undefined) throw new Error(`${name} exited with ${ended} before it was healthy:\n${text}`);
    const ok = await fetch(`${server.base}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return server;
    await sleep(50);
  }
  await server.stop('SIGKILL');
  throw new Error(`${name} did not become healthy within 30 s:\n${text}`);
}

export function parseLogLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const value: unknown = JSON.parse(line);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) out.push(value as Record<string, unknown>);
    } catch {
      // not a log line
    }
  }
  return out;
}

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's --json output; tests state its shape with expectations
  json(): any;
}

/**
 * Runs `passwordless-auth --json ...args` against the database in `env`, in this process (the same command table
 * and wiring as dist/cli.js; the CLI as a process is tested in test/integration/cli.test.ts): the servers here are
 * the processes under test, the CLI only sets them up and leaves its audit lines.
 */
export async function cli(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['--json', ...args],
    { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } },
    { env: baseEnv({ LOG_LEVEL: 'info', ...env }), cwd: WORKDIR, terminal: false },
  );
  return {
    code,
    stdout,
    stderr,
    json: () => {
      try {
        return JSON.parse(stdout);
      } catch {
        throw new Error(`cli ${args.join(' ')} printed no JSON (exit ${code}):\n${stdout}\n${stderr}`);
      }
    },
  };
}

/** Like `cli`, but fails with the output unless the command succeeded. */
// biome-ignore lint/suspicious/noExplicitAny: see CliResult.json
export async function cliOk(env: Record<string, string>, ...args: string[]): Promise<any> {
  const r = await cli(env, ...args);
  if (r.code !== 0) throw new Error(`cli ${args.join(' ')} failed with ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.json();
}

/** Polls `check` until it is true or `timeoutInMs` passes; returns whether it became true. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutInMs: number, everyInMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutInMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyInMs);
  }
}

/** The resident set size of a process in bytes, from /proc (Linux). */
export function rssInBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}
