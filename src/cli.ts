#!/usr/bin/env node
// The admin command line: the same wiring as main.ts, no HTTP. Text for people, --json for scripts. The commands
// are the entries of cli/commands.ts; cli/command.ts runs them.
import { type Io, runCommands, type Surroundings } from './cli/command.js';
import { COMMANDS } from './cli/commands.js';
import { isEntryPoint } from './runtime.js';

/** Runs one command line; `surroundings` (environment, working directory, terminal) default to the process's own. */
export function runCli(
  argv: readonly string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
  surroundings?: Surroundings,
): Promise<number> {
  return runCommands(COMMANDS, argv, io, surroundings);
}

if (isEntryPoint(import.meta.url)) {
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
