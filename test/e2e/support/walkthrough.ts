// Walk-throughs in README.md and docs/ run as tests: the shell blocks are read out of the Markdown and run as
// written, in a fresh copy of the repository, with a newcomer's environment. A document whose shape no longer
// matches what its test expects fails loudly (WalkthroughShapeError) instead of being skipped or guessed at.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { REPO_ROOT, tempDir } from './paths.js';

const run = promisify(execFile);

export class WalkthroughShapeError extends Error {
  constructor(document: string, problem: string) {
    super(`${document} no longer has the shape its walk-through test expects: ${problem}. Update the test with the document.`);
  }
}

/**
 * The Markdown section whose heading line starts with `heading` (e.g. `## First steps`), up to the next heading
 * of the same or a higher level. Exactly one such heading must exist.
 */
export function markdownSection(markdown: string, document: string, heading: string): string {
  const lines = markdown.split('\n');
  const starts = lines.flatMap((line, i) => (line.startsWith(heading) ? [i] : []));
  if (starts.length !== 1) throw new WalkthroughShapeError(document, `expected one heading "${heading}…", found ${starts.length}`);
  const start = starts[0] as number;
  const level = /^#+/.exec(heading)?.[0].length ?? 0;
  let end = lines.length;
  let inFence = false;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\s*```/.test(line)) inFence = !inFence;
    const hashes = /^(#+) /.exec(line)?.[1]?.length;
    if (!inFence && hashes !== undefined && hashes <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start, end).join('\n');
}

/** The bodies of the ```sh blocks of a section, in order (indentation of list items removed). */
export function shellBlocks(section: string): string[] {
  const blocks: string[] = [];
  const pattern = /^([ \t]*)```sh\n([\s\S]*?)^\1```[ \t]*$/gm;
  for (const match of section.matchAll(pattern)) {
    const indent = match[1] ?? '';
    const body = (match[2] ?? '')
      .split('\n')
      .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
      .join('\n');
    blocks.push(body.replace(/\n$/, ''));
  }
  return blocks;
}

/** The commands of a block: backslash continuations joined, blank lines and whole-line comments left out. */
export function commandsOf(block: string): string[] {
  const commands: string[] = [];
  let current = '';
  for (const line of block.split('\n')) {
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      current += `${line}\n`;
      continue;
    }
    commands.push(current + line);
    current = '';
  }
  if (current !== '') commands.push(current);
  return commands;
}

/** The whole-line comments of a block, without the leading `# ` (where docs show what a command prints). */
export function commentsOf(block: string): string[] {
  return block
    .split('\n')
    .filter((line) => line.trim().startsWith('#'))
    .map((line) => line.trim().replace(/^#\s?/, ''));
}

/** Replaces each placeholder (e.g. `<service token>`), which must occur exactly `count` times. */
export function fillIn(document: string, command: string, values: ReadonlyArray<readonly [string, string, number?]>): string {
  let text = command;
  for (const [placeholder, value, count = 1] of values) {
    const found = text.split(placeholder).length - 1;
    if (found !== count) throw new WalkthroughShapeError(document, `expected ${count} × "${placeholder}" in: ${command}, found ${found}`);
    text = text.split(placeholder).join(value);
  }
  if (/<[a-z][^<>]*>/.test(text)) throw new WalkthroughShapeError(document, `a placeholder the test does not know in: ${text}`);
  return text;
}

/**
 * What a newcomer's shell has: PATH (without the node_modules/.bin that npx or vitest put in front), HOME and
 * the locale. Nothing of the test runner's own (NODE_ENV, LOG_LEVEL, npm_*, CI) reaches the commands.
 */
export function newcomerEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TERM', 'TMPDIR']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  env.PATH = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin')
    .split(':')
    .filter((dir) => dir !== '' && !dir.includes('node_modules'))
    .join(':');
  return { ...env, ...extra };
}

export interface Checkout {
  readonly path: string;
  remove(): void;
}

/**
 * A fresh copy of the repository as someone who cloned it has it: the tracked files (plus new files not yet
 * committed and not ignored, so a change under test is included), no dist/, no data/, no .env. node_modules is
 * hard-linked in first, so the walk-through's own `npm install` finds everything in place and is quick.
 */
export async function freshCheckout(): Promise<Checkout> {
  const dir = tempDir('checkout');
  // Readable for nginx's worker processes, which drop root privileges.
  chmodSync(dir.path, 0o755);
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: REPO_ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  // A node_modules symlink (a git worktree sharing another checkout's) is listed as an untracked file.
  for (const file of stdout.split('\0').filter((name) => name !== '' && name !== 'node_modules')) {
    const from = join(REPO_ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet committed
    mkdirSync(dirname(join(dir.path, file)), { recursive: true });
    copyFileSync(from, join(dir.path, file));
  }
  // The real directory, never a link to it: npm in the copy must not write into the repository's node_modules.
  await run('cp', ['-al', realpathSync(join(REPO_ROOT, 'node_modules')), join(dir.path, 'node_modules')]);
  // npm rewrites its hidden lockfile in place: a real copy, so the repository's own is never written through a link.
  const hidden = join(dir.path, 'node_modules/.package-lock.json');
  if (existsSync(hidden)) {
    rmSync(hidden);
    copyFileSync(realpathSync(join(REPO_ROOT, 'node_modules/.package-lock.json')), hidden);
  }
  return dir;
}

interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs one command with sh, as typed at a prompt. */
async function runCommand(command: string, options: { cwd: string; env: NodeJS.ProcessEnv; timeoutInMs?: number }): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run('sh', ['-c', command], {
      cwd: options.cwd,
      env: options.env,
      timeout: options.timeoutInMs ?? 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      stdout: failed.stdout ?? '',
      stderr: `${failed.stderr ?? ''}\n${failed.message}`,
    };
  }
}

/** Runs a command and returns its output, failing with everything it printed when it does not exit 0. */
export async function runOk(command: string, options: { cwd: string; env: NodeJS.ProcessEnv; timeoutInMs?: number }): Promise<string> {
  const result = await runCommand(command, options);
  if (result.code !== 0) throw new Error(`\`${command}\` exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

export interface Terminal {
  /** Everything the command printed so far (the tail). */
  output(): string;
  exited(): boolean;
  /** SIGTERM to the whole process group (what Ctrl-C in its terminal reaches), SIGKILL after a grace period. */
  stop(): Promise<void>;
}

// Last resort: a test worker that dies must not leave a walk-through's servers behind on their fixed ports.
const openGroups = new Set<number>();
process.once('exit', () => {
  for (const pgid of openGroups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

/**
 * A command that keeps running, as in its own terminal: `sh -c` in a process group of its own, so stopping it
 * also stops what it started (npm → sh → node). Resolves once `ready` says so; fails with its output if it
 * exits first or is not ready in time.
 */
export async function startInTerminal(
  command: string,
  options: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    ready: () => Promise<boolean>;
    what: string;
    timeoutInMs?: number;
    /** The port the command listens on: an answer counts only once this terminal's own process holds it. */
    port?: number;
  },
): Promise<Terminal> {
  const child = spawn('sh', ['-c', command], { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const append = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-32_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitedWith = signal ?? String(code);
      resolve();
    }),
  );
  const pgid = child.pid as number;
  const groupAlive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-pgid, name);
    } catch {
      // already gone
    }
  };
  const terminal: Terminal = {
    output: () => tail,
    exited: () => exitedWith !== undefined,
    async stop() {
      signal('SIGTERM');
      const deadline = Date.now() + 10_000;
      while ((exitedWith === undefined || groupAlive()) && Date.now() < deadline) await sleep(100);
      if (groupAlive()) signal('SIGKILL');
      await Promise.race([exited, sleep(5_000)]);
      openGroups.delete(pgid);
    },
  };
  openGroups.add(pgid);

  const deadline = Date.now() + (options.timeoutInMs ?? 60_000);
  // Another process that took the port after it was found free answers too: that is not this command serving.
  let foreign = '';
  const ours = (port: number) => {
    const holders = listenerPids(port);
    if (holders.length === 0 || holders.some((pid) => processGroupOf(pid) === pgid)) return true;
    foreign = ` Port ${port} is held by ${listenerOf(port)}.`;
    return false;
  };
  for (;;) {
    if (exitedWith !== undefined) {
      await terminal.stop();
      throw new Error(`\`${command}\` exited (${exitedWith}) before it was ${options.what}.${foreign} Output:\n${tail}`);
    }
    if ((await options.ready().catch(() => false)) && (options.port === undefined || ours(options.port))) return terminal;
    if (Date.now() > deadline) {
      await terminal.stop();
      throw new Error(`\`${command}\` was not ${options.what} after ${options.timeoutInMs ?? 60_000} ms.${foreign} Output:\n${tail}`);
    }
    await sleep(250);
  }
}

/** Whether something answers HTTP at this URL (any status). */
export async function answersHttp(url: string): Promise<boolean> {
  try {
    await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
    return true;
  } catch {
    return false;
  }
}

async function portIsFree(port: number): Promise<boolean> {
  // Listening with no address takes the port on every interface, IPv4 and IPv6, as `npm start` does.
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** The inodes of the TCP sockets listening on `port` (IPv4 and IPv6), from /proc/net (Linux). */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      // State 0A is LISTEN; the local address ends in the port, in hex.
      if (fields[3] === '0A' && local !== undefined && Number.parseInt(local.split(':').at(-1) ?? '', 16) === port && fields[9]) {
        inodes.add(fields[9]);
      }
    }
  }
  return inodes;
}

/** The processes listening on `port` that /proc lets this user see (none: free, or another user's). */
function listenerPids(port: number): string[] {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return [];
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    // not Linux
  }
  const holders: string[] = [];
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    const holds = fds.some((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        return inode !== undefined && inodes.has(inode);
      } catch {
        return false;
      }
    });
    if (holds) holders.push(pid);
  }
  return holders;
}

/** The process group of `pid` (the fifth field of /proc/<pid>/stat), or undefined once it has ended. */
function processGroupOf(pid: string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

/**
 * Who listens on `port`, for the message that says what is in the way: `pid 123 (node dist/main.js, in /path)`,
 * with a hint when it is a passwordless-auth server; `something` when /proc does not tell (another user's process).
 */
function listenerOf(port: number): string {
  for (const pid of listenerPids(port)) {
    let command = '';
    let cwd = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // it ended meanwhile, or is not ours to read
    }
    const sidecar = /\bdist\/(main|cli)\.js\b/.test(command)
      ? ': a passwordless-auth server, perhaps your own `npm start` (stop it with Ctrl-C in its terminal)'
      : '';
    return `pid ${pid} (${command || 'unknown command'}${cwd ? `, in ${cwd}` : ''})${sidecar}`;
  }
  return "something this user cannot see (another user's process?)";
}

/**
 * The walk-throughs listen on the fixed ports their documents name. If one is taken, say at once what holds it:
 * on a developer's machine the test skips with that reason straight away (a server left running from the README's
 * `npm start` is the usual case). Under CI the port may be held by a test that is finishing, so it waits up to
 * `waitInMs` (90 s) and then fails with the same reason. Returns the reason to skip, or undefined when every port
 * is free.
 */
export async function waitForPorts(
  what: string,
  ports: readonly number[],
  waitInMs = process.env.CI ? 90_000 : 0,
): Promise<string | undefined> {
  const deadline = Date.now() + waitInMs;
  for (;;) {
    const busy: number[] = [];
    for (const port of ports) if (!(await portIsFree(port))) busy.push(port);
    if (busy.length === 0) return undefined;
    if (Date.now() >= deadline) {
      const holders = busy.map((port) => `port ${port} is held by ${listenerOf(port)}`).join('; ');
      const waited = waitInMs > 0 ? ` (it stayed in use for ${waitInMs / 1000} s)` : '';
      const reason = `${what} needs port ${busy.join(', ')}, as its document says, and ${holders}${waited}`;
      if (process.env.CI) throw new Error(reason);
      console.warn(`[e2e] skipping: ${reason}`);
      return reason;
    }
    await sleep(1_000);
  }
}

export function readDocument(relativePath: string): string {
  return readFileSync(join(REPO_ROOT, relativePath), 'utf8');
}
