// Child processes for the e2e tests: start, wait until ready, keep the tail of their output for failure
// messages, and stop them (also when the test worker exits early).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const OUTPUT_TAIL_IN_CHARS = 16_000;

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last few kilobytes of stdout and stderr, interleaved. */
  output(): string;
  /** Exit code or signal once the process has ended, otherwise undefined. */
  exited(): string | undefined;
  stop(): Promise<void>;
}

/** Each running process with the way to signal it (its whole group, where it has one). */
const running = new Map<ManagedProcess, (signal: NodeJS.Signals) => void>();

// Last resort: a crashed test file must not leave nginx, caddy or a container behind on the machine.
process.once('exit', () => {
  for (const signal of running.values()) signal('SIGKILL');
});

/**
 * Starts `command`, keeping the tail of its output. With `group`, it runs in a process group of its own and every
 * signal goes to the whole group (a command that starts helpers, like `buildah run`, as `docker stop` signals a
 * container's processes); `graceInMs` is how long `stop` waits after SIGTERM before SIGKILL.
 */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; group?: boolean; graceInMs?: number } = {},
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group === true,
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (options.group && child.pid !== undefined) process.kill(-child.pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  let tail = '';
  const append = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL_IN_CHARS);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitedWith: string | undefined;
  const ended = new Promise<void>((resolve) => {
    child.on('error', (error) => {
      exitedWith = `spawn error: ${error.message}`;
      resolve();
    });
    child.on('exit', (code, sig) => {
      exitedWith = sig ?? String(code);
      resolve();
    });
  });

  const managed: ManagedProcess = {
    name,
    child,
    output: () => tail,
    exited: () => exitedWith,
    async stop() {
      running.delete(managed);
      if (exitedWith === undefined) {
        signal('SIGTERM');
        const stopped = await Promise.race([ended.then(() => true), sleep(options.graceInMs ?? 5_000).then(() => false)]);
        if (!stopped) {
          signal('SIGKILL');
          await ended;
        }
      }
      // In a group, a helper may outlive the command for a moment: the group goes with it.
      if (options.group) signal('SIGKILL');
    },
  };
  running.set(managed, signal);
  return managed;
}

/**
 * Polls `ready` until it returns true; fails early, with the process output, if the process dies. On failure
 * the process is stopped and `cleanup` runs (e.g. removing its temp dir).
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  options: { timeoutInMs?: number; what?: string; cleanup?: () => void } = {},
): Promise<void> {
  try {
    await poll(proc, ready, options);
  } catch (error) {
    await proc.stop();
    options.cleanup?.();
    throw error;
  }
}

async function poll(
  proc: ManagedProcess,
  ready: () => Promise<boolean>,
  { timeoutInMs = 20_000, what = 'ready' }: { timeoutInMs?: number; what?: string },
): Promise<void> {
  const deadline = Date.now() + timeoutInMs;
  while (Date.now() < deadline) {
    const exit = proc.exited();
    if (exit !== undefined) {
      throw new Error(`${proc.name} exited (${exit}) before it was ${what}. Output:\n${proc.output()}`);
    }
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${proc.name} was not ${what} after ${timeoutInMs} ms. Output:\n${proc.output()}`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Holds a free port on 127.0.0.1 until `release()`, so nothing else takes it while a test starts the services
 * that must know it in advance (the sidecar's PUBLIC_URL names the proxy's port).
 */
export async function reservePort(): Promise<{ port: number; release(): Promise<void> }> {
  const server = createServer();
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (!address || typeof address !== 'object') throw new Error('no port');
  return { port: address.port, release: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** Runs `start` again (up to `attempts` times) when it failed because a just-chosen port was taken meanwhile. */
export async function retryOnPortClash<T>(start: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      const clash = /EADDRINUSE|address already in use|Address already in use/i.test(String(error));
      if (!clash || attempt >= attempts) throw error;
    }
  }
}
