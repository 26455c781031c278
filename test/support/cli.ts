// The admin CLI in the test's own process: the same command table and wiring as `passwordless-auth`, with the
// environment and working directory given, output captured. For tests about what a command does; the few about
// the process itself (exit status, stderr, no stack trace) run dist/cli.js.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli.js';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  // biome-ignore lint/suspicious/noExplicitAny: assertion input, checked by the expectations that use it
  json(): any;
}

let empty: string | undefined;
/** An empty working directory: no `.env` of the developer's reaches the commands. */
const emptyDirectory = (): string => {
  empty ??= mkdtempSync(join(tmpdir(), 'pa-cli-'));
  return empty;
};

export async function runCliInProcess(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = emptyDirectory(),
): Promise<CliResult> {
  let out = '';
  let err = '';
  const code = await runCli(
    args,
    { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } },
    { env, cwd, terminal: false },
  );
  return { code, out, err, json: () => JSON.parse(out) };
}
