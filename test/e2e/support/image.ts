// The container image built by .ci/image, run without a Docker engine: buildah's working containers with chroot
// isolation (the host's network, no daemon), the vfs storage driver, as root.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { REPO_ROOT } from './paths.js';
import { type ManagedProcess, startProcess } from './processes.js';
import { binary, pathOf, type Requirement } from './requirements.js';

const run = promisify(execFile);
const STORAGE = ['--storage-driver', 'vfs'];
export const buildahBinary = binary('buildah');

/** buildah with this project's storage options; the result's stdout, or an error with everything it printed. */
async function buildah(args: readonly string[], timeoutInMs = 120_000): Promise<string> {
  try {
    const { stdout } = await run(pathOf(buildahBinary), [...STORAGE, ...args], { timeout: timeoutInMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`buildah ${args.join(' ')} failed: ${failed.message}\n${failed.stdout ?? ''}\n${failed.stderr ?? ''}`);
  }
}

/** buildah needs root here (chroot isolation and vfs storage as root). */
export function rootUser(): Requirement {
  return { name: 'root', path: process.getuid?.() === 0 ? '/' : undefined, hint: 'run as root: buildah --isolation chroot needs it' };
}

/**
 * Builds the image (.ci/image: the base once, then `buildah bud` with cached steps) and returns its name; or the
 * name in PASSWORDLESS_AUTH_IMAGE, which .ci/run sets after building it just before the tests.
 */
export async function buildImage(): Promise<string> {
  const built = process.env.PASSWORDLESS_AUTH_IMAGE;
  if (built) return built;
  try {
    const { stdout } = await run(`${REPO_ROOT}/.ci/image`, [], { cwd: REPO_ROOT, timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 });
    const name = stdout.trim().split('\n').at(-1) ?? '';
    if (name === '') throw new Error('.ci/image printed no image name');
    return name;
  } catch (error) {
    const failed = error as { stderr?: string; message: string };
    throw new Error(`.ci/image failed: ${failed.message}\n${(failed.stderr ?? '').slice(-8_000)}`);
  }
}

/** The parts of the image's Docker config the tests use. */
export interface ImageConfig {
  readonly entrypoint: string[];
  readonly cmd: string[];
  readonly user: string;
  readonly env: Record<string, string>;
  readonly workingDir: string;
  readonly volumes: string[];
  readonly exposedPorts: string[];
  readonly healthcheck: string[];
}

export async function imageConfig(image: string): Promise<ImageConfig> {
  const inspected = JSON.parse(await buildah(['inspect', '--type', 'image', image])) as {
    Docker: {
      config: {
        Entrypoint?: string[] | null;
        Cmd?: string[] | null;
        User?: string;
        Env?: string[] | null;
        WorkingDir?: string;
        Volumes?: Record<string, unknown> | null;
        ExposedPorts?: Record<string, unknown> | null;
        Healthcheck?: { Test?: string[] } | null;
      };
    };
  };
  const config = inspected.Docker.config;
  return {
    entrypoint: config.Entrypoint ?? [],
    cmd: config.Cmd ?? [],
    user: config.User ?? '',
    env: Object.fromEntries((config.Env ?? []).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])),
    workingDir: config.WorkingDir ?? '',
    volumes: Object.keys(config.Volumes ?? {}),
    exposedPorts: Object.keys(config.ExposedPorts ?? {}),
    healthcheck: config.Healthcheck?.Test ?? [],
  };
}

interface RunOptions {
  readonly env?: Record<string, string>;
  /** host:container[:ro] bind mounts. */
  readonly volumes?: readonly string[];
}

/** A working container from the image: `docker run` without the engine. Remove it with `remove()`. */
export interface Container {
  readonly id: string;
  /** Starts a long-running command (the entry point) in the container. */
  start(command: readonly string[], options?: RunOptions): ManagedProcess;
  /** Runs a command to its end: exit code and output (`docker exec`, or `docker run --rm` with a command). */
  exec(command: readonly string[], options?: RunOptions): Promise<{ code: number; stdout: string; stderr: string }>;
  /** The container's root file system on the host, mounted until `remove()`. */
  mount(): Promise<string>;
  remove(): Promise<void>;
}

function runArgs(id: string, command: readonly string[], options: RunOptions = {}): string[] {
  const args = [...STORAGE, 'run', '--isolation', 'chroot', '--network', 'host'];
  for (const [name, value] of Object.entries(options.env ?? {})) args.push('--env', `${name}=${value}`);
  for (const volume of options.volumes ?? []) args.push('--volume', volume);
  return [...args, id, '--', ...command];
}

export async function createContainer(image: string, options: { addHosts?: readonly string[] } = {}): Promise<Container> {
  const name = `pwl-e2e-${randomBytes(4).toString('hex')}`;
  const hosts = (options.addHosts ?? []).flatMap((entry) => ['--add-host', entry]);
  const id = (await buildah(['from', '--pull=never', '--name', name, ...hosts, image])).trim().split('\n').at(-1) ?? name;
  const started = new Set<ManagedProcess>();
  return {
    id,
    start(command, runOptions) {
      const proc = startProcess(`container ${name}`, pathOf(buildahBinary), runArgs(id, command, runOptions), {
        group: true,
        graceInMs: 10_000,
      });
      started.add(proc);
      return proc;
    },
    exec(command, runOptions) {
      return new Promise((resolve) => {
        execFile(
          pathOf(buildahBinary),
          runArgs(id, command, runOptions),
          { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
          (error, stdout, stderr) => {
            const code = error
              ? typeof (error as { code?: unknown }).code === 'number'
                ? Number((error as { code: number }).code)
                : -1
              : 0;
            resolve({ code, stdout, stderr });
          },
        );
      });
    },
    async mount() {
      return (await buildah(['mount', id])).trim();
    },
    async remove() {
      for (const proc of started) await proc.stop();
      await buildah(['umount', id]).catch(() => undefined);
      await buildah(['rm', id]);
    },
  };
}
